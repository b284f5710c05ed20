"""The content-adaptive decoder's image features (the paper's DynDiff inputs).

Eleven features in the paper; each profile uses the ones it can compute, and a model is
trained for exactly its profile's set (a missing feature is an error, never replaced):

* offline (numpy only, computed on the decoded **base layer**, i.e. half resolution,
  which keeps them under 10 % of a decode; docs/adapt.md has the timing):
  ``canny`` edge density (Canny, thresholds 100/200, OpenCV's definition reimplemented
  in numpy so decoding needs neither OpenCV nor scipy), ``laplacian`` variance (blur),
  ``brisque``, ``niqe`` (sggic.metrics), ``bpp`` (the file's bits per pixel);
* full: also ``clip`` (CLIP ViT-B/16 cosine between the base and the description),
  ``clipiqa+``, ``musiq``, ``dbcnn``, ``hyperiqa``, ``liqe`` through IQA-PyTorch
  (``pyiqa``), which is not a dependency: without it these are a one-line
  BackendUnavailable.

Scaling (the paper's): min-max over the training set for ``laplacian``, ``niqe``,
``liqe`` and ``bpp`` (the minima and maxima are stored with the MLP weights); ``brisque``
and ``musiq`` divided by 100; the others are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ..config import DEFAULT_CONFIG, RunConfig
from ..errors import BackendUnavailable, InputError
from .hysteresis import connected_to_seeds

Scaling = Literal["raw", "minmax", "div100"]

CANNY_LOW, CANNY_HIGH = 100, 200


# ---------------------------------------------------------------- numpy features

def gray_u8(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's RGB2GRAY on uint8: (9798 R + 19235 G + 3735 B + 16384) >> 15."""
    if rgb.ndim == 2:
        return rgb.astype(np.uint8)
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    return ((r * 9798 + g * 19235 + b * 3735 + 16384) >> 15).astype(np.uint8)


