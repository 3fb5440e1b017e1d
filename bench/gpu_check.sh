#!/usr/bin/env bash
# Issue 14's GPU figures in one run (one H100/H200-class GPU, 16 CPU cores; about 8 minutes),
# everything written to $OUT (default ./gpu_check_out):
#   1. bench_input.py: resnet50 and vgg16 at batch 256, on 10,000 JPEGs around 500x375 made on
#      the fly: loader alone, real, synthetic, ratio real/synthetic (goal >= 0.95), the stall
#      at the epoch boundary (goal: under one step)
#   2. bench_train.py --precision-compare: fp32 against the default (bf16 + channels-last) for
#      resnet50 (batch 256) and vgg16 (batch 64) (goal >= 1.8x)
#   3. cnnexplorer train vgg16 --gpu 0 on a JPEG ImageFolder (10 classes) for 300 steps: the
#      loss should fall; img/s from its step events
#
# The device machine has torch and torchvision but not the app's other dependencies. Build a
# wheels/ folder in the repository root on a machine with network access first (an untracked
# folder travels with the working tree; if it is git-ignored, name it in the tool's carry):
#   pip download --only-binary=:all: --python-version 3.11 -d wheels torchinfo plotext textual
#   (or: pip wheel -w wheels torchinfo plotext textual; match the device's Python version)
# then, with the device tool:
#   run(command="bash bench/gpu_check.sh", timeout_s=590)
set -uo pipefail
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
log() { echo "== $* ($(date +%T))" | tee -a "$OUT/summary.txt"; }

log "setup"
if [ -d wheels ]; then
  pip install -q --no-index --find-links wheels/ torchinfo plotext textual >"$OUT/pip.txt" 2>&1 || true
fi
pip install -q --no-deps --no-build-isolation -e . >>"$OUT/pip.txt" 2>&1 || export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1
python -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.get_device_name(0))" \
  | tee -a "$OUT/summary.txt"

IMAGES=$(mktemp -d)/images
log "bench_input resnet50,vgg16 (makes $IMAGES)"
python - "$IMAGES" <<'EOF' 2>&1 | tee -a "$OUT/summary.txt"
import os, sys, time
sys.path.insert(0, "bench")
from pathlib import Path
from bench_input import make_image_folder
started = time.perf_counter()
make_image_folder(Path(sys.argv[1]), 10_000, 500, 375, os.cpu_count() or 1)
print(f"made 10000 JPEGs in {time.perf_counter() - started:.1f} s")
EOF
timeout 240 python bench/bench_input.py --folder "$IMAGES" --images 10000 --model resnet50,vgg16 --batch 256 \
  --device cuda --steps 30 2>&1 | tee "$OUT/bench_input.txt" | tee -a "$OUT/summary.txt"

log "bench_train fp32 vs default"
timeout 90 python bench/bench_train.py --precision-compare --device cuda --model resnet50 --batch 256 \
  --steps 15 --warmup 3 --rounds 2 2>&1 | tee "$OUT/bench_train_resnet50.txt" | tail -3 | tee -a "$OUT/summary.txt"
timeout 90 python bench/bench_train.py --precision-compare --device cuda --model vgg16 --batch 64 \
  --steps 15 --warmup 3 --rounds 2 2>&1 | tee "$OUT/bench_train_vgg16.txt" | tail -3 | tee -a "$OUT/summary.txt"

log "cnnexplorer train vgg16 --gpu 0, 300 steps on the JPEGs"
timeout 150 python -m cnnexplorer train vgg16 --gpu 0 --data "$IMAGES" --max-steps 300 --batch-size 64 \
  --log-every 20 --seed 0 --output "$OUT/runs" >"$OUT/train_vgg16.txt" 2>&1
echo "exit $?" >>"$OUT/train_vgg16.txt"
grep -E "precision|decode|step (20|100|200|300)/|val:|done|error|exit" "$OUT/train_vgg16.txt" | tee -a "$OUT/summary.txt"
python - "$OUT/runs" <<'EOF' 2>&1 | tee -a "$OUT/summary.txt"
import json, statistics, sys
from pathlib import Path
for events in Path(sys.argv[1]).glob("*/events.jsonl"):
    steps = [json.loads(line) for line in events.read_text().splitlines()]
    steps = [e for e in steps if e["event"] == "step"]
    if steps:
        print(f"loss {steps[0]['loss']:.3f} (step {steps[0]['step']}) -> {steps[-1]['loss']:.3f} (step {steps[-1]['step']}); "
              f"median {statistics.median(e['img_per_s'] for e in steps[1:] or steps):.0f} img/s, "
              f"median data wait {1000 * statistics.median(e['data_time'] for e in steps):.0f} ms/step")
EOF
log "cnnexplorer profile: resnet50, vgg16, densenet121 in bf16 (autocast), channels_last; inference and training"
# Per-layer tables and JSON documents in $OUT/profile/; the whole-model lines beside published
# figures (NVIDIA's ResNet-50 v1.5 on one A100-80GB: 2,470 img/s training with AMP; timm's
# RTX 4090 inference at batch 1024 AMP: resnet50 4,303, vgg16 2,236, densenet121 3,631 img/s).
timeout 120 python -m cnnexplorer profile resnet50 --device cuda --precision bf16 --channels-last --batch 256 \
  --steps 10 --remeasure-peaks >"$OUT/profile_cli_resnet50.txt" 2>&1
echo "exit $?" >>"$OUT/profile_cli_resnet50.txt"
grep -E "^peaks|^whole model|^peak memory|exit" "$OUT/profile_cli_resnet50.txt" | tee -a "$OUT/summary.txt"
timeout 150 python bench/bench_profile.py --device cuda --precision bf16 --channels-last --batch 256 --steps 10 \
  --models resnet50,vgg16,densenet121 --mode inference --layers --out "$OUT/profile" 2>"$OUT/profile_inference.err" \
  | tee "$OUT/profile_inference.txt" | tee -a "$OUT/summary.txt"
timeout 180 python bench/bench_profile.py --device cuda --precision bf16 --channels-last --batch 128 --steps 10 \
  --models resnet50,vgg16,densenet121 --mode training --layers --out "$OUT/profile" 2>"$OUT/profile_training.err" \
  | tee "$OUT/profile_training.txt" | tee -a "$OUT/summary.txt"
grep -h -E "error|Error" "$OUT/profile_inference.err" "$OUT/profile_training.err" | tee -a "$OUT/summary.txt"
log "done"
