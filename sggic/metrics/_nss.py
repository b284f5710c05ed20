"""Natural-scene-statistics building blocks shared by BRISQUE and NIQE.

Both metrics (Mittal, Moorthy & Bovik 2012; Mittal, Soundararajan & Bovik 2013) rest on
the same observation: in pristine photos the locally normalised luminance ("MSCN"
coefficients) and the products of neighbouring MSCN coefficients follow (asymmetric)
generalised Gaussian laws whose shapes distortions change. This module computes the
MSCN field and fits those laws by moment matching, as the papers describe.

No scipy here (its import costs 0.12-0.19 s of a fresh decode, whose content-adaptive
stage computes BRISQUE and NIQE): the Gaussian blur is ``_filters.correlate1d``
(bit-identical to ``scipy.ndimage.correlate1d``) and log-gamma is ``math.lgamma``
(within a few ulp of ``scipy.special.gammaln``; docs/metrics.md has the measured effect).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._filters import correlate1d

REC601 = (0.2989, 0.5870, 0.1140)  # MATLAB rgb2gray (NIQE's reference code)
REC709 = (0.2125, 0.7154, 0.0721)  # skimage rgb2gray (the shipped BRISQUE model's features)


def luma(img: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    """Grey image on the 0-255 scale as float64."""
    w = np.asarray(weights, dtype=np.float64)
    return img.astype(np.float64) @ w


@lru_cache(maxsize=4)
def _gauss7(sigma: float) -> np.ndarray:
    x = np.arange(7, dtype=np.float64) - 3.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def mscn(gray: np.ndarray, c: float = 1.0, mode: str = "nearest") -> tuple[np.ndarray, np.ndarray]:
    """Mean-subtracted contrast-normalised coefficients and the local deviation field.

    7x7 Gaussian window with sigma 7/6 (both papers). ``c`` = 1 on the 0-255 scale keeps
    flat regions from dividing by zero. ``mode`` is the border handling, named as in
    scipy: "constant" (zeros; what BRISQUE and NIQE use) or "nearest" (MATLAB's 'replicate').
    """
    g = _gauss7(7.0 / 6.0)

    def blur(a: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(a, g, 0, mode), g, 1, mode)

    mu = blur(gray)
    sigma = np.sqrt(np.abs(blur(gray * gray) - mu * mu))
    m = (gray - mu) / (sigma + c)
    # Flat areas (clipped sky, JPEG blocks) are exactly zero in exact arithmetic; left to
    # rounding noise (~1e-13) their sign would be random and flip the AGGD side they land on.
    m[np.abs(m) < 1e-9] = 0.0
    return m, sigma


def pair_products(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Products with the horizontal, vertical, main- and anti-diagonal neighbour."""
    return (
        m[:, :-1] * m[:, 1:],
        m[:-1, :] * m[1:, :],
        m[:-1, :-1] * m[1:, 1:],
        m[1:, :-1] * m[:-1, 1:],
    )


def gammaln(x: float) -> float:
    """log |Gamma(x)| (``math.lgamma``: no scipy import at decode time)."""
    return math.lgamma(x)


_SHAPES = np.arange(0.2, 10.0 + 1e-9, 0.001)  # the papers' search grid for the shape


@lru_cache(maxsize=1)
def _ratio_table() -> np.ndarray:
    """Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) on the shape grid; increasing in a."""
    def lg(x: np.ndarray) -> np.ndarray:
        return np.array([math.lgamma(v) for v in x.tolist()])  # 3 x 9801 calls, ~5 ms once

    a = _SHAPES
    return np.exp(2.0 * lg(2.0 / a) - lg(1.0 / a) - lg(3.0 / a))


def _shape_from_ratio(r: float) -> float:
    """Invert the moment ratio (monotone, so interpolation equals a fine grid search)."""
    return float(np.interp(r, _ratio_table(), _SHAPES))


def fit_aggd(x: np.ndarray, zero_right: bool = False) -> tuple[float, float, float, float]:
    """Asymmetric GGD by moment matching: (shape, mean, left variance, right variance).

    The papers split the samples at x < 0 / x > 0. ``zero_right`` counts exact zeros on
    the right side (x >= 0), which is how the features behind the shipped BRISQUE model
    were computed; it matters where the image has flat (e.g. clipped) areas.
    """
    x = x.ravel()
    neg = x[x < 0]
    pos = x[x >= 0] if zero_right else x[x > 0]
    if neg.size == 0 or pos.size == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    lvar = float(np.mean(neg * neg))
    rvar = float(np.mean(pos * pos))
    lstd, rstd = np.sqrt(lvar), np.sqrt(rvar)
    g = lstd / rstd
    r_hat = float(np.mean(np.abs(x))) ** 2 / float(np.mean(x * x))
    r_norm = r_hat * (g**3 + 1.0) * (g + 1.0) / (g * g + 1.0) ** 2
    a = _shape_from_ratio(r_norm)
    # mean of the AGGD: (beta_r - beta_l) Gamma(2/a) / Gamma(1/a), beta = std sqrt(G(1/a)/G(3/a))
    scale = np.exp(0.5 * (gammaln(1.0 / a) - gammaln(3.0 / a)))
    mean = (rstd - lstd) * scale * np.exp(gammaln(2.0 / a) - gammaln(1.0 / a))
    return a, float(mean), lvar, rvar


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    d = np.abs(d)
    near = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
    far = ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
    return np.where(d <= 1.0, near, np.where(d < 2.0, far, 0.0))


def half_size(x: np.ndarray, antialias: bool) -> np.ndarray:
    """Bicubic 2x downscale, output ceil(n/2) per axis, symmetric borders.

    ``antialias=True`` is MATLAB's ``imresize(x, 0.5)`` (Keys a=-0.5, kernel stretched 2x,
    8 taps), which NIQE's reference model was built with. ``antialias=False`` is OpenCV's
    ``resize(fx=0.5, INTER_CUBIC)`` (a=-0.75, 4 taps), which the features of the BRISQUE
    model we load were computed with.
    """
    a, stretch = (-0.5, 2.0) if antialias else (-0.75, 1.0)
    t = int(2 * stretch)
    k = np.arange(-t + 1, t + 1)
    w = _cubic((k - 0.5) / stretch, a)
    w = w / w.sum()
    out = x
    for axis in (0, 1):
        n = out.shape[axis]
        m = (n + 1) // 2
        pad = [(0, 0), (0, 0)]
        pad[axis] = (t, t + 1)
        xp = np.pad(out, pad, mode="symmetric")
        acc = np.zeros_like(np.take(xp, np.arange(m), axis=axis))
        for kk, wk in zip(k, w):
            idx = t + kk + 2 * np.arange(m)
            acc += wk * np.take(xp, idx, axis=axis)
        out = acc
    return out
