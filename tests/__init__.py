"""zsk's tests: a package, so that test helpers import as ``tests.…`` from the repository root."""
