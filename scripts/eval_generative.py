#!/usr/bin/env python
"""The done-when table of issue 10 for the generative restorer, on the dev photos.

    .venv/bin/python scripts/eval_generative.py --photos data/photos.tsv
    .venv/bin/python scripts/eval_generative.py --stage encode     # only the .sgc files
    .venv/bin/python scripts/eval_generative.py --stage timing     # only decode times / memory

For each dev photo (short side resized to 512, centre crop 512x512) and each rate:
- sggic: the whole .sgc file within the budget, semantics (data/semantics/<id>.json)
  included, VVC base, header restorer "generative"; decoded with the generative restorer
  at its default strength (the default decode), at --strengths, with fitted, and with
  Real-ESRGAN unless skipped;
- baseline "VVC half + bicubic" as a user makes it and as ``sggic bench``'s
  ``vvc-half+bicubic``: sggic's 2x downsample, libvvenc with its standard settings (QPA
  on, whatever ``sggic.codecs.vvc.QPA`` says for sggic's own base layer), the standard raw
  .266 stream (parameter sets included) at the best qp within the same whole-file budget
  (floor(bpp * pixels / 8) bytes, so at least the sggic file's bytes), bicubic 2x up.
Prints a Markdown table of means and the pass/fail of each criterion; decoded PNGs,
files and metric values are cached under --cache (generative results keyed by the
weights' hash). ``--stage timing`` measures fresh-process ``sggic decode`` times (median
of 5) for a 512x512 file and a 2560x1600 file, with the peak RSS (VmHWM) of the process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

METRICS = ("psnr", "ms_ssim", "ssimulacra2", "brisque")
FULL_REF = {"psnr", "ms_ssim", "ssimulacra2"}
BASELINE = "VVC half+bicubic (standard stream, same budget)"
DEFAULT = "sggic default (generative)"

_TIMED_CHILD = """
import atexit, sys, time
t = time.time()

def report():  # run() calls atexit handlers before its fast exit, as the console script does
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(time.time() - t, hwm, "torch" in sys.modules)

