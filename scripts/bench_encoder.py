"""The encoder before and after issue 13: time, budget fill, PSNR, SSIMULACRA2, BD-rate.

``old`` is the encoder sggic shipped before issue 13 (main at 22044b4's predecessor
search): libvvenc QPA on, plain qp 63..20, real medium encodes only, one after the
other, interpolation/bisection, no look-ahead, no chroma refinement. ``new`` is
``sggic.ratecontrol.fit_rate`` with the codec's defaults as they are now (QPA off,
faster-preset size probes, parallel or threaded real encodes, chroma qp offset
refinements); ``new-qpa`` the same search with QPA on. All run through
``sggic.pipeline.encode_detailed`` (semantics included when the photo has them) and are
decoded with the default restorer.

    PYTHONPATH=. python scripts/bench_encoder.py --photos PATH/photos.tsv \\
        [--bpps 0.02,0.03,0.04,0.05] [--size 512] [--modes old,new] [--large 2560x1600,4000x3000]

``--large WxH``: one dev photo resized (Lanczos; upscaled if needed) to WxH, encoded by
``new`` (and ``old`` with ``--large-old``) for timing and fill only.

``--cli WxH,...``: instead, the wall and CPU seconds of fresh ``sggic encode`` processes
(what a user waits for: imports, image loading, rate control, writing) on PNG files
written to ``--workdir``: the dev photos' centre crops at 512x512, or the first dev photo
resized to WxH; ``--tree DIR`` runs the sggic of another checkout (e.g. the old encoder),
byte-compiled first as an installed package is (``--no-compile``: not); ``--compare DIR ...``
times other checkouts in turn with it (same load for each).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def old_fit_rate(codec: Any, rgb: np.ndarray, budget: int, file_size: Any, pixels: int, **_: Any) -> Any:
    """The search before issue 13: sequential real encodes over the qp list, no look-ahead."""
    from sggic.ratecontrol import RateChoice, search_index

    qs = list(codec.qualities())
    cache: dict[int, tuple[bytes, float]] = {}

    def sizes(idx: list[int]) -> list[float]:
        for i in idx:
            if i not in cache:
                payload = codec.encode(rgb, qs[i])
                cache[i] = (payload, float(file_size(qs[i], payload)))
        return [cache[i][1] for i in idx]

    i = search_index(sizes, len(qs), budget, workers=1, lookahead=0)
    if i is None:
        from sggic.errors import RateError

        raise RateError("unreachable")
    return RateChoice(qs[i], cache[i][0], int(cache[i][1]), len(cache))


@contextmanager
def rate_control(mode: str) -> Iterator[None]:
    import sggic.codecs.vvc as vvc
    import sggic.pipeline as pipeline

    saved, saved_qpa = pipeline.fit_rate, vvc.QPA
    if mode == "old":  # the search and the settings (QPA on, plain qp) before issue 13
        pipeline.fit_rate, vvc.QPA = old_fit_rate, True
    elif mode == "new-qpa":  # the new search with libvvenc's QPA on
        vvc.QPA = True
    elif mode != "new":
        raise SystemExit(f"unknown mode {mode!r}")
    try:
        yield
    finally:
        pipeline.fit_rate, vvc.QPA = saved, saved_qpa


def encode_point(rgb: np.ndarray, bpp: float, semantics: Any, mode: str) -> tuple[Any, float, float]:
    from sggic.pipeline import encode_detailed

    with rate_control(mode):
        c0, t = _cpu(), time.perf_counter()
        r = encode_detailed(rgb, bpp=bpp, semantics=semantics)
        return r, time.perf_counter() - t, _cpu() - c0


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the ffmpeg encodes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def preset_table(images: list[Any], qps: list[int], settings: list[tuple[str, bool]]) -> None:
    """Base layer only (half resolution): time per encode and BD-rate against medium + QPA.

    Pixels are compared with the half-resolution original; rates are payload bytes.
    """
    from sggic.bench.report import bd_rate
    from sggic.codecs import _nal
    from sggic.codecs._ffmpeg import run_ffmpeg
    from sggic.codecs._pixels import pad_edge, padded_size, rgb_to_yuv420p10
    from sggic.codecs.vvc import MIN_SIZE, PAD_MULTIPLE, Settings, decode_stream, encoder_args, pack_nals
    from sggic.errors import BackendUnavailable
    from sggic.metrics import get_metric
    from sggic.pipeline import downsample2x

    metrics = {m: get_metric(m) for m in ("psnr", "ssimulacra2")}
    rows: dict[tuple[str, bool], dict[str, Any]] = {st: {"t": [], "curves": {}} for st in settings}
    for img in images:
        half = downsample2x(img.rgb)
        h, w = half.shape[:2]
        pw, ph = padded_size(w, h, PAD_MULTIPLE, MIN_SIZE)
        yuv = rgb_to_yuv420p10(pad_edge(half, pw, ph))
        for preset, qpa in settings:
            curve = {m: [] for m in metrics}
            for qp in qps:
                args = encoder_args(pw, ph, Settings(qp, 0, qpa), preset)
                c0 = _cpu()
                stream = run_ffmpeg(args, yuv, BackendUnavailable, "libvvenc failed")
                rows[(preset, qpa)]["t"].append(_cpu() - c0)
                keep = [n for n in _nal.split_annexb(stream)
                        if _nal.nal_type(n) not in _nal.DROPPABLE | _nal.PARAMETER_SETS]
                rate = len(pack_nals(keep))
                out = decode_stream(stream, w, h)
                for m, fn in metrics.items():
                    curve[m].append((rate, float(fn(half, out))))
            rows[(preset, qpa)]["curves"][img.id] = curve
        print(f"# {img.id} done", flush=True)
    ref = rows[("medium", True)]["curves"]
    print()
    print(f"qp {qps[0]}..{qps[-1]}, {len(images)} photos, base layer at half resolution; BD-rate vs medium + QPA")
    print("| preset | QPA | median CPU s per encode | BD-rate PSNR (mean over photos) | BD-rate SSIMULACRA2 |")
    print("|---|---|---|---|---|")
    for st in settings:
        bd = {}
        for m in metrics:
            vals = [bd_rate(ref[i][m], rows[st]["curves"][i][m])[0] for i in ref]
            vals = [v for v in vals if math.isfinite(v)]
            bd[m] = f"{statistics.mean(vals):+.1f} %" if vals else "n/a"
        print(f"| {st[0]} | {'on' if st[1] else 'off'} | {statistics.median(rows[st]['t']):.3f} | "
              f"{bd['psnr']} | {bd['ssimulacra2']} |")


# What the `sggic` console script runs (sggic.cli.run; checkouts older than it: main)
_ENTRY = "import sys, sggic.cli as c; c.run() if hasattr(c, 'run') else sys.exit(c.main())"


def cli_table(sizes: list[str], bpps: list[float], photos: Path, split: str, workdir: Path,
              repeat: int, tree: Path | None, limit: int, compile_first: bool = True,
              compare: list[Path] = ()) -> None:
    """Fresh ``sggic encode`` processes: median wall / CPU seconds and budget fill per size and rate.

    ``compile_first``: byte-compile the timed sggic first (its ``__pycache__``), as installing
    it does; otherwise every process compiles ~60 modules (~0.05 s) when the environment sets
    PYTHONDONTWRITEBYTECODE. ``compare``: other checkouts timed in turn with ``tree`` (one
    encode each per input and repeat), so that a changing load hits them alike."""
    import os
    import subprocess

    from PIL import Image

    from sggic.bench.data import dataset_images

    workdir.mkdir(parents=True, exist_ok=True)
    inputs: dict[str, list[Path]] = {}
    for spec in sizes:
        w, h = (int(v) for v in spec.lower().split("x"))
        if (w, h) == (512, 512):
            imgs = dataset_images(split, photos, 512)[: limit or None]
            inputs[spec] = [workdir / f"{im.id}-512.png" for im in imgs]
            for im, path in zip(imgs, inputs[spec]):
                if not path.exists():
                    Image.fromarray(im.rgb).save(path)
        else:
            src = dataset_images(split, photos, None)[0]
            path = workdir / f"{src.id}-{w}x{h}.png"
            if not path.exists():
                img = Image.fromarray(src.rgb)
                if img.size != (w, h):
                    img = img.resize((w, h), Image.Resampling.LANCZOS)
                img.save(path)
            inputs[spec] = [path]
    trees: list[Path | None] = [tree] + list(compare)
    envs = []
    for t in trees:
        env = dict(os.environ)
        if t is not None:
            env["PYTHONPATH"] = str(t)
        envs.append(env)
        if compile_first:  # as an installed package is (pip compiles it); PYTHONDONTWRITEBYTECODE=1 stops imports
            src = (t or Path(__file__).resolve().parents[1]) / "sggic"
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True, capture_output=True)
    labels = ["this" if t is None else str(t) for t in trees]
    print(f"command: {' '.join(sys.argv)}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    print("| size | bpp | sggic | runs | median wall s | max wall s | median CPU s | median fill % | min fill % "
          "| max fill % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec, paths in inputs.items():
        for bpp in bpps:
            walls: list[list[float]] = [[] for _ in trees]
            cpus: list[list[float]] = [[] for _ in trees]
            fills: list[list[float]] = [[] for _ in trees]
            for path in paths:
                w, h = Image.open(path).size
                for _ in range(repeat):
                    for k, env in enumerate(envs):  # the trees take turns: same load for each
                        out = workdir / f"{path.stem}-{bpp}-{k}.sgc"
                        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        t0 = time.perf_counter()
                        subprocess.run([sys.executable, "-P", "-c",
                                        _ENTRY,
                                        "encode", str(path), "-o", str(out), "--bpp", str(bpp)],
                                       env=env, check=True, capture_output=True)
                        walls[k].append(time.perf_counter() - t0)
                        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        cpus[k].append(k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime)
                for k in range(len(trees)):
                    fills[k].append(100 * (workdir / f"{path.stem}-{bpp}-{k}.sgc").stat().st_size
                                    / math.floor(bpp * w * h / 8))
            for k, label in enumerate(labels):
                print(f"| {spec} | {bpp} | {label} | {len(walls[k])} | {statistics.median(walls[k]):.2f} | "
                      f"{max(walls[k]):.2f} | {statistics.median(cpus[k]):.2f} | {statistics.median(fills[k]):.1f} | "
                      f"{min(fills[k]):.1f} | {max(fills[k]):.1f} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def report(points: list[dict[str, Any]], large_points: list[dict[str, Any]], bpps: list[float],
           modes: list[str], metrics: Any, ref: str = "old") -> None:
    """The table (medians per size, rate and mode) and the BD-rates of every mode against ``ref``."""
    from sggic.bench.report import bd_rate

    print()
    print(f"command: {' '.join(sys.argv)}")
    print("| size | bpp | mode | median s | max s | median CPU s | median fill % | min fill % | max fill % | mean PSNR | mean SSIMULACRA2 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for pts in (points, large_points):
        for size in sorted({p["size"] for p in pts}):
            for bpp in bpps:
                for mode in modes:
                    sel = [p for p in pts if p["size"] == size and p["bpp"] == bpp and p["mode"] == mode]
                    if not sel:
                        continue
                    t = [p["seconds"] for p in sel]
                    f = [100 * p["fill"] for p in sel]
                    ps = [p["psnr"] for p in sel if "psnr" in p]
                    ss = [p["ssimulacra2"] for p in sel if "ssimulacra2" in p]
                    print(f"| {size} | {bpp} | {mode} | {statistics.median(t):.2f} | {max(t):.2f} | "
                          f"{statistics.median(p['cpu'] for p in sel):.2f} | "
                          f"{statistics.median(f):.1f} | {min(f):.1f} | {max(f):.1f} | "
                          f"{statistics.mean(ps) if ps else math.nan:.2f} | "
                          f"{statistics.mean(ss) if ss else math.nan:.2f} |")
    for new in [m for m in modes if m != ref] if metrics and ref in modes else []:
        print()
        print(f"BD-rate of {new} against {ref} (negative = fewer bits), per photo, over the bpps above:")
        for name in ("psnr", "ssimulacra2"):
            vals = []
            for img_id in sorted({p["image"] for p in points}):
                curve = {m: [(p["rate"], p[name]) for p in points if p["image"] == img_id and p["mode"] == m]
                         for m in (ref, new)}
                v, _ = bd_rate(curve[ref], curve[new])
                if math.isfinite(v):
                    vals.append(v)
            if vals:
                print(f"- {name}: mean {statistics.mean(vals):+.2f} %, median {statistics.median(vals):+.2f} % "
                      f"({len(vals)} photos: {', '.join(f'{v:+.1f}' for v in vals)})")
            else:
                print(f"- {name}: no overlapping curves")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, required=True, help="photos.tsv")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--bpps", default="0.02,0.03,0.04,0.05")
    ap.add_argument("--modes", default="old,new", help="old, new, new-qpa (the new search with QPA on)")
    ap.add_argument("--limit", type=int, default=0, help="first N photos only")
    ap.add_argument("--large", default="", help="comma-separated WxH sizes for timing/fill (new only)")
    ap.add_argument("--large-old", action="store_true", help="also time the old encoder on --large")
    ap.add_argument("--no-metrics", action="store_true")
    ap.add_argument("--json", type=Path, help="write every point here")
    ap.add_argument("--presets", default="", help="instead: base-layer table for these presets "
                    "(each with QPA on and off), e.g. faster,fast,medium,slow")
    ap.add_argument("--qps", default="40,44,48,52,56,60")
    ap.add_argument("--merge", nargs="+", help="instead: report the points of these --json files; FILE=LABEL "
                    "renames that file's modes to LABEL (e.g. a run of another checkout's script)")
    ap.add_argument("--ref", default="old", help="the mode the BD-rates are measured against")
    ap.add_argument("--cli", default="", help="instead: time fresh `sggic encode` processes at these sizes "
                    "(512x512 = the dev photos' crops, others: the first dev photo resized), e.g. 512x512,2560x1600")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sggic-bench-encoder",
                    help="--cli: PNG inputs and outputs (inputs are made once and kept)")
    ap.add_argument("--repeat", type=int, default=1, help="--cli: runs per input")
    ap.add_argument("--tree", type=Path, help="--cli: PYTHONPATH of the sggic to time (default: this one)")
    ap.add_argument("--no-compile", action="store_true", help="--cli: do not byte-compile that sggic first")
    ap.add_argument("--compare", type=Path, nargs="*", default=[],
                    help="--cli: other checkouts (PYTHONPATH) timed in turn with --tree, e.g. the old encoder")
    a = ap.parse_args(argv)
    if a.cli:
        cli_table(a.cli.split(","), [float(b) for b in a.bpps.split(",")], a.photos, a.split, a.workdir,
                  a.repeat, a.tree, a.limit, not a.no_compile, a.compare)
        return 0
    if a.merge:
        pts: list[dict[str, Any]] = []
        large: list[dict[str, Any]] = []
        for spec in a.merge:
            f, _, label = spec.partition("=")
            d = json.loads(Path(f).read_text())
            for p in d["points"] + d["large"]:
                p["mode"] = label or p["mode"]
            pts += d["points"]
            large += d["large"]
        report(pts, large, sorted({p["bpp"] for p in pts + large}),
               sorted({p["mode"] for p in pts + large}, key=lambda m: (m != a.ref, m)), any("psnr" in p for p in pts),
               a.ref)
        return 0
    if a.presets:
        from sggic.bench.data import dataset_images as _images

        imgs = _images(a.split, a.photos, a.size)[: a.limit or None]
        settings = [(p, q) for p in a.presets.split(",") for q in (True, False)]
        preset_table(imgs, [int(q) for q in a.qps.split(",")], settings)
        return 0

    from sggic.bench.data import dataset_images
    from sggic.bench.report import bd_rate
    from sggic.codecs.vvc import unpack_quality
    from sggic.semantics.schema import Semantics

    bpps = [float(b) for b in a.bpps.split(",")]
    modes = a.modes.split(",")
    points: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {}
    if not a.no_metrics:
        from sggic.metrics import get_metric
        from sggic.pipeline import decode_detailed

        metrics = {m: get_metric(m) for m in ("psnr", "ssimulacra2")}
    images = dataset_images(a.split, a.photos, a.size) if a.size > 0 else []
    if a.limit:
        images = images[: a.limit]
    for img in images:
        sem = Semantics.load(img.semantics) if img.semantics else None
        for bpp in bpps:
            for mode in modes:
                r, secs, cpu = encode_point(img.rgb, bpp, sem, mode)
                h, w = img.rgb.shape[:2]
                qp, chroma, qpa = unpack_quality(r.header.quality)
                p = {"image": img.id, "size": f"{w}x{h}", "bpp": bpp, "mode": mode, "seconds": secs, "cpu": cpu,
                     "bytes": len(r.data), "budget": r.target_bytes, "fill": len(r.data) / r.target_bytes,
                     "qp": qp, "chroma": chroma, "qpa": qpa, "rate": len(r.data) * 8 / (w * h)}
                if metrics:
                    out = np.asarray(decode_detailed(r.data).image.convert("RGB"))
                    for name, m in metrics.items():
                        p[name] = float(m(img.rgb, out))
                points.append(p)
                print(json.dumps(p), flush=True)

    large_points: list[dict[str, Any]] = []
    if a.large:
        from PIL import Image

        src = dataset_images(a.split, a.photos, None)[0]
        for spec in a.large.split(","):
            w, h = (int(v) for v in spec.lower().split("x"))
            rgb = np.asarray(Image.fromarray(src.rgb).resize((w, h), Image.Resampling.LANCZOS))
            for bpp in bpps:
                for mode in (modes if a.large_old else ["new"]):
                    r, secs, cpu = encode_point(rgb, bpp, None, mode)
                    qp, chroma, qpa = unpack_quality(r.header.quality)
                    p = {"image": f"{src.id}@{w}x{h}", "size": f"{w}x{h}", "bpp": bpp, "mode": mode,
                         "seconds": secs, "cpu": cpu, "bytes": len(r.data), "budget": r.target_bytes,
                         "fill": len(r.data) / r.target_bytes, "qp": qp, "chroma": chroma, "qpa": qpa}
                    large_points.append(p)
                    print(json.dumps(p), flush=True)

    if a.json:
        a.json.write_text(json.dumps({"points": points, "large": large_points}, indent=1))
    report(points, large_points, bpps, modes, bool(metrics), a.ref)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
