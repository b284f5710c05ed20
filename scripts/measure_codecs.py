#!/usr/bin/env python
"""Measure the base codecs on the dev photos: bytes saved, timings, libvvenc presets.

The numbers in docs/codecs.md are reproducible with one command::

    .venv/bin/python scripts/measure_codecs.py [--photos FILE] [--presets faster,fast,medium,slow]

Test images: each `dev` photo of the photo list (default data/photos.tsv) preprocessed as
the benchmark does (short side to 512, centre 512x512 crop: ``sggic.photos.preprocess``),
then downsampled 2x to 256x256 exactly as the encoder does
(``sggic.codecs._pixels.downsample2x``): the half-resolution base layer the pipeline
codes. BD-rate is the project's one (``sggic.bench.bdrate``). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sggic.bench.bdrate import bd_rate  # noqa: E402
from sggic.codecs import get_codec  # noqa: E402
from sggic.codecs._pixels import downsample2x  # noqa: E402
from sggic.codecs.vvc import PRESET, PRESETS, VVCCodec, template_parameter_sets  # noqa: E402
from sggic.photos import load_photo, preprocess, read_photos, require_installed  # noqa: E402


def dev_images(tsv: Path | None) -> dict[str, np.ndarray]:
    """The dev photos' base layers as (256, 256, 3) uint8 arrays, keyed by id."""
    photos = require_installed(read_photos(tsv, split="dev"))
    return {p.id: downsample2x(preprocess(load_photo(p))) for p in photos}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def measure_vvc(images: dict[str, np.ndarray], qps: range, presets: tuple[str, ...]) -> None:
    print(f"## VVC, {len(images)} dev photos at 256x256, qp {qps.start}..{qps.stop - 1}\n")
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    print("| preset | mean .266 bytes | mean payload bytes | mean saved | encode s (mean) | decode s (mean) |")
    print("|---|---|---|---|---|---|")
    per_qp: dict[int, list[tuple[int, int]]] = {q: [] for q in qps}
    for preset in presets:
        codec = VVCCodec(preset)
        raw_sizes, sizes, t_enc, t_dec = [], [], [], []
        curves[preset] = {name: [] for name in images}
        for name, img in images.items():
            for qp in qps:
                template_parameter_sets(256, 256, qp, preset)  # not part of the encode timing
                t0 = time.perf_counter()
                stream = codec.annexb_stream(img, qp)
                payload = codec.compact(stream, 256, 256, qp)
                t1 = time.perf_counter()
                out = codec.decode(payload, 256, 256, qp)
                t2 = time.perf_counter()
                raw_sizes.append(len(stream))
                sizes.append(len(payload))
                t_enc.append(t1 - t0)
                t_dec.append(t2 - t1)
                curves[preset][name].append((len(payload), psnr(img, out)))
                if preset == PRESET:
                    per_qp[qp].append((len(stream), len(payload)))
        print(
            f"| {preset} | {np.mean(raw_sizes):.1f} | {np.mean(sizes):.1f} | "
            f"{np.mean(raw_sizes) - np.mean(sizes):.1f} | {np.mean(t_enc):.3f} | {np.mean(t_dec):.3f} |"
        )
    print(f"\nBytes per qp ({PRESET}, the default; mean over photos):\n")
    print("| qp | .266 | payload | saved | saved % |")
    print("|---|---|---|---|---|")
    for qp in qps:
        raw = np.mean([r for r, _ in per_qp[qp]])
        pay = np.mean([p for _, p in per_qp[qp]])
        print(f"| {qp} | {raw:.1f} | {pay:.1f} | {raw - pay:.1f} | {100 * (raw - pay) / raw:.1f} |")
    ref = "medium" if "medium" in presets else presets[-1]
    print(f"\nBD-rate vs {ref} (payload bytes at equal PSNR; negative = smaller files):\n")
    for preset in presets:
        rates = [bd_rate(curves[ref][n], curves[preset][n])[0] for n in images]
        shown = ", ".join("n/a" if math.isnan(r) else f"{r:+.1f}" for r in rates)
        print(f"- {preset}: mean {np.nanmean(rates):+.1f} % (per photo: {shown})")
    t0 = time.perf_counter()
    template_parameter_sets.cache_clear()
    template_parameter_sets(256, 256, 50, PRESET)
    print(f"\nRegenerating the parameter sets (first decode at a new size/qp): {time.perf_counter() - t0:.3f} s\n")


def measure_times(images: dict[str, np.ndarray], presets: tuple[str, ...], repeats: int = 3) -> None:
    """Per-call times robust to other load on the machine: the minimum over repeats."""
    picks = list(images.values())[:3]
    qps = (40, 50, 63)
    print(f"## VVC times at 256x256 (min of {repeats} runs, mean over {len(picks)} photos x qp {qps})\n")
    print("| preset | encode s | decode s (parameter sets cached) | decode s (cold: regenerate them) |")
    print("|---|---|---|---|")
    for preset in presets:
        codec = VVCCodec(preset)
        enc, dec, cold = [], [], []
        for img in picks:
            for qp in qps:
                times_e, times_d, times_c = [], [], []
                for _ in range(repeats):
                    template_parameter_sets(256, 256, qp, preset)
                    t0 = time.perf_counter()
                    payload = codec.encode(img, qp)
                    t1 = time.perf_counter()
                    codec.decode(payload, 256, 256, qp)
                    t2 = time.perf_counter()
                    template_parameter_sets.cache_clear()
                    codec.decode(payload, 256, 256, qp)
                    t3 = time.perf_counter()
                    times_e.append(t1 - t0)
                    times_d.append(t2 - t1)
                    times_c.append(t3 - t2)
                enc.append(min(times_e))
                dec.append(min(times_d))
                cold.append(min(times_c))
        print(f"| {preset} | {np.mean(enc):.3f} | {np.mean(dec):.3f} | {np.mean(cold):.3f} |")
    print()


def measure_pillow(images: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
    print("## Pillow codecs: full file vs stored patch, 256x256\n")
    print("| codec | qualities | mean file bytes | mean payload bytes | mean saved | encode s | decode s |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        codec = get_codec(name)
        qs = list(codec.qualities())[:31:5]
        files, pays, t_enc, t_dec = [], [], [], []
        for img in images.values():
            for q in qs:
                full = codec._save(img, q)  # type: ignore[attr-defined]
                codec.encode(img, q)  # warm the template cache
                t0 = time.perf_counter()
                payload = codec.encode(img, q)
                t1 = time.perf_counter()
                codec.decode(payload, 256, 256, q)
                t2 = time.perf_counter()
                files.append(len(full))
                pays.append(len(payload))
                t_enc.append(t1 - t0)
                t_dec.append(t2 - t1)
        print(
            f"| {name} | {qs[0]}..{qs[-1]} step 5 | {np.mean(files):.1f} | {np.mean(pays):.1f} | "
            f"{np.mean(files) - np.mean(pays):.1f} | {np.mean(t_enc):.3f} | {np.mean(t_dec):.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=None, help="photo list (default: data/photos.tsv)")
    parser.add_argument("--presets", default="faster,fast,medium,slow")
    parser.add_argument("--times-only", action="store_true", help="only the VVC timing table")
    args = parser.parse_args()
    images = dev_images(args.photos)
    presets = tuple(p for p in args.presets.split(",") if p in PRESETS)
    if not args.times_only:
        measure_vvc(images, range(40, 64), presets)
    measure_times(images, presets)
    if args.times_only:
        return
    measure_pillow(images, ("avif", "heic", "webp", "jpeg"))


if __name__ == "__main__":
    main()