atexit.register(report)
from sggic.cli import run
sys.argv[1:] = ["decode", sys.argv[1], "-o", sys.argv[2]] + sys.argv[3:]
run()
"""


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "none"


def timed_decode(sgc: Path, out_png: Path, extra: list[str]) -> tuple[float, float, bool]:
    """One fresh Python process running ``sggic decode``: wall time from interpreter start,
    peak RSS in MB, whether torch got imported."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.time()
    r = subprocess.run([sys.executable, "-c", _TIMED_CHILD, str(sgc), str(out_png), *extra], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.time() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed_decode.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # type: ignore[attr-defined]
    if r.returncode:
        raise SystemExit(f"decode failed: {r.stderr.strip()[-500:]}")
    _inner, hwm, torch_loaded = r.stdout.strip().splitlines()[-1].split()  # the CLI prints its own lines first
    return wall, int(hwm) / 1024, torch_loaded == "True"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=str(ROOT / "data/photos.tsv"))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--rates", default="0.02,0.03,0.05")
    ap.add_argument("--strengths", default="", help="extra strengths to decode, e.g. 0,0.5,1")
    ap.add_argument("--semantics", default=str(ROOT / "data/semantics"))
    ap.add_argument("--cache", default=str(ROOT / "runs/eval-generative2"))
    ap.add_argument("--skip", default="", help="comma list of variants to leave out: generative,fitted,realesrgan")
    ap.add_argument("--also", default="", help="more restorers to decode the sggic files with, e.g. generative-1")
    ap.add_argument("--stage", choices=("all", "encode", "table", "timing"), default="all")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    from PIL import Image

    from sggic.pipeline import decode_detailed, encode_detailed
    from sggic.restore.generative import GenerativeRestorer, default_weights_path
    from sggic.restore.registry import get_restorer
    from sggic.semantics.schema import Semantics
    from sggic.photos import load_photo, read_photos, resize_crop

    from sggic.bench.codecs import budget_for, get_bench_codec, search

    half_codec = get_bench_codec("vvc-half+bicubic")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    rates = [float(r) for r in args.rates.split(",")]
    photos = read_photos(args.photos, split=args.split)
    wtag = file_hash(default_weights_path())
    gen = GenerativeRestorer()

    # ------------------------------------------------------------ files
    refs: dict[str, np.ndarray] = {}
    files: dict[tuple[str, float], tuple[bytes, bytes]] = {}
    for ph in photos:
        ref_path = cache / f"{ph.id}-ref.png"
        if not ref_path.exists():
            Image.fromarray(resize_crop(load_photo(ph), 512)).save(ref_path)
        refs[ph.id] = np.asarray(Image.open(ref_path).convert("RGB"))
        sem = Semantics.load(Path(args.semantics) / f"{ph.id}.json")
        for rate in rates:
            sg_path, bl_path = cache / f"{ph.id}-{rate}.sgc", cache / f"{ph.id}-{rate}.vvc-half.266"
            if not sg_path.exists():
                sg_path.write_bytes(encode_detailed(refs[ph.id], bpp=rate, base="vvc", semantics=sem,
                                                    restorer="generative").data)
            sg = sg_path.read_bytes()
            if not bl_path.exists():
                budget = budget_for(rate, 512, 512)
                q, data, above, _ = search(lambda q: half_codec.encode_file(refs[ph.id], q),
                                           half_codec.qualities, budget)  # plain qps: libvvenc's standard settings
                if above:
                    raise SystemExit(f"baseline for {ph.id} at {rate}: {len(data)} bytes, qp {q}")
                bl_path.write_bytes(data)
            files[(ph.id, rate)] = (sg, bl_path.read_bytes())
            print(f"files {ph.id} {rate}: {len(sg)} / {len(files[(ph.id, rate)][1])} bytes", flush=True)
    if args.stage == "encode":
        return 0
    if args.stage == "timing":
        return timing(cache, args.repeats, args.photos)

    # ------------------------------------------------------------ decode + metrics
    from sggic.metrics import get_metric

    metric_fns = {m: get_metric(m) for m in METRICS}
    variants: list[tuple[str, str, float | None, bool]] = [(BASELINE, "bicubic", None, True)]
    if "generative" not in skip:
        variants.append((DEFAULT, "generative", None, False))
        variants += [(f"sggic generative s={s}", "generative", float(s), False)
                     for s in filter(None, args.strengths.split(","))]
    if "fitted" not in skip:
        variants.append(("sggic+fitted", "fitted", None, False))
    if "realesrgan" not in skip:
        variants.append(("sggic+realesrgan", "realesrgan", None, False))
    variants += [(f"sggic+{name}", name, None, False) for name in filter(None, args.also.split(","))]
    restorers = {"generative": gen}
    mpath = cache / "metrics.json"
    mcache: dict[str, dict[str, float]] = json.loads(mpath.read_text()) if mpath.exists() else {}
    rows: list[dict] = []
    t0 = time.time()
    for (pid, rate), (sg, bl) in files.items():
        for variant, rname, strength, is_base in variants:
            tag = f"{wtag}|{strength}" if rname == "generative" else rname
            key = f"{pid}|{rate}|{variant}|{tag}"
            if key not in mcache:
                r = restorers.get(rname) or restorers.setdefault(rname, get_restorer(rname))
                t = time.time()
                if is_base:
                    img, qp = half_codec.decode_file(bl, 512, 512), -1
                else:
                    res = decode_detailed(sg, restorer=r, strength=strength)
                    img, qp = np.asarray(res.image.convert("RGB")), res.header.quality
                dt = time.time() - t
                slug = variant.split(" (")[0].replace(" ", "_").replace("+", "_").replace("=", "")
                Image.fromarray(img).save(cache / f"{pid}-{rate}-{slug}.png")
                vals = {m: float(fn(refs[pid], img) if m in FULL_REF else fn(img)) for m, fn in metric_fns.items()}
                data = bl if is_base else sg
                vals.update(bytes=len(data), bpp=len(data) * 8 / (512 * 512), qp=qp, decode_s=dt)
                mcache[key] = vals
                mpath.write_text(json.dumps(mcache, indent=0))
                print(f"[{time.time() - t0:5.0f}s] {key} " + " ".join(f"{k}={v:.3f}" for k, v in vals.items()),
                      flush=True)
            rows.append({"photo": pid, "rate": rate, "variant": variant, **mcache[key]})

    dflt = gen.default_strength if "generative" not in skip else "-"
    lines = [f"dev photos: {len(photos)} ({', '.join(p.id for p in photos)}); 512x512 centre crops; "
             f"generative weights {wtag}, default strength {dflt}", ""]
    lines += ["| rate | method | bpp (real) | qp | PSNR | MS-SSIM | SSIMULACRA2 | BRISQUE (lower better) |",
              "|" + "---|" * 8]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    checks = []
    for rate in rates:
        summary[str(rate)] = {}
        for variant, *_ in variants:
            rs = [r for r in rows if r["rate"] == rate and r["variant"] == variant]
            mean = {k: float(np.mean([r[k] for r in rs])) for k in ("bpp", "qp", *METRICS, "decode_s")}
            summary[str(rate)][variant] = mean
            lines.append(f"| {rate} | {variant} | {mean['bpp']:.4f} | {mean['qp']:.1f} | {mean['psnr']:.2f} | "
                         f"{mean['ms_ssim']:.4f} | {mean['ssimulacra2']:.2f} | {mean['brisque']:.2f} |")
        if DEFAULT not in summary[str(rate)]:
            continue
        s, b = summary[str(rate)][DEFAULT], summary[str(rate)][BASELINE]
        checks.append((rate, "BRISQUE >= 10 lower", s["brisque"] <= b["brisque"] - 10, s["brisque"] - b["brisque"]))
        checks.append((rate, "SSIMULACRA2 >= 3 higher", s["ssimulacra2"] >= b["ssimulacra2"] + 3,
                       s["ssimulacra2"] - b["ssimulacra2"]))
        checks.append((rate, "PSNR at most 0.3 dB lower", s["psnr"] >= b["psnr"] - 0.3, s["psnr"] - b["psnr"]))
    lines += ["", f"sggic default vs {BASELINE}:"]
    lines += [f"- {rate}: {what}: {'PASS' if ok else 'FAIL'} (diff {d:+.3f})" for rate, what, ok, d in checks]
    text = "\n".join(lines)
    print(text)
    (cache / "results.json").write_text(json.dumps({"summary": summary, "checks": [list(c) for c in checks],
                                                    "weights": wtag, "rows": rows, "table": text}, indent=1))
    return 0


