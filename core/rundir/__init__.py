"""A run directory: its files, and the validation run made from a run."""
