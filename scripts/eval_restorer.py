#!/usr/bin/env python
"""The done-when table for the fitted restorer, on the dev photos (issue 4).

    .venv/bin/python scripts/eval_restorer.py            # ~10-15 min on 2 cores, cached

For each dev photo (short side resized to 512, centre crop 512x512) and each rate:
- sggic: the whole .sgc file within the budget, semantics (data/semantics/<id>.json)
  included, VVC base; decoded with the fitted, Real-ESRGAN and bicubic restorers (the
  last is the "no restoration" ablation);
- baseline "VVC half + bicubic": the same pipeline without semantics, given a budget of
  exactly the sggic file's size (so at least as many bytes), decoded with bicubic.
Prints a Markdown table of means (real bpp, qp, PSNR, MS-SSIM, SSIMULACRA2, BRISQUE, NIQE),
the pass/fail of each criterion, decode times for a 512x512 file (median, in process)
and peak memory of a fresh decoding process. Encoded files, decoded images and metric
values are cached under --cache (fitted results keyed by the weights' hash).
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

METRICS = ("psnr", "ms_ssim", "ssimulacra2", "brisque", "niqe")
FULL_REF = {"psnr", "ms_ssim", "ssimulacra2"}
VARIANTS = ("sggic+fitted", "sggic+realesrgan", "sggic+bicubic", "VVC half+bicubic (>= bytes)")

_PEAK_CHILD = """
import sys, time
t = time.time()
from sggic.pipeline import decode
img = decode(sys.argv[1], restorer=sys.argv[2])
# VmHWM (peak RSS of this process image); ru_maxrss would include the forking parent's
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(time.time() - t, hwm)
"""


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "none"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=None, help="photo list (default: data/photos.tsv)")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--rates", default="0.02,0.03,0.05")
    ap.add_argument("--semantics", default=str(ROOT / "data/semantics"))
    ap.add_argument("--cache", default=str(ROOT / "runs/eval-restorer"))
    ap.add_argument("--out", default=None, help="JSON results (default: <cache>/results.json)")
    ap.add_argument("--skip", default="", help="comma list of variants to skip: realesrgan,timing")
    args = ap.parse_args(argv)

    from PIL import Image

    from sggic.metrics import get_metric
    from sggic.pipeline import decode_detailed, encode_detailed
    from sggic.restore.fitted import default_weights_path
    from sggic.restore.registry import get_restorer
    from sggic.semantics.schema import Semantics
    from sggic.photos import load_photo, preprocess, read_photos, require_installed

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    rates = [float(r) for r in args.rates.split(",")]
    photos = require_installed(sorted(read_photos(args.photos, split=args.split), key=lambda p: p.id))
    wtag = file_hash(default_weights_path())
    restorers = {n: get_restorer(n) for n in ("fitted", "realesrgan", "bicubic") if n not in skip}
    metric_fns = {m: get_metric(m) for m in METRICS}
    mcache_path = cache / "metrics.json"
    mcache: dict[str, dict[str, float]] = json.loads(mcache_path.read_text()) if mcache_path.exists() else {}
    rows: list[dict] = []
    t0 = time.time()
    for ph in photos:
        ref = preprocess(load_photo(ph))
        sem = Semantics.load(Path(args.semantics) / f"{ph.id}.json")
        for rate in rates:
            sg_path, bl_path = cache / f"{ph.id}-{rate}.sgc", cache / f"{ph.id}-{rate}.baseline.sgc"
            if not sg_path.exists():
                sg_path.write_bytes(encode_detailed(ref, bpp=rate, base="vvc", semantics=sem, restorer="fitted").data)
            sg = sg_path.read_bytes()
            if not bl_path.exists():
                budget_bpp = (len(sg) + 0.5) * 8 / (512 * 512)  # floor() gives exactly len(sg) bytes
                bl_path.write_bytes(encode_detailed(ref, bpp=budget_bpp, base="vvc", semantics=None, restorer="bicubic").data)
            bl = bl_path.read_bytes()
            todo = [(f"sggic+{n}", sg, n) for n in restorers] + [(VARIANTS[3], bl, "bicubic")]
            for variant, data, rname in todo:
                tag = wtag if rname == "fitted" else rname
                key = f"{ph.id}|{rate}|{variant}|{tag}"
                if key not in mcache:
                    t = time.time()
                    res = decode_detailed(data, restorer=restorers.get(rname) or get_restorer(rname))
                    dt = time.time() - t
                    img = np.asarray(res.image.convert("RGB"))
                    Image.fromarray(img).save(cache / f"{ph.id}-{rate}-{variant.split()[0].replace('+', '_')}.png")
                    vals = {m: (fn(ref, img) if m in FULL_REF else fn(img)) for m, fn in metric_fns.items()}
                    vals.update(bytes=len(data), bpp=len(data) * 8 / (512 * 512), qp=res.header.quality, decode_s=dt)
                    mcache[key] = vals
                    mcache_path.write_text(json.dumps(mcache, indent=0))
                    print(f"[{time.time() - t0:5.0f}s] {key} " + " ".join(f"{k}={v:.3f}" for k, v in vals.items()), flush=True)
                rows.append({"photo": ph.id, "rate": rate, "variant": variant, **mcache[key]})

    # ---------------------------------------------------------------- table
    out_lines = [f"dev photos: {len(photos)} ({', '.join(p.id for p in photos)}); 512x512 centre crops; fitted weights {wtag}", ""]
    hdr = "| rate | method | bpp (real) | qp | PSNR | MS-SSIM | SSIMULACRA2 | BRISQUE (lower better) | NIQE (lower better) |"
    out_lines += [hdr, "|" + "---|" * 9]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    checks = []
    for rate in rates:
        summary[str(rate)] = {}
        for variant in VARIANTS:
            rs = [r for r in rows if r["rate"] == rate and r["variant"] == variant]
            if not rs:
                continue
            mean = {k: float(np.mean([r[k] for r in rs])) for k in ("bpp", "qp", *METRICS, "decode_s")}
            summary[str(rate)][variant] = mean
            out_lines.append(f"| {rate} | {variant} | {mean['bpp']:.4f} | {mean['qp']:.1f} | {mean['psnr']:.2f} | "
                             f"{mean['ms_ssim']:.4f} | {mean['ssimulacra2']:.2f} | {mean['brisque']:.2f} | {mean['niqe']:.2f} |")
        s, b = summary[str(rate)].get("sggic+fitted"), summary[str(rate)][VARIANTS[3]]
        if s:
            checks.append((rate, "BRISQUE lower", s["brisque"] < b["brisque"], s["brisque"] - b["brisque"]))
            checks.append((rate, "SSIMULACRA2 higher", s["ssimulacra2"] > b["ssimulacra2"], s["ssimulacra2"] - b["ssimulacra2"]))
            checks.append((rate, "PSNR within 0.3 dB", s["psnr"] > b["psnr"] - 0.3, s["psnr"] - b["psnr"]))
    out_lines += ["", "sggic+fitted vs VVC half+bicubic (>= bytes):"]
    out_lines += [f"- {rate}: {what}: {'PASS' if ok else 'FAIL'} (diff {d:+.3f})" for rate, what, ok, d in checks]

    # ---------------------------------------------------------------- timing and memory
    timing: dict[str, dict[str, float]] = {}
    if "timing" not in skip:
        files = sorted(cache.glob(f"*-{0.03 if 0.03 in rates else rates[0]}.sgc"))
        for name, r in restorers.items():
            times = []
            for f in files:
                t = time.time()
                decode_detailed(f, restorer=r)
                times.append(time.time() - t)
            child = subprocess.run([sys.executable, "-c", _PEAK_CHILD, str(files[0]), name],
                                   capture_output=True, text=True, check=True, cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
            cold_s, rss_kb = child.stdout.split()
            timing[name] = {"median_s": statistics.median(times), "max_s": max(times),
                            "cold_process_s": float(cold_s), "peak_rss_mb": int(rss_kb) / 1024}
        # restorer alone on one 256x256 base: throughput against the network's MACs
        from sggic.codecs import codec_by_id
        from sggic.container import read as read_sgc
        from sggic.restore.base import RestoreContext
        from sggic.restore.fitted import DEFAULT_CONFIG, macs_per_base_pixel

        f0 = read_sgc(files[0].read_bytes())
        bw, bh = f0.header.base_size
        base = codec_by_id(f0.header.codec_id).decode(f0.base, bw, bh, f0.header.quality)
        ctx = RestoreContext(f0.header.codec_id, f0.header.quality)
        macs = {"fitted": macs_per_base_pixel(**DEFAULT_CONFIG), "realesrgan": 17_930_000, "bicubic": 0}
        for name, r in restorers.items():
            r.restore(base, ctx)
            ts = []
            for _ in range(3):
                t = time.time()
                r.restore(base, ctx)
                ts.append(time.time() - t)
            med = statistics.median(ts)
            g = macs[name] * bw * bh / 1e9
            timing[name].update(restore_only_s=med, gmac=g, gmac_per_s=g / med if med else 0.0)
        out_lines += ["", f"restorer alone on a {bw}x{bh} base (median of 3): " + "; ".join(
            f"{n} {t['restore_only_s']:.3f} s, {t['gmac']:.1f} GMAC, {t['gmac_per_s']:.1f} GMAC/s"
            for n, t in timing.items())]
        out_lines += ["", f"512x512 decode (whole file: VVC base + restorer), {len(files)} files, warm process:"]
        out_lines += [f"- {n}: median {t['median_s']:.2f} s (max {t['max_s']:.2f} s); fresh process "
                      f"{t['cold_process_s']:.2f} s, peak RSS {t['peak_rss_mb']:.0f} MB" for n, t in timing.items()]
    text = "\n".join(out_lines)
    print(text)
    out = Path(args.out) if args.out else cache / "results.json"
    out.write_text(json.dumps({"summary": summary, "checks": [list(c) for c in checks], "timing": timing,
                               "weights": wtag, "rows": rows, "table": text}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