def make_big(cache: Path, big: Path, photos_tsv: str) -> None:
    """A 2560x1600 file at 0.03 bpp: the first dev photo resized (Lanczos) to 2560x1600."""
    from PIL import Image

    from sggic.pipeline import encode_detailed
    from sggic.photos import load_photo, read_photos

    if big.exists():
        return
    ph = read_photos(photos_tsv, split="dev")[0]
    rgb = np.asarray(Image.fromarray(load_photo(ph)).resize((2560, 1600), Image.Resampling.LANCZOS))
    big.write_bytes(encode_detailed(rgb, bpp=0.03, base="vvc", restorer="generative").data)


def timing(cache: Path, repeats: int, photos_tsv: str) -> int:
    """Fresh-process decode times (median of ``repeats``) and peak memory: 512x512 and 2560x1600."""
    small = sorted(f for f in cache.glob("*-0.03.sgc") if not f.name.startswith("big-"))
    if not small:
        raise SystemExit("no 0.03 bpp files in the cache: run the encode stage first")
    big = cache / "big-2560x1600-0.03.sgc"
    make_big(cache, big, photos_tsv)
    out = {}
    for label, f in (("512x512", small[0]), ("2560x1600", big)):
        ts, cpus, mems, torch_seen = [], [], [], False
        for _ in range(repeats if label == "512x512" else max(1, repeats // 2)):
            wall, mb, tl = timed_decode(f, cache / f"timing-{label}.png", [])
            ts.append(wall)
            cpus.append(timed_decode.cpu_s)  # type: ignore[attr-defined]
            mems.append(mb)
            torch_seen |= tl
        load = os.getloadavg()[0]
        out[label] = {"median_s": statistics.median(ts), "all_s": [round(t, 2) for t in ts],
                      "median_cpu_s": statistics.median(cpus), "peak_rss_mb": max(mems),
                      "torch_imported": torch_seen, "load_average_1min": load}
        print(f"fresh-process `sggic decode` {label} ({f.name}): median {statistics.median(ts):.2f} s of "
              f"{[round(t, 2) for t in ts]} (CPU time median {statistics.median(cpus):.2f} s), peak RSS "
              f"{max(mems):.0f} MB, torch imported: {torch_seen}, load average {load:.1f}", flush=True)
    (cache / "timing.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
