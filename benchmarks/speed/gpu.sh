#!/usr/bin/env bash
# Training throughput of the paper configuration (128x128, batch 64) on the GPU of this machine:
# fp32 eager, bf16 + channels_last, bf16 + channels_last + torch.compile; images/s, peak memory
# and model FLOPs utilisation against a measured bf16 matmul peak.
#
#   benchmarks/speed/gpu.sh                 # on a GPU (a few minutes, most of it compiling)
#   benchmarks/speed/gpu.sh --quick         # reduced CPU mode: 32 px, fp32 only, two steps
#   benchmarks/speed/gpu.sh --json out.json # also write the table as JSON
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec "$PYTHON" -m benchmarks.speed.bench_gpu "$@"
