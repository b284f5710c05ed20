"""The paper's settings MLP, run in numpy; its weights file (safetensors + JSON metadata).

Shape (paper and reference code): ``Linear(F, 16) - ReLU - Linear(16, 16) - ReLU -
Linear(16, 1) - Sigmoid``; the output p in [0, 1] is mapped linearly to the setting's
range (steps [2, 80], guidance [0, 10], strength [0, 1]). Training (torch) is in
:mod:`sggic.adapt.train`; decoding never imports torch.

A model file holds one or more *heads* (one MLP per setting) over one feature set:
tensors ``<head>.w0 b0 w1 b1 w2 b2`` (float32, torch's ``(out, in)`` layout) and the
metadata key ``sggic-adapt`` (JSON): ``features``, the scaler's ``lo``/``hi``, per head
its ``range``, ``lambda`` and ``lr``, and provenance (restorer and its weights hash,
photo list, samples, target, command).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MissingWeights
from .features import FEATURES, Scaler

HIDDEN = 16
META_KEY = "sggic-adapt"
LAYERS = ("w0", "b0", "w1", "b1", "w2", "b2")


def mlp_forward(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """p in [0, 1] for each row of the scaled features ``x`` (n, F); float64 throughout."""
    h = np.maximum(x @ params["w0"].T.astype(np.float64) + params["b0"], 0.0)
    h = np.maximum(h @ params["w1"].T.astype(np.float64) + params["b1"], 0.0)
    z = h @ params["w2"].T.astype(np.float64) + params["b2"]
    return (1.0 / (1.0 + np.exp(-z)))[:, 0]


@dataclass(frozen=True)
class Head:
    name: str  # the setting: "strength", "steps" or "guidance"
    lo: float
    hi: float
    params: dict[str, np.ndarray]
    lam: float = 0.0
    lr: float = 1e-3

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.lo + (self.hi - self.lo) * mlp_forward(self.params, x)


@dataclass
class AdaptModel:
    """Feature names, their scaler, and one MLP head per setting."""

    scaler: Scaler
    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return self.scaler.names

    def predict(self, feats: dict[str, float]) -> dict[str, float]:
        missing = [n for n in self.features if n not in feats]
        if missing:
            raise InputError(f"the settings model needs feature(s) {', '.join(missing)}")
        x = self.scaler(np.array([[feats[n] for n in self.features]]))
        return {h.name: float(h.predict(x)[0]) for h in self.heads.values()}

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {f"{h.name}.{k}": np.ascontiguousarray(h.params[k], dtype=np.float32)
                   for h in self.heads.values() for k in LAYERS}
        meta = dict(self.meta)
        meta.update({"features": list(self.features), "lo": list(self.scaler.lo), "hi": list(self.scaler.hi),
                     "heads": {h.name: {"range": [h.lo, h.hi], "lambda": h.lam, "lr": h.lr}
                               for h in self.heads.values()}})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def load_model(path: str | Path) -> AdaptModel:
    """Read a model file; MissingWeights if absent, InputError if it is not one."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise MissingWeights(f"no settings model at {p}")
    try:
        with safe_open(str(p), framework="numpy") as f:
            raw = (f.metadata() or {}).get(META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if raw is None:
            raise ValueError("no sggic-adapt metadata")
        meta = json.loads(raw)
        names = tuple(meta["features"])
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        scaler = Scaler(names, tuple(float(v) for v in meta["lo"]), tuple(float(v) for v in meta["hi"]))
        heads = {}
        for name, h in meta["heads"].items():
            params = {k: tensors[f"{name}.{k}"].astype(np.float64) for k in LAYERS}
            if params["w0"].shape != (HIDDEN, len(names)) or params["w2"].shape != (1, HIDDEN):
                raise ValueError(f"head {name} has the wrong shape")
            heads[name] = Head(name, float(h["range"][0]), float(h["range"][1]), params,
                               float(h.get("lambda", 0.0)), float(h.get("lr", 1e-3)))
    except Exception as exc:  # safetensors' own error type, bad JSON, missing keys, wrong shapes
        raise InputError(f"{p} is not a settings model file ({exc})") from None
    return AdaptModel(scaler, heads, meta)
