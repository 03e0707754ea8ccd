"""zsk's benchmarks: speed (``benchmarks.speed``) and quality studies (``benchmarks.studies``).

Run from the repository root as modules, e.g. ``python -m benchmarks.speed.bench_overhead``.
"""
