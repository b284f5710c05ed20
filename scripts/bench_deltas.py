#!/usr/bin/env python
"""Issue 10's table from ``sggic bench`` results: differences of the means to a baseline codec.

    python scripts/bench_deltas.py runs/bench-dev-s6                       # sggic and sggic-fixed
    python scripts/bench_deltas.py runs/bench-dev-s7-v3seed2 --baseline-run runs/bench-dev-s6
    python scripts/bench_deltas.py runs/bench-dev-s6 --leave-out greentock   # how much one photo carries

For each codec and rate: mean over the photos of (codec - baseline) in PSNR, SSIMULACRA2
and BRISQUE, as ``+0.50 / +6.0 / -13.0``, and against issue 10's baseline (the default)
whether its bar holds (PSNR at least -0.3 dB, SSIMULACRA2 at least +3, BRISQUE at most
-10). ``--leave-out``: one row per photo, the same means without it. The baseline's rows may come from another run of the same
photos (``--baseline-run``), e.g. a run that benched only ``sggic``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

METRICS = ("psnr", "ssimulacra2", "brisque")
ISSUE_BASELINE = "vvc-half+bicubic"
BAR = {"psnr": -0.3, "ssimulacra2": 3.0, "brisque": -10.0}  # issue 10: at least, at least, at most

Key = tuple[str, str, str, str]  # image, codec, target bpp, metric


def load(run: Path) -> dict[Key, float]:
    path = run / "results.csv"
    if not path.is_file():
        raise SystemExit(f"bench_deltas: no results.csv in {run}")
    out: dict[Key, float] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] in METRICS and r["status"] == "ok":
                out[(r["image"], r["codec"], r["target_bpp"], r["metric"])] = float(r["value"])
    return out


def deltas(rows: dict[Key, float], base: dict[Key, float], codec: str, baseline: str, bpp: str,
           images: list[str]) -> dict[str, float]:
    missing = [i for i in images for m in METRICS
               if (i, codec, bpp, m) not in rows or (i, baseline, bpp, m) not in base]
    if missing:
        raise SystemExit(f"bench_deltas: {codec} or {baseline} at {bpp} bpp lacks {sorted(set(missing))}")
    return {m: statistics.mean(rows[(i, codec, bpp, m)] - base[(i, baseline, bpp, m)] for i in images) for m in METRICS}


def meets(d: dict[str, float]) -> bool:
    return d["psnr"] >= BAR["psnr"] and d["ssimulacra2"] >= BAR["ssimulacra2"] and d["brisque"] <= BAR["brisque"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a `sggic bench -o` folder")
    ap.add_argument("--baseline-run", type=Path, default=None, help="the baseline's folder (default: RUN)")
    ap.add_argument("--baseline", default=ISSUE_BASELINE)
    ap.add_argument("--codecs", default="", help="comma list (default: every codec of RUN but the baseline)")
    ap.add_argument("--leave-out", default="", help="comma list of photos: also the means without each")
    a = ap.parse_args(argv)
    rows = load(a.run)
    base = load(a.baseline_run) if a.baseline_run else rows
    codecs = a.codecs.split(",") if a.codecs else sorted({k[1] for k in rows} - {a.baseline})
    rates = sorted({k[2] for k in rows if k[1] in codecs}, key=float)
    images = sorted({k[0] for k in rows if k[1] in codecs})
    left_out = [p for p in a.leave_out.split(",") if p]
    unknown = [p for p in left_out if p not in images]
    if unknown:
        raise SystemExit(f"bench_deltas: no such photo in {a.run}: {', '.join(unknown)}")
    bar = a.baseline == ISSUE_BASELINE  # the bar is defined against that baseline only
    print(f"differences of the means to {a.baseline} (PSNR / SSIMULACRA2 / BRISQUE), {len(images)} photos"
          + (f"; issue 10's bar: >= {BAR['psnr']} / >= +{BAR['ssimulacra2']:g} / <= {BAR['brisque']:g}" if bar else ""))
    print("| codec | photos | " + " | ".join(f"{r} bpp" for r in rates) + " |")
    print("|---|---|" + "---|" * len(rates))
    for codec in codecs:
        for left in ["", *left_out]:
            kept = [i for i in images if i != left]
            cells = []
            for r in rates:
                d = deltas(rows, base, codec, a.baseline, r, kept)
                cells.append(f"{d['psnr']:+.2f} / {d['ssimulacra2']:+.1f} / {d['brisque']:+.1f}"
                             + ("" if meets(d) or not bar else " (misses)"))
            print(f"| {codec} | {'all' if not left else 'without ' + left} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
