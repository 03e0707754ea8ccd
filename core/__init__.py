"""zsk's machinery: component interfaces, specs, the composer, data, training, evaluation, CLI.

Nothing here names a concrete component; every network, loss and data set comes from the
component registry (:mod:`zsk.registry`).
"""
