"""BRISQUE (Mittal, Moorthy & Bovik, IEEE TIP 2012), own implementation.

Features: 18 per scale (GGD shape and variance of the MSCN field; AGGD shape, mean,
left and right variance of its four neighbour products), at full and half resolution:
36 in all. Score: an epsilon-SVR with RBF kernel, whose support vectors, coefficients,
gamma and rho are read from the libsvm text model shipped in PyPI ``brisque`` 0.2.0
(``models/svm.txt``); features are first mapped to [-1, 1] with the per-feature minima
and maxima of that package's ``models/normalize.pickle`` (read with a data-only
unpickler). Lower is better; pristine photos score about 0-40, heavy distortion 60-100+.

Choices that follow the shipped model's feature convention rather than the 2012 MATLAB
code (measured in docs/metrics.md): Rec.709 luma, zero padding when filtering, the MSCN
shape and variance taken from an asymmetric fit (mean of left and right variance),
exact zeros counted on the right side in the AGGD fits, and an OpenCV-style
(non-antialiased) bicubic half-size for the second scale. A feature vector computed
differently from the model's training features would put the SVR off its data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import BackendUnavailable
from ._assets import load_data_pickle, package_file
from ._checks import check_image, finite
from ._nss import REC709, fit_aggd, half_size, luma, mscn, pair_products

MIN_SIDE = 32
_PADDING = "constant"  # zero padding, as the shipped model's features were computed


@dataclass(frozen=True)
class _Model:
    support: np.ndarray  # (n_sv, 36) scaled feature vectors
    coef: np.ndarray  # (n_sv,)
    gamma: float
    rho: float
    fmin: np.ndarray  # (36,)
    fmax: np.ndarray  # (36,)


def _parse_libsvm(text: str, n_features: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    header: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines) and lines[i].strip() != "SV":
        key, _, value = lines[i].strip().partition(" ")
        header[key] = value
        i += 1
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise BackendUnavailable("brisque unavailable: svm.txt is not an RBF epsilon-SVR model")
    body = lines[i + 1:]
    # the shipped file lists features 1..n in order on every row: parsed in C; else the loop
    coef, support = _dense_rows("\n".join(body), n_features) or _sparse_rows(body, n_features)
    if int(header.get("total_sv", len(coef))) != len(coef):
        raise BackendUnavailable("brisque unavailable: svm.txt support-vector count mismatch")
    return support, coef, float(header["gamma"]), float(header["rho"])


def _sparse_rows(lines: list[str], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, support vectors) of rows ``coef i:v ...`` that may leave features out."""
    rows = [ln.split() for ln in lines if ln.strip()]
    support = np.zeros((len(rows), n_features))
    coef = np.empty(len(rows))
    for r, parts in enumerate(rows):
        coef[r] = float(parts[0])
        for item in parts[1:]:
            idx, _, val = item.partition(":")
            support[r, int(idx) - 1] = float(val)  # libsvm indices are 1-based, sparse
    return coef, support


def _dense_rows(body: str, n_features: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(coefficients, support vectors) parsed in C when every row is ``coef 1:v1 ... n:vn``
    (~2x faster than the general loop on the shipped 770 rows, same floats); else None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy warns where text stops parsing
        values = np.fromstring(body.replace(":", " "), dtype=np.float64, sep=" ")
    cols = 1 + 2 * n_features
    if values.size == 0 or values.size % cols or len(body.split()) != values.size // cols * (1 + n_features):
        return None
    table = values.reshape(-1, cols)
    if not np.array_equal(table[:, 1::2], np.broadcast_to(np.arange(1, n_features + 1), (len(table), n_features))):
        return None
    return table[:, 0].copy(), np.ascontiguousarray(table[:, 2::2])


@lru_cache(maxsize=1)
def _model() -> _Model:
    svm_path = package_file("brisque", "brisque", "models/svm.txt")
    norm_path = package_file("brisque", "brisque", "models/normalize.pickle")
    norm = load_data_pickle(norm_path)
    if not isinstance(norm, dict) or "min_" not in norm or "max_" not in norm:
        raise BackendUnavailable("brisque unavailable: normalize.pickle lacks min_/max_")
    fmin = np.asarray(norm["min_"], dtype=np.float64)
    fmax = np.asarray(norm["max_"], dtype=np.float64)
    if fmin.shape != (36,) or fmax.shape != (36,):
        raise BackendUnavailable("brisque unavailable: normalize.pickle has the wrong length")
    support, coef, gamma, rho = _parse_libsvm(svm_path.read_text(), 36)
    return _Model(support, coef, gamma, rho, fmin, fmax)


def check(name: str) -> None:
    _model()


def features(img: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features of an (h, w, 3) uint8 image (before scaling)."""
    gray = luma(img, REC709)
    feats: list[float] = []
    for scale in range(2):
        m, _ = mscn(gray, 1.0, _PADDING)
        # MSCN shape/variance from the asymmetric fit (the model's convention; the paper's
        # symmetric GGD fit differs by < 1 BRISQUE point on our test photos).
        shape, _, lvar, rvar = fit_aggd(m, zero_right=True)
        feats.extend((shape, 0.5 * (lvar + rvar)))
        for p in pair_products(m):
            feats.extend(fit_aggd(p, zero_right=True))
        if scale == 0:
            gray = half_size(gray, antialias=False)
    return np.asarray(feats)


def predict(feats: np.ndarray) -> float:
    """SVR output: sum_i coef_i exp(-gamma |x - sv_i|^2) - rho on the scaled features."""
    model = _model()
    x = -1.0 + 2.0 * (feats - model.fmin) / (model.fmax - model.fmin)
    d2 = np.sum((model.support - x) ** 2, axis=1)
    return float(model.coef @ np.exp(-model.gamma * d2) - model.rho)


def compute(img: np.ndarray) -> float:
    img = check_image(img, "brisque", MIN_SIDE)
    return finite(predict(features(img)), "brisque")
