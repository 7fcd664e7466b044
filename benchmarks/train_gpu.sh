#!/usr/bin/env bash
# The train stage's GPU check (issue #14), as one prepared run on a GPU machine:
# images/s at 256 px with pix2pix's full-width networks (bf16, channels_last), peak GPU memory, and the step
# time with the real shard loader against batches already in GPU memory (the ratio must be at most 1.1),
# without and with torch.compile.
#
# Needs a python3 with CUDA torch, numpy, pillow, opencv-python-headless and pyyaml (the H200 machine's has
# them) and the demo split, built here first and carried:
#   .venv/bin/python -m benchmarks.corpus_shards --posts 600 --size 256 --out bench-out/split-600-256
#   device run: command "bash benchmarks/train_gpu.sh", carry ["bench-out/split-600-256"], timeout_s 480
# Results go to $OUT/train_gpu.jsonl (one JSON line per measurement) and stdout.
set -euo pipefail
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
OUT="${OUT:-bench-out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
test -d bench-out/split-600-256/train || "$PY" -m benchmarks.corpus_shards --posts 600 --size 256 \
    --out bench-out/split-600-256
timeout 420 "$PY" -m benchmarks.train --device cuda --profile gpu --steps 60 --warmup 15 --compile \
    | tee "$OUT/train_gpu.jsonl"
