"""The built-in data set readers, one module by what they read: ``image_folders`` (AwA2's
layout, a folder of class folders with a CSV), ``benchmarks`` (the field's image benchmarks in
their download layouts), ``features`` (precomputed features); ``image_split`` holds what the
image readers share. Each reader module registers its readers with its own hook
(``DEFAULT_PLUGINS`` lists them)."""
