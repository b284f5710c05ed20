#!/usr/bin/env python
"""The done-when table of content-adaptive decoding (issue 11), on the dev photos.

    PYTHONPATH=. .venv/bin/python scripts/eval_adapt.py [--restorer generative] [--cost]

Samples come from the label cache (sggic/adapt/labels.py; ``sggic train-adapt`` and this
script build what is missing): each dev photo's 512x512 test image coded at 0.02, 0.03
and 0.05 bpp (the whole picture, or with --crop 0/1 a 128x128 base window), and the
restorer's output on it. For every sample:

- adaptive: the shipped model (``sggic/weights/adapt-<restorer>.safetensors``) predicts
  the strength from the whole base's features, as the decoder does; the window is
  restored at that strength and scored;
- best fixed: the single grid strength with the best mean target on the *train*
  samples the model was trained on (read from the cache);
- for reference: the faithful end (s = 0), the generative end (s = 1) and the oracle
  (the best grid strength per sample, i.e. the label).

Target: SSIMULACRA2 - w BRISQUE, with the w the model was trained with (labels.py). Prints a Markdown table of means per rate
and overall, the per-sample wins, and with ``--cost`` the feature time against a whole
offline 512x512 decode (medians of 5, same process). Writes JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _score(sample, s: float, restorer) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """SSIMULACRA2 and BRISQUE of ``sample`` restored at exactly ``s``: the cached scores on
    the grid; off the grid the stand-in's blend, or a fresh restore of the sample's base by
    ``restorer`` (as the decoder would run it), never the nearest grid point."""
    from sggic.metrics.registry import get_metric
    from sggic.restore.base import RestoreContext

    key = round(float(s), 1)
    if abs(key - s) < 1e-9 and key in sample.scores:
        return sample.scores[key]
    if sample.ends is not None:
        img = sample.output(s)
    else:
        img = restorer.restore(sample.base, RestoreContext(sample.codec_id, sample.quality, strength=s))
    return get_metric("ssimulacra2")(sample.original, img), get_metric("brisque")(img)


def evaluate(restorer: str, model_file: Path | None, cache: Path, rates: tuple[float, ...], crop: int) -> dict:
    from sggic.adapt import labels as L
    from sggic.adapt.adaptive import model_path
    from sggic.adapt.mlp import load_model
    from sggic.adapt.standin import NAME
    from sggic.adapt.train import best_fixed_strength, best_strengths, sample_features
    from sggic.restore.registry import get_restorer

    model = load_model(model_file or model_path(restorer))
    train_stems = set(model.meta["samples"])
    train_keys = [k for k in L.keys_for("train", tuple(L.CROPS), rates) if k.stem in train_stems]
    train = L.prepare(train_keys, restorer, cache)
    top = float(model.meta.get("strength_ceiling", 1.0))  # the range the model chooses in (adapt.train.strength_ceiling)
    w = L.model_brisque_weight(model.meta)
    fixed = best_fixed_strength(train, top, w)
    dev = L.prepare(L.keys_for("dev", (crop,), rates), restorer, cache, log=lambda m: print(m, file=sys.stderr))
    feats = sample_features(dev, model.features)
    rest = None if restorer == NAME else get_restorer(restorer)  # restores off-grid picks (loads once)
    pred = [float(np.clip(model.predict(dict(zip(model.features, r)))["strength"], 0, top)) for r in feats]
    oracle = best_strengths(dev, top, w)
    rows = []
    for smp, p, o in zip(dev, pred, oracle):
        row = {"sample": smp.key.stem, "rate": smp.key.rate, "bpp": smp.bpp, "strength_adaptive": p}
        for name, s in (("adaptive", p), ("fixed", fixed), ("s0", 0.0), ("s1", 1.0), ("oracle", float(o))):
            ss2, brq = _score(smp, s, rest)
            row[name] = {"strength": s, "ssimulacra2": ss2, "brisque": brq, "target": L.target(ss2, brq, w)}
        rows.append(row)
    return {"restorer": restorer, "model_command": model.meta.get("command"), "best_fixed_strength": fixed, "brisque_weight": w, "crop": crop,
            "train_samples": len(train), "rows": rows}


def table(res: dict, rates: tuple[float, ...]) -> str:
    names = (("adaptive", "adaptive (CAD)"), ("fixed", f"best fixed on train (s = {res['best_fixed_strength']:g})"),
             ("s0", "s = 0 (faithful end)"), ("s1", "s = 1 (generative end)"), ("oracle", "oracle (per-sample grid best)"))
    lines = ["| rate | setting | mean strength | target | SSIMULACRA2 | BRISQUE |", "|---|---|---|---|---|---|"]
    for rate in (*rates, None):
        rows = [r for r in res["rows"] if rate is None or r["rate"] == rate]
        label = "all" if rate is None else f"{rate:g}"
        for key, title in names:
            m = {k: float(np.mean([r[key][k] for r in rows])) for k in ("strength", "target", "ssimulacra2", "brisque")}
            lines.append(f"| {label} | {title} | {m['strength']:.2f} | {m['target']:.2f} | {m['ssimulacra2']:.2f} | "
                         f"{m['brisque']:.2f} |")
    wins = sum(r["adaptive"]["target"] > r["fixed"]["target"] for r in res["rows"])
    ties = sum(r["adaptive"]["target"] == r["fixed"]["target"] for r in res["rows"])
    lines.append(f"\nadaptive vs best fixed, per sample: {wins} better, {ties} equal, "
                 f"{len(res['rows']) - wins - ties} worse (of {len(res['rows'])})")
    return "\n".join(lines)


def lambda_table(restorer: str, cache: Path, rates: tuple[float, ...], model_file: Path | None,
                 crop: int) -> list[dict]:
    """The paper's lambda sweep for the head that exists here (offline: the strength):
    mean predicted value on dev per lambda, same train samples and seed as the shipped model."""
    from sggic.adapt import labels as L
    from sggic.adapt.adaptive import model_path
    from sggic.adapt.mlp import load_model
    from sggic.adapt.train import PAPER_LAMBDAS, sample_features, train_strength

    shipped = load_model(model_file or model_path(restorer))
    stems = set(shipped.meta["samples"])
    train = L.prepare([k for k in L.keys_for("train", tuple(L.CROPS), rates) if k.stem in stems], restorer, cache)
    dev = L.prepare(L.keys_for("dev", (crop,), rates), restorer, cache)
    feats = sample_features(dev, shipped.features)
    out = []
    for lam in PAPER_LAMBDAS:
        m = train_strength(train, restorer, "lambda sweep", lam=lam, brisque_weight=L.model_brisque_weight(shipped.meta))
        pred = [m.predict(dict(zip(m.features, r)))["strength"] for r in feats]
        out.append({"lambda": lam, "mean_strength_dev": float(np.mean(pred))})
        print(f"| {lam:g} | {np.mean(pred):.3f} |", flush=True)
    return out


def cost(reps: int = 5) -> dict:
    """Feature time vs a whole offline decode of a 512x512 dev photo at 0.03 bpp (medians):
    the default restorer with ``fixed=True``, i.e. the decode without the features."""
    from sggic.adapt.features import OFFLINE_FEATURES, FeatureExtractor, FeatureInput
    from sggic.adapt.labels import test_image
    from sggic.photos import read_photos
    from sggic.pipeline import decode_detailed, encode_detailed

    img = test_image(read_photos(split="dev")[0].id)
    data = encode_detailed(img, bpp=0.03).data
    r = decode_detailed(data, fixed=True)  # warm-up: loads the network
    ext = FeatureExtractor(OFFLINE_FEATURES)
    ext(FeatureInput(r.base, 0.03))  # warm-up: loads the BRISQUE/NIQE models
    dec, feat, per = [], [], {n: [] for n in OFFLINE_FEATURES}
    for _ in range(reps):
        t = time.perf_counter()
        decode_detailed(data, fixed=True)
        dec.append(time.perf_counter() - t)
        t = time.perf_counter()
        ext(FeatureInput(r.base, 0.03))
        feat.append(time.perf_counter() - t)
        for n in OFFLINE_FEATURES:
            t = time.perf_counter()
            FeatureExtractor((n,))(FeatureInput(r.base, 0.03))
            per[n].append(time.perf_counter() - t)
    out = {"decode_fixed_s": statistics.median(dec), "features_s": statistics.median(feat),
           "per_feature_s": {n: statistics.median(v) for n, v in per.items()}}
    out["ratio"] = out["features_s"] / out["decode_fixed_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--restorer", default="generative")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one for --restorer)")
    ap.add_argument("--cache", default="runs/adapt-cache")
    ap.add_argument("--rates", default="0.02,0.03,0.05")
    ap.add_argument("--json", default="runs/eval-adapt.json")
    ap.add_argument("--cost", action="store_true", help="also time the features against a 512x512 decode")
    ap.add_argument("--lambdas", action="store_true", help="also the lambda -> mean predicted strength table")
    ap.add_argument("--no-eval", action="store_true", help="skip the main table")
    ap.add_argument("--crop", type=int, default=2, help="dev window: 2 the whole picture (default), 0 or 1 a 128x128 base window")
    a = ap.parse_args()
    rates = tuple(float(r) for r in a.rates.split(","))
    out: dict = {}
    if not a.no_eval:
        out = evaluate(a.restorer, Path(a.model) if a.model else None, Path(a.cache), rates, a.crop)
        print(table(out, rates))
    if a.lambdas:
        print("\n| lambda | mean predicted strength (dev) |\n|---|---|")
        out["lambdas"] = lambda_table(a.restorer, Path(a.cache), rates, Path(a.model) if a.model else None, a.crop)
    if a.cost:
        out["cost"] = cost()
        c = out["cost"]
        print(f"\nfeatures {c['features_s'] * 1000:.0f} ms vs offline decode (default restorer, --fixed) {c['decode_fixed_s'] * 1000:.0f} ms "
              f"= {100 * c['ratio']:.1f} %; per feature (ms): "
              + ", ".join(f"{n} {v * 1000:.0f}" for n, v in c["per_feature_s"].items()))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
