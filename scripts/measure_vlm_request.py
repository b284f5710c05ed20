"""Size and preparation time of the image a VLM request carries (no network).

    .venv/bin/python scripts/measure_vlm_request.py [--split dev] [--max-side 768]

For each photo of the split in ../shared/data/photos.tsv: the length of the
``data:image/jpeg;base64,...`` URL that `sggic describe` sends, and the time to make it
(load with sggic's input policy, Lanczos downscale, JPEG). Also checks that two runs give
identical bytes. Prints medians.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from sggic.semantics.vlm import image_data_url

PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos.tsv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--max-side", type=int, default=768)
    ap.add_argument("--photos", default=str(PHOTOS))
    a = ap.parse_args()
    with open(a.photos, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == a.split and Path(r["path"]).exists()]
    sizes, times = [], []
    for r in rows:
        t = time.perf_counter()
        url = image_data_url(r["path"], a.max_side)
        times.append(time.perf_counter() - t)
        sizes.append(len(url))
        assert image_data_url(r["path"], a.max_side) == url, f"{r['id']}: not deterministic"
    print(f"{len(rows)} {a.split} photos, max side {a.max_side}: data URL median {statistics.median(sizes) / 1000:.0f} kB "
          f"(min {min(sizes) / 1000:.0f}, max {max(sizes) / 1000:.0f}); preparation median {statistics.median(times):.2f} s; "
          "deterministic")


if __name__ == "__main__":
    main()
