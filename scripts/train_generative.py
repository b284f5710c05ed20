#!/usr/bin/env python
"""Reproducible training of the generative restorer v2 (sggic/weights/restorer-generative-2.safetensors).

    .venv/bin/python scripts/train_generative.py --photos data/photos.tsv --blend-max 6 \
        --out runs/g2-band-a6 --export runs/g2-band-a6/export.safetensors      # the shipped v2 (then copied)

(v1, ``generative-1``, was trained by this script as of git commit 22044b4, whose
``sggic.training.data.read_photos`` listed the photos sorted by id.)

1. Bases: the ``train`` photos of --photos (never ``dev``), short side 512, centre crop,
   downsampled 2x and coded by our VVC base layer at ``distill.BASE_QPS`` with QPA off
   (as the encoder writes since v2; --qpa: on, reusing the fitted cache --reuse), cached under --cache.
2. Teacher: Real-ESRGAN x4plus (``--restorer realesrgan``) on --teacher-crops seeded
   128x128 crops of each fitted photo's base at each --teacher-qps (cached under
   --teacher-cache; the slow part: ~2.5 s per crop on 2 idle cores, 25-40 s on the shared machine).
3. Hold-out: every 7th train photo in the photo list's order (``training.script.holdout_split``:
   ColdRipple, Dragonfly, Blinds, YellowFlower) is kept out of training and decides the
   default strength (``distill.choose_strength``). v1 held out ``sorted(ids)[::7]`` (Aqua,
   FallenLeaf, Wood, sunset) and was trained on these four (docs/restorer-generative.md).
4. Train --steps steps from v1's weights (--init) with --loss (band: low band to the
   original, high band to the target ``o + blend_max s (t - o)``) and --seed / --threads
   (determinism needs the same count), then score --calib-strengths on the hold-out
   (--calib-qps) with the shipped (ncnn) decode path, choose the default strength
   (--max-psnr-loss / --max-ssimulacra2-loss against bicubic) and export the last
   checkpoint with everything needed to rerun in the metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _portable(arg: str) -> str:
    """Command-line arguments as recorded in the weights: no machine-specific absolute paths."""
    p = Path(arg)
    if not p.is_absolute():
        return arg
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return f"<{p.name}>" if p.suffix else "<dir>"


def main(argv: list[str] | None = None) -> int:
    from sggic.training.script import add_schedule_args, holdout_split, open_log

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=str(ROOT / "data/photos.tsv"))
    ap.add_argument("--cache", default=str(ROOT / "runs/generative2-cache"))
    ap.add_argument("--reuse", default=str(ROOT / "runs/restorer-cache"),
                    help="the fitted restorer's base cache (QPA on), reused with --qpa only")
    ap.add_argument("--qpa", action="store_true",
                    help="code the bases with libvvenc's QPA on (v1); default off, as the encoder writes since v2")
    ap.add_argument("--teacher-cache", default=str(ROOT / "runs/teacher2-cache"))
    ap.add_argument("--teacher-crops", type=int, default=1, help="teacher crops per (photo, qp)")
    ap.add_argument("--out", default=str(ROOT / "runs/generative2-train"))
    ap.add_argument("--export", default=str(ROOT / "sggic/weights/restorer-generative-2.safetensors"))
    ap.add_argument("--init", default=str(ROOT / "sggic/weights/restorer-generative.safetensors"),
                    help="start point: v1's generative weights (v2) or fitted's (v1)")
    ap.add_argument("--loss", choices=("mse", "band"), default="band",
                    help="band: low band MSE to the original + high band Charbonnier to the target (v2); mse: v1")
    ap.add_argument("--blend-max", type=float, default=6.0,
                    help="target o + blend_max * s * (t - o): 1 = v1 (s = 1 is the teacher), 6 = v2")
    ap.add_argument("--blend-clip", type=float, default=0.0,
                    help="clip the amplified difference blend_max s (t - o) to +-this (0: no clip)")
    ap.add_argument("--hf-weight", type=float, default=1.0, help="weight of the high-band term (--loss band)")
    ap.add_argument("--band-sigma", type=float, default=1.5, help="Gaussian sigma of the band split (output px)")
    ap.add_argument("--calib-qps", default="42,50", help="hold-out base qps the default strength is chosen on")
    ap.add_argument("--max-psnr-loss", type=float, default=0.4,
                    help="default strength rule: hold-out PSNR at most this many dB below bicubic (v1: 0.3)")
    ap.add_argument("--max-ssimulacra2-loss", type=float, default=1.5,
                    help="default strength rule: hold-out SSIMULACRA2 at most this far below bicubic (v1: 1.0)")
    ap.add_argument("--teacher-qps", default="38,48")
    ap.add_argument("--teacher-photos", type=int, default=0,
                    help="teacher crops for the first N fitted photos (sorted ids) only; 0: all")
    add_schedule_args(ap, steps=600, lr=2e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--mse-weight", type=float, default=20.0)
    ap.add_argument("--ssim-weight", type=float, default=0.05)
    ap.add_argument("--lap-weight", type=float, default=0.25)
    ap.add_argument("--p-teacher", type=float, default=0.75)
    ap.add_argument("--ckpt-every", type=int, default=150)
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop after N steps of the --steps schedule (0: run it all)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (determinism needs the same count; 1 was 2x faster than 2 on the shared CPU)")
    ap.add_argument("--cond-lr-scale", type=float, default=10.0, help="learning-rate factor of the conditioning MLP")
    ap.add_argument("--calib-strengths", default="0,0.25,0.5,0.625,0.75,0.875,1",
                    help="strengths scored on the hold-out")
    ap.add_argument("--workers", type=int, default=2, help="processes for the VVC coding step")
    ap.add_argument("--stage", choices=("all", "data", "export"), default="all",
                    help="data: bases + teacher only; export: skip training, use a checkpoint in --out")
    ap.add_argument("--export-step", type=int, default=0,
                    help="with --stage export: the checkpoint of this step (0: the last one written)")
    args = ap.parse_args(argv)

    from sggic.photos import read_photos
    from sggic.training.distill import BASE_QPS, export_calibrated, load_cached, prepare_all, train
    from sggic.training.teacher import CROP, MARGIN, crop_origin, load_teacher, prepare_teacher

    out = Path(args.out)
    log = open_log(out)

    t_start = time.time()
    photos = read_photos(args.photos, split="train")
    if not photos:
        raise SystemExit(f"no train photos in {args.photos}")
    val_ids, fit_ids = holdout_split(photos)
    tqps = tuple(int(q) for q in args.teacher_qps.split(","))
    log(f"args {vars(args)}")
    log(f"fit on {len(fit_ids)} train photos {fit_ids}; hold-out {val_ids}")
    paths = prepare_all(photos, args.cache, reuse_dir=args.reuse, workers=args.workers, log=log, qpa=args.qpa)
    views = load_cached(paths)
    fit_views = {k: v for k, v in views.items() if k in fit_ids}
    val_views = {k: v for k, v in views.items() if k in val_ids}
    t_ids = sorted(fit_ids)[:args.teacher_photos or None]
    prepare_teacher({k: fit_views[k] for k in t_ids}, tqps, args.teacher_cache, threads=args.threads, log=log,
                    crops=args.teacher_crops)
    teacher = {}
    for pid in t_ids:
        for qp in tqps:
            for k in range(args.teacher_crops):
                y, x = crop_origin(pid, qp, k=k)
                teacher[(pid, qp, k)] = (y, x, load_teacher(args.teacher_cache, pid, qp, k))
    t_prep = time.time() - t_start
    log(f"data ready in {t_prep:.0f}s: {len(fit_views)} photos, {len(teacher)} teacher crops")
    if args.stage == "data":
        return 0
    init = Path(args.init)
    if args.stage == "export":
        hist = json.loads((out / "history.json").read_text())
        from sggic.restore.generative import DEFAULT_CONFIG

        pick = [h for h in hist if h["step"] == args.export_step] if args.export_step else hist[-1:]
        if not pick:
            raise SystemExit(f"no checkpoint of step {args.export_step} in {out / 'history.json'}")
        res = {"last": pick[0]["path"], "history": hist, "config": dict(DEFAULT_CONFIG),
               "train_seconds": pick[0]["elapsed_s"], "step": pick[0]["step"]}
    else:
        res = train(fit_views, teacher, out, init=init, steps=args.steps, seed=args.seed, batch=args.batch,
                    crop=args.crop, lr=args.lr, warmup=args.warmup, mse_weight=args.mse_weight, ssim_weight=args.ssim_weight,
                    lap_weight=args.lap_weight, p_teacher=args.p_teacher, ckpt_every=args.ckpt_every,
                    threads=args.threads, stop_after=args.stop_after or None,
                    cond_lr_scale=args.cond_lr_scale, loss=args.loss, blend_max=args.blend_max,
                    hf_weight=args.hf_weight, band_sigma=args.band_sigma, blend_clip=args.blend_clip, log=log)
        res["step"] = res["history"][-1]["step"]
    from safetensors.numpy import load_file

    state = load_file(res["last"])
    meta = {
        "config": res["config"], "steps": args.steps, "step": res["step"], "seed": args.seed,
        "train_photos": fit_ids, "holdout_photos": val_ids, "base_view": "s512 (short side 512, centre crop)",
        "teacher": f"realesrgan x4plus restorer on {args.teacher_crops} {CROP}x{CROP} base crop(s) per (photo, qp), "
                   f"{MARGIN}-px margin dropped", "teacher_qps": list(tqps), "teacher_photos": t_ids,
        "bases": "VVC " + ("QPA on" if args.qpa else "QPA off") + ", qps " + ",".join(map(str, BASE_QPS)),
        "loss": args.loss, "blend_max": args.blend_max, "hf_weight": args.hf_weight, "band_sigma": args.band_sigma,
        **({"blend_clip": args.blend_clip} if args.blend_clip else {}),
        "init": f"{init.name} sha256 {hashlib.sha256(init.read_bytes()).hexdigest()[:16]}",
        "train_seconds": res["train_seconds"],
        "command": "scripts/train_generative.py " + " ".join(_portable(a) for a in (sys.argv[1:] if argv is None else argv)),
    }
    export_calibrated(state, meta, val_views, Path(args.export),
                      qps=tuple(int(q) for q in args.calib_qps.split(",")),
                      strengths=tuple(float(x) for x in args.calib_strengths.split(",")),
                                 max_psnr_loss=args.max_psnr_loss, max_ssimulacra2_loss=args.max_ssimulacra2_loss,
                                 log=log)
    # runs/ only (ignored): machine paths are fine here
    manifest = {**meta, "args": vars(args), "prep_seconds": round(t_prep, 1),
                "total_seconds": round(time.time() - t_start, 1), "history": res["history"]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    log(f"exported {args.export}; total {time.time() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
