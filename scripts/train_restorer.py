#!/usr/bin/env python
"""Reproducible training of the fitted restorer (sggic/weights/restorer-fitted.safetensors).

    .venv/bin/python scripts/train_restorer.py            # the shipped weights' settings

1. Data: the ``train`` photos of data/photos.tsv (never ``dev``), each as the
   views in ``sggic.training.data.VIEWS``, downsampled 2x and coded by our VVC base layer
   at every qp of the view (cached under --cache; ~10 min the first time on 2 cores).
2. Hold-out: the train photos ``sorted(ids)[::7]`` (Aqua, FallenLeaf, Wood, sunset) are
   kept out of training and score each checkpoint (``train.selection_score``).
3. Train --steps generator steps with --seed, --threads torch threads (determinism needs
   the same count), pick the best checkpoint on the hold-out, calibrate the decoder-side
   residual gain on the hold-out (``train.calibrate_gain``), export with the settings in
   the metadata.
Writes a log and manifest.json (data list, seed, wall times, validation history) to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from sggic.training.script import add_schedule_args, holdout_split, open_log

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=None, help="photo list (default: data/photos.tsv)")
    ap.add_argument("--cache", default=str(ROOT / "runs/restorer-cache"))
    ap.add_argument("--out", default=str(ROOT / "runs/restorer-train"))
    ap.add_argument("--export", default=str(ROOT / "sggic/weights/restorer-fitted.safetensors"))
    add_schedule_args(ap, steps=1100, lr=3e-4)
    ap.add_argument("--adv-weight", type=float, default=0.005)
    ap.add_argument("--ssim-weight", type=float, default=0.05)
    ap.add_argument("--ckpt-every", type=int, default=275)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="processes for the VVC coding step")
    ap.add_argument("--select-only", action="store_true",
                    help="skip training: pick the best checkpoint of --out's history.json, calibrate, export")
    args = ap.parse_args(argv)

    from sggic.photos import read_photos, require_installed
    from sggic.training.data import VIEWS, load_views, prepare
    from sggic.training.train import calibrate_gain, save_generator, train

    out = Path(args.out)
    log = open_log(out)

    t_start = time.time()
    photos = sorted(read_photos(args.photos, split="train"), key=lambda p: p.id)
    if not photos:
        raise SystemExit(f"no train photos in {args.photos or 'data/photos.tsv'}")
    require_installed(photos)
    val_ids, fit_ids = holdout_split(photos)
    log(f"args {vars(args)}")
    log(f"fit on {len(fit_ids)} train photos {fit_ids}; hold-out {val_ids}")
    paths = prepare(photos, args.cache, tuple(VIEWS), workers=args.workers, log=log)
    t_prep = time.time() - t_start
    by_name = {p.name: p for p in paths}
    fit_paths = [by_name[f"{i}.{v}.npz"] for v in VIEWS for i in fit_ids]
    val_paths = [by_name[f"{i}.s512.npz"] for i in val_ids]
    fit_views, val_views = load_views(fit_paths), load_views(val_paths)
    weights = [2.0 if p.name.endswith(".s512.npz") else 1.0 for p in fit_paths]
    log(f"data ready in {t_prep:.0f}s: {len(fit_views)} views to fit, {len(val_views)} to validate")
    if args.select_only:
        from sggic.restore.fitted import DEFAULT_CONFIG

        history = json.loads((out / "history.json").read_text())
        scored = [h for h in history if "score" in h]
        prev = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
        res = {"best": max(scored, key=lambda h: h["score"]), "history": history, "config": dict(DEFAULT_CONFIG),
               "train_seconds": prev.get("train_seconds", history[-1]["elapsed_s"])}
    else:
        res = train(fit_views, val_views, out, steps=args.steps, seed=args.seed, batch=args.batch, crop=args.crop,
                    lr=args.lr, adv_weight=args.adv_weight, ssim_weight=args.ssim_weight,
                    ckpt_every=args.ckpt_every, threads=args.threads, view_weights=weights, log=log)
    best = res["best"]
    log(f"best checkpoint: step {best['step']} score {best.get('score')}")

    from safetensors.torch import load_file

    state = load_file(best["path"])
    from sggic.restore.fitted import build_net

    net = build_net(**res["config"])
    net.load_state_dict(state)
    gain, gain_rows = calibrate_gain(net, val_views, log=log)
    log(f"residual gain {gain}")
    meta = {
        "residual_gain": str(gain), "gain_calibration": gain_rows,
        "config": res["config"], "step": best["step"], "seed": args.seed, "steps": args.steps,
        "train_photos": fit_ids, "holdout_photos": val_ids, "views": {k: [v[0], v[1], list(v[2])] for k, v in VIEWS.items()},
        "train_seconds": res["train_seconds"], "command": "scripts/train_restorer.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    Path(args.export).parent.mkdir(parents=True, exist_ok=True)
    save_generator(net, Path(args.export), meta)
    manifest = {**meta, "args": vars(args), "prep_seconds": round(t_prep, 1),
                "total_seconds": round(time.time() - t_start, 1), "best": best, "history": res["history"]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    log(f"exported {args.export}; total {time.time() - t_start:.0f}s (prep {t_prep:.0f}s, train {res['train_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
