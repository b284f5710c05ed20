#!/usr/bin/env python
"""1:1 crops for the README: original | VVC half + bicubic | sggic default | Real-ESRGAN.

    .venv/bin/python scripts/figure_generative.py --photos data/photos.tsv

Reads the files and decoded images that scripts/eval_generative.py cached (run it first),
decodes the sggic files with Real-ESRGAN where that is not cached yet, and writes one PNG
per rate (docs/generative-crops-<rate>.png): a row per photo, a column per method, each
crop CROP x CROP pixels of the 512x512 image at 1:1 (no resampling). The crop is the
window with the most gradient energy in the original (a deterministic choice: where
texture is, the methods differ most).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CROP = 192
LABEL_H = 18


def busiest_window(rgb: np.ndarray, size: int, step: int = 32) -> tuple[int, int]:
    g = rgb.astype(np.float32).mean(axis=2)
    e = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1, :]
    best, where = -1.0, (0, 0)
    for y in range(0, e.shape[0] - size + 1, step):
        for x in range(0, e.shape[1] - size + 1, step):
            v = float(e[y:y + size, x:x + size].mean())
            if v > best:
                best, where = v, (y, x)
    return where


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=str(ROOT / "data/photos.tsv"), help="only to check the ids are dev photos")
    ap.add_argument("--ids", default="BytheWater,Path,greentock")
    ap.add_argument("--rates", default="0.02,0.03")
    ap.add_argument("--cache", default=str(ROOT / "runs/eval-generative2"))
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)

    from PIL import Image, ImageDraw

    from sggic.pipeline import decode_detailed
    from sggic.restore.registry import get_restorer
    from sggic.photos import read_photos

    dev = {p.id for p in read_photos(args.photos, split="dev")}
    ids = args.ids.split(",")
    if not set(ids) <= dev:
        raise SystemExit(f"not dev photos: {sorted(set(ids) - dev)}")
    cache = Path(args.cache)
    esrgan = None
    cols = ("original", "VVC half + bicubic", "sggic default", "Real-ESRGAN")
    for rate in args.rates.split(","):
        sheet = Image.new("RGB", (len(cols) * CROP + (len(cols) - 1) * 4, len(ids) * (CROP + LABEL_H)), "white")
        draw = ImageDraw.Draw(sheet)
        for r, pid in enumerate(ids):
            ref = np.asarray(Image.open(cache / f"{pid}-ref.png").convert("RGB"))
            esr_path = cache / f"{pid}-{rate}-sggic_realesrgan.png"
            if not esr_path.exists():
                esrgan = esrgan or get_restorer("realesrgan")
                img = decode_detailed(cache / f"{pid}-{rate}.sgc", restorer=esrgan).image
                img.save(esr_path)
                print(f"decoded {esr_path.name}", flush=True)
            imgs = [ref] + [np.asarray(Image.open(cache / f"{pid}-{rate}-{slug}.png").convert("RGB"))
                            for slug in ("VVC_half_bicubic", "sggic_default", "sggic_realesrgan")]
            y, x = busiest_window(ref, CROP)
            for c, (img, name) in enumerate(zip(imgs, cols)):
                x0, y0 = c * (CROP + 4), r * (CROP + LABEL_H)
                sheet.paste(Image.fromarray(img[y:y + CROP, x:x + CROP]), (x0, y0 + LABEL_H))
                draw.text((x0 + 3, y0 + 3), f"{name}" + (f" ({pid})" if c == 0 else ""), fill="black")
        out = Path(args.out) / f"generative-crops-{rate}.png"
        sheet.save(out, optimize=True)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
