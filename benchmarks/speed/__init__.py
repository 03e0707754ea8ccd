"""Speed benchmarks: each prints its table, and has a ``--quick`` mode for the test suite."""
