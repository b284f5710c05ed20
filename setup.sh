#!/usr/bin/env bash
# One command that sets sggic up on a fresh Debian machine: system packages, then the
# virtual environment .venv in this checkout with sggic installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")"

# Debian wallpaper packages hold the train/dev photos listed in data/photos.tsv (column
# debian_package; used by benchmarks and training, not by the tests).
APT_PACKAGES=$(tail -n +2 data/photos.tsv | cut -f3 | sort -u | tr '\n' ' ')
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    missing=""
    for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
    fi
else
    echo "setup.sh: no apt-get; install $APT_PACKAGES yourself for the benchmark photos" >&2
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Everything, the full profile's packages included (torch 2.14.1 + torchvision 0.29.1, as
# CompressAI needs torchvision; ~5 GB), so that the tests run the full profile on tiny models.
.venv/bin/python -m pip install -q -e '.[bench,test,vlm,cluster,full]'
.venv/bin/python -m pip install -q --no-deps -r requirements-assets.txt
.venv/bin/python -m pip install -q --no-deps -r requirements-full.txt
echo "sggic is set up: .venv/bin/sggic --help"
