"""Rate control's size data: record, fit the VVC priors, replay the search (issue 13).

Three steps, each a subcommand:

    # 1. payload bytes of the photos' 256x256 bases (512 crops halved, as the encoder sees
    #    them) at libvvenc faster / fast / medium and the small bases' probe ("probe": faster
    #    with vvc.SMALL_PROBE_PARAMS), QPA off, over the qps where the faster file is 450-2400
    #    bytes (+-1 qp), every chroma step (fast: chroma 0 only); resumable
    PYTHONPATH=. python scripts/ratecontrol_sizes.py record --photos data/photos.tsv --split train --out sizes.jsonl
    # 2. the priors sggic.codecs.vvc uses (PROBE_PRIOR, SMALL_PROBE_PRIOR, CALIBRATION_PRIOR,
    #    REFINEMENT_SHAPE, DETAIL_PRIOR), fitted on the train photos' lines only
    PYTHONPATH=. python scripts/ratecontrol_sizes.py fit sizes.jsonl
    # 3. sggic.ratecontrol.fit_rate replayed on the recorded sizes (no encoding): fill, real
    #    encodes, probes and files done in one round of real encodes, per rate
    PYTHONPATH=. python scripts/ratecontrol_sizes.py replay sizes.jsonl --split dev

The replay sees a 512x512 file without semantics (the header's bytes are counted as the
encoder counts them); settings outside the recorded qps are extrapolated at 13 % per qp.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

CHROMA = (0, 1, 2, 4, 6, 9, 12)
BPPS = (0.02, 0.03, 0.05)
SIZE = 512
Table = dict[tuple[str, int, int], int]  # (preset, qp, -chroma offset) -> payload bytes


def record(photos: Path, split: str, out: Path, limit: int) -> None:
    from sggic.bench.data import dataset_images
    from sggic.codecs._pixels import pad_edge, padded_size, rgb_to_yuv420p10
    from sggic.codecs.vvc import (MIN_SIZE, PAD_MULTIPLE, PROBE_PRESET, SMALL_PROBE_PARAMS, Settings, _detail,
                                  _encode_stream, _slices_only, pack_nals)
    from sggic.pipeline import downsample2x

    done = {(d["id"], d["preset"], d["qp"], d["chroma"]) for d in _lines(out)} if out.exists() else set()
    with out.open("a") as f, ThreadPoolExecutor(2) as pool:
        for im in dataset_images(split, photos, SIZE)[: limit or None]:
            half = downsample2x(im.rgb)
            h, w = half.shape[:2]
            pw, ph = padded_size(w, h, PAD_MULTIPLE, MIN_SIZE)
            yuv = rgb_to_yuv420p10(pad_edge(half, pw, ph))
            detail = _detail(half)

            def run(job: tuple[str, int, int]) -> dict[str, Any] | None:
                preset, qp, ch = job
                if (im.id, preset, qp, ch) in done:
                    return None
                t = time.perf_counter()
                params = SMALL_PROBE_PARAMS if preset == "probe" else ()
                stream = _encode_stream(yuv, pw, ph, Settings(qp, -ch, False),
                                        PROBE_PRESET if preset == "probe" else preset, params=params)
                return {"id": im.id, "split": split, "preset": preset, "qp": qp, "chroma": ch,
                        "bytes": len(pack_nals(_slices_only(stream))), "secs": round(time.perf_counter() - t, 4),
                        "detail": round(detail, 5)}

            def write(jobs: list[tuple[str, int, int]]) -> None:
                for d in pool.map(run, jobs):
                    if d is not None:
                        f.write(json.dumps(d) + "\n")
                        f.flush()

            write([(p, qp, 0) for qp in range(16, 64) for p in ("faster", "probe")])
            sweep = {d["qp"]: d["bytes"] for d in _lines(out)
                     if d["id"] == im.id and d["preset"] == "faster" and d["chroma"] == 0}
            qps = [qp for qp, b in sweep.items() if 450 <= b <= 2400]
            lo, hi = max(16, min(qps) - 1), min(63, max(qps) + 1)
            write([(p, qp, ch) for qp in range(lo, hi + 1) for ch in CHROMA
                   for p in ("medium", "faster", "probe", "fast") if p != "fast" or ch == 0])
            print(f"{im.id} ({split}): qp {lo}..{hi}", flush=True)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tables(path: Path, split: str) -> tuple[dict[str, Table], dict[str, float]]:
    tables: dict[str, Table] = defaultdict(dict)
    detail: dict[str, float] = {}
    for d in _lines(path):
        if split == "all" or d["split"] == split:
            tables[d["id"]][(d["preset"], d["qp"], d["chroma"])] = d["bytes"]
            detail[d["id"]] = d.get("detail", 0.0)
    return {k: v for k, v in tables.items() if any(p == "medium" for p, _, _ in v)}, detail


def fit(path: Path, overhead: int) -> None:
    tables, detail = _tables(path, "train")
    mf, mfa, mfp, shapes = [], [], [], defaultdict(list)
    rows = []
    for pid, tab in tables.items():
        for (p, qp, ch), b in tab.items():
            if p != "medium" or not 500 <= b <= 1800:
                continue
            mf.append(math.log(b / tab[("faster", qp, ch)]))
            if ("probe", qp, ch) in tab:
                mfp.append(math.log(b / tab[("probe", qp, ch)]))
            if ch == 0 and ("fast", qp, 0) in tab:
                mfa.append(math.log(b / tab[("fast", qp, 0)]))
            if ch == 0 and ("medium", qp, 12) in tab and tab[("medium", qp, 12)] / b - 1 > 0.05:
                span = tab[("medium", qp, 12)] / b - 1
                for k in CHROMA[1:-1]:
                    shapes[k].append((tab[("medium", qp, k)] / b - 1) / span)
        low = min(qp for p, qp, _ in tab if p == "medium")
        for bpp in BPPS:
            budget = math.floor(bpp * SIZE * SIZE / 8) - overhead
            fits = [qp for (p, qp, ch), b in tab.items() if p == "medium" and ch == 0 and b <= budget]
            if fits and min(fits) > low and detail.get(pid, 0) > 0:  # not at the edge of the recorded qps
                rows.append((min(fits), math.log2(budget * 8 / (SIZE * SIZE / 4)), math.log2(detail[pid])))
    print(f"train photos: {len(tables)}")
    print(f"PROBE_PRIOR = {math.exp(statistics.mean(mf)):.3f}  (medium / faster, {len(mf)} settings)")
    if mfp:
        print(f"SMALL_PROBE_PRIOR = {math.exp(statistics.mean(mfp)):.3f}  (medium / probe, {len(mfp)} settings)")
    print(f"CALIBRATION_PRIOR = {math.exp(statistics.mean(mfa)):.3f}  (medium / fast)")
    print("REFINEMENT_SHAPE = (" + ", ".join(f"{statistics.median(shapes[k]):.3f}" for k in CHROMA[1:-1]) + ")")
    if rows:
        x = np.array([[1.0, r[1], r[2]] for r in rows])
        y = np.array([r[0] for r in rows], float)
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        print(f"DETAIL_PRIOR = ({w[0]:.2f}, {w[1]:.2f}, {w[2]:.2f})  (qp ~ a + b log2(bits per base pixel) "
              f"+ c log2(detail); residual sd {float(np.std(y - x @ w)):.2f} qp, {len(rows)} photo-rates)")


def replay(path: Path, split: str, bpps: list[float], verbose: bool) -> None:
    from sggic import container
    from sggic.codecs import vvc
    from sggic.ratecontrol import budget_bytes, fit_rate

    tables, detail = _tables(path, split)
    if hasattr(vvc, "SMALL_PROBE_PARAMS") and not all(any(k[0] == "probe" for k in t) for t in tables.values()):
        raise SystemExit(f"{path}: no 'probe' sizes (faster with {':'.join(vvc.SMALL_PROBE_PARAMS)}) for every photo; "
                         "record them first (the record step resumes)")

    def size(tab: Table, preset: str, q: int) -> int:
        qp, ch, _ = vvc.unpack_quality(q)
        if (preset, qp, -ch) in tab:
            return tab[(preset, qp, -ch)]
        known = [k[1] for k in tab if k[0] == preset and k[2] == 0]
        q0 = min(known, key=lambda k: abs(k - qp))
        return int(tab[(preset, q0, 0)] * 1.13 ** (q0 - qp))

    class Prepared:
        pixels = (SIZE // 2) ** 2
        # (getattr: the script also replays checkouts from before these existed, via PYTHONPATH)
        # the small bases' probe where the checkout has one ("probe" lines), else plain faster
        small = hasattr(vvc, "SMALL_PROBE_PARAMS")
        prior_ratio = vvc.SMALL_PROBE_PRIOR if small else getattr(vvc, "PROBE_PRIOR", 1.0)
        calibration_prior = getattr(vvc, "CALIBRATION_PRIOR", 1.0)
        anchors = vvc.PreparedImage.anchors

        def __init__(self, tab: Table, d: float) -> None:
            self.tab, self.detail = tab, d

        def __call__(self, q: int, threads: int = 1) -> bytes:
            return bytes(size(self.tab, vvc.PRESET, q))

        def probe(self, q: int) -> int:
            return size(self.tab, "probe" if self.small else vvc.PROBE_PRESET, q)

        def calibration_probe(self, q: int) -> int:
            return size(self.tab, getattr(vvc, "CALIBRATION_PRESET", "fast"), q)

        def rate_hints(self, budget: int) -> Any:  # what fit_rate asks since the hints are typed
            from sggic.codecs.base import RateHints

            return RateHints(None, self.prior_ratio, self.calibration_probe, self.calibration_prior,
                             tuple(vvc.VVCCodec().refinement_shape), tuple(self.anchors(budget)))

    class Codec(vvc.VVCCodec):
        def __init__(self, prepared: Prepared) -> None:
            super().__init__()
            self.prepared = prepared

        def encoder(self, rgb: np.ndarray) -> Any:
            return self.prepared

    def file_size(q: int, payload: bytes) -> int:
        return len(container.write(container.Header(SIZE, SIZE, vvc.VVCCodec.codec_id, q, 0, 0, 0), payload))

    rows = []
    for pid, tab in sorted(tables.items()):
        for bpp in bpps:
            budget = budget_bytes(bpp, SIZE, SIZE)
            r = fit_rate(Codec(Prepared(tab, detail.get(pid, 0.0))), np.zeros((SIZE // 2, SIZE // 2, 3), np.uint8),
                         budget, file_size, SIZE * SIZE, workers=2)
            rows.append((pid, bpp, 100 * r.file_bytes / budget, r.tries, r.probes))
            if verbose:
                qp, chroma, _ = vvc.unpack_quality(r.quality)
                print(f"  {pid:16s} {bpp} qp {qp} chroma {chroma:3d} fill {rows[-1][2]:5.1f} % real {r.tries} "
                      f"probes {r.probes}")
    print(f"command: replay {path.name} --split {split}; {len(tables)} photos")
    print("| bpp | median fill % | min fill % | max fill % | mean real encodes | mean probes | one round |")
    print("|---|---|---|---|---|---|---|")
    for bpp in bpps:
        sel = [x for x in rows if x[1] == bpp]
        fills = [x[2] for x in sel]
        print(f"| {bpp} | {statistics.median(fills):.1f} | {min(fills):.1f} | {max(fills):.1f} | "
              f"{statistics.mean(x[3] for x in sel):.2f} | {statistics.mean(x[4] for x in sel):.2f} | "
              f"{sum(x[3] <= 2 for x in sel)}/{len(sel)} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="encode the photos' bases and append their sizes to --out")
    r.add_argument("--photos", type=Path, required=True)
    r.add_argument("--split", default="train")
    r.add_argument("--limit", type=int, default=0, help="first N photos of the split")
    r.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("fit", help="the VVC rate-control priors from the train photos' sizes")
    f.add_argument("sizes", type=Path)
    f.add_argument("--overhead", type=int, default=23, help="file bytes besides the payload (512x512, no semantics)")
    p = sub.add_parser("replay", help="fit_rate on the recorded sizes")
    p.add_argument("sizes", type=Path)
    p.add_argument("--split", default="dev", help="dev, train or all")
    p.add_argument("--bpps", default=",".join(map(str, BPPS)))
    p.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.command == "record":
        record(a.photos, a.split, a.out, a.limit)
    elif a.command == "fit":
        fit(a.sizes, a.overhead)
    else:
        replay(a.sizes, a.split, [float(b) for b in a.bpps.split(",")], a.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
