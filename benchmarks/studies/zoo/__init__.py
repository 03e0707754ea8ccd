"""The evaluation zoo: data sets zsk was never tuned on, baselines, and the benchmark driver."""
