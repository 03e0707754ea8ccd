"""Files on disk: atomic writes and the run directory's lock."""