def _sobel(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.pad(g.astype(np.int32), 1, mode="edge")  # OpenCV's Canny: BORDER_REPLICATE
    dx = (p[:-2, 2:] - p[:-2, :-2]) + 2 * (p[1:-1, 2:] - p[1:-1, :-2]) + (p[2:, 2:] - p[2:, :-2])
    dy = (p[2:, :-2] - p[:-2, :-2]) + 2 * (p[2:, 1:-1] - p[:-2, 1:-1]) + (p[2:, 2:] - p[:-2, 2:])
    return dx, dy


def canny(gray: np.ndarray, low: float = CANNY_LOW, high: float = CANNY_HIGH) -> np.ndarray:
    """Boolean edge map as OpenCV's ``Canny(gray, low, high)`` (3x3 Sobel, L1 magnitude,
    non-maximum suppression in four directions, 8-connected hysteresis)."""
    dx, dy = _sobel(gray)
    mag = np.abs(dx) + np.abs(dy)
    m = np.pad(mag, 1)  # magnitude 0 outside the image
    c = m[1:-1, 1:-1]
    xs, ys = np.abs(dx).astype(np.float64), np.abs(dy).astype(np.float64)
    tg22 = xs * 0.4142135623730950
    tg67 = tg22 + 2 * xs
    horiz = ys < tg22
    vert = ys > tg67
    diag = ~horiz & ~vert
    left, right = m[1:-1, :-2], m[1:-1, 2:]
    up, down = m[:-2, 1:-1], m[2:, 1:-1]
    same_sign = (dx ^ dy) >= 0  # gradient along the main diagonal
    # s = +1 (same sign): compare (i-1, j-1) and (i+1, j+1); s = -1: (i-1, j+1) and (i+1, j-1)
    d1 = np.where(same_sign, m[:-2, :-2], m[:-2, 2:])
    d2 = np.where(same_sign, m[2:, 2:], m[2:, :-2])
    keep = (horiz & (c > left) & (c >= right)) | (vert & (c > up) & (c >= down)) | (diag & (c > d1) & (c > d2))
    cand = keep & (c > low)
    return connected_to_seeds(cand, cand & (c > high))


def canny_density(rgb: np.ndarray) -> float:
    """Fraction of pixels on a Canny(100, 200) edge."""
    return float(canny(gray_u8(rgb)).mean())


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image (OpenCV ``Laplacian``, ksize 1,
    reflect-101 borders): low means blurred."""
    g = gray_u8(rgb).astype(np.float64)
    p = np.pad(g, 1, mode="reflect")
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * g
    return float(lap.var())


# ---------------------------------------------------------------- the feature table

@dataclass(frozen=True)
class FeatureInput:
    base: np.ndarray  # decoded base layer, (h, w, 3) uint8
    bpp: float
    prompt: str = ""


@dataclass(frozen=True)
class Feature:
    name: str
    scaling: Scaling
    backend: str  # "numpy" (always here) or what it needs ("pyiqa", "clip")
    summary: str


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("clip", "raw", "clip", "CLIP ViT-B/16 cosine between the base image and the description"),
    Feature("canny", "raw", "numpy", "Canny(100, 200) edge density"),
    Feature("laplacian", "minmax", "numpy", "variance of the Laplacian (blur)"),
    Feature("brisque", "div100", "numpy", "BRISQUE (sggic.metrics)"),
    Feature("niqe", "minmax", "numpy", "NIQE (sggic.metrics)"),
    Feature("clipiqa+", "raw", "pyiqa", "CLIP-IQA+ (IQA-PyTorch 'clipiqa+')"),
    Feature("musiq", "div100", "pyiqa", "MUSIQ (IQA-PyTorch 'musiq')"),
    Feature("dbcnn", "raw", "pyiqa", "DBCNN (IQA-PyTorch 'dbcnn')"),
    Feature("hyperiqa", "raw", "pyiqa", "HyperIQA (IQA-PyTorch 'hyperiqa')"),
    Feature("liqe", "minmax", "pyiqa", "LIQE (IQA-PyTorch 'liqe')"),
    Feature("bpp", "minmax", "numpy", "the file's bits per pixel"),
)}

OFFLINE_FEATURES: tuple[str, ...] = ("canny", "laplacian", "brisque", "niqe", "bpp")
FULL_FEATURES: tuple[str, ...] = tuple(FEATURES)  # the paper's 11, in the paper's order


def _numpy_feature(name: str, x: FeatureInput) -> float:
    if name == "canny":
        return canny_density(x.base)
    if name == "laplacian":
        return laplacian_variance(x.base)
    if name == "bpp":
        return float(x.bpp)
    from ..metrics.registry import get_metric

    return float(get_metric(name)(x.base))


def min_base_side(names: tuple[str, ...]) -> int:
    """The smallest base side the features can be computed on (NIQE: one 96x96 patch)."""
    from ..metrics import brisque, niqe

    side = 1
    if "niqe" in names:
        side = max(side, niqe.MIN_SIDE)
    if "brisque" in names:
        side = max(side, brisque.MIN_SIDE)
    return side


def check_features(names: tuple[str, ...]) -> None:
    """BackendUnavailable (one line) unless every feature in ``names`` can be computed here."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise InputError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    backends = {FEATURES[n].backend for n in names}
    if "pyiqa" in backends or "clip" in backends:
        try:
            import pyiqa  # noqa: F401
        except ImportError:
            need = [n for n in names if FEATURES[n].backend != "numpy"]
            raise BackendUnavailable(
                f"features {', '.join(need)} need IQA-PyTorch (pip install pyiqa) and their weights; "
                "unavailable here") from None


class FeatureExtractor:
    """Computes a fixed, ordered feature set; the full profile's network features are
    built once (IQA-PyTorch, on ``config.device``) and never downloaded by sggic."""

    def __init__(self, names: tuple[str, ...], config: RunConfig | None = None) -> None:
        check_features(names)
        self.names = tuple(names)
        self.config = config or DEFAULT_CONFIG
        self._nets: dict[str, Callable[[FeatureInput], float]] = {}

    def _network(self, name: str) -> Callable[[FeatureInput], float]:  # pragma: no cover - needs pyiqa
        if name not in self._nets:
            import pyiqa
            import torch

            dev = torch.device(self.config.device)
            if name == "clip":
                net = pyiqa.create_metric("clipscore", device=dev)

                def run(x: FeatureInput, net=net) -> float:  # type: ignore[no-untyped-def]
                    t = torch.from_numpy(x.base).permute(2, 0, 1)[None].float().div(255).to(dev)
                    return float(net(t, caption_list=[x.prompt or ""]).item()) / 2.5  # clipscore = 2.5 * cosine
            else:
                net = pyiqa.create_metric(name, device=dev, as_loss=False)

                def run(x: FeatureInput, net=net) -> float:  # type: ignore[no-untyped-def]
                    t = torch.from_numpy(x.base).permute(2, 0, 1)[None].float().div(255).to(dev)
                    return float(net(t).item())
            self._nets[name] = run
        return self._nets[name]

    def __call__(self, x: FeatureInput) -> dict[str, float]:
        if x.base.ndim != 3 or x.base.shape[2] != 3 or x.base.dtype != np.uint8:
            raise InputError("features need an (h, w, 3) uint8 base image")
        out = {}
        for n in self.names:
            v = _numpy_feature(n, x) if FEATURES[n].backend == "numpy" else self._network(n)(x)
            if not np.isfinite(v):
                raise InputError(f"feature {n} is not finite on this image")
            out[n] = float(v)
        return out


# ---------------------------------------------------------------- scaling

@dataclass(frozen=True)
class Scaler:
    """The paper's per-feature scaling; ``lo``/``hi`` are the training minima and maxima
    (used only for min-max features)."""

    names: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]

    @classmethod
    def fit(cls, names: tuple[str, ...], rows: np.ndarray) -> "Scaler":
        rows = np.asarray(rows, dtype=np.float64)
        return cls(tuple(names), tuple(float(v) for v in rows.min(0)), tuple(float(v) for v in rows.max(0)))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        x = np.array(rows, dtype=np.float64, ndmin=2)
        out = np.empty_like(x)
        for i, n in enumerate(self.names):
            s = FEATURES[n].scaling
            if s == "minmax":
                span = self.hi[i] - self.lo[i]
                out[:, i] = (x[:, i] - self.lo[i]) / span if span > 0 else 0.0
            elif s == "div100":
                out[:, i] = x[:, i] / 100.0
            else:
                out[:, i] = x[:, i]
        return out
