"""sggic.metrics._filters.correlate1d equals scipy.ndimage.correlate1d bit for bit; math.lgamma
in place of scipy.special.gammaln moves the NSS scores by rounding only.

scipy stays a dependency (training, bench, ssimulacra2), so the tests compare with it;
only the decode path must not import it (tests/test_decode_imports.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from sggic.metrics import _nss
from sggic.metrics._filters import correlate1d

ndimage = pytest.importorskip("scipy.ndimage")

SHAPES = [(1, 1), (1, 9), (9, 1), (1, 300), (300, 1), (2, 3), (3, 2), (5, 5), (6, 7), (31, 17), (64, 65)]
MODES = ("constant", "nearest")


def _scipy(x, w, axis, mode):
    return ndimage.correlate1d(x, w, axis=axis, mode=mode)


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_equals_scipy_on_random_images(shape) -> None:
    rng = np.random.default_rng(sum(shape))
    g = _nss._gauss7(7.0 / 6.0)
    for x in (rng.random(shape) * 255.0, rng.normal(size=shape) * 1e3, (rng.random(shape) * 255.0) ** 2):
        for mode in MODES:
            for axis in (0, 1):
                assert np.array_equal(correlate1d(x, g, axis, mode), _scipy(x, g, axis, mode))
            ours = correlate1d(correlate1d(x, g, 0, mode), g, 1, mode)
            assert np.array_equal(ours, _scipy(_scipy(x, g, 0, mode), g, 1, mode))


def test_other_symmetric_kernels_equal_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((23, 29)) * 255.0
    half = rng.random(4)
    eps = np.finfo(np.float64).eps
    kernels = [np.array([1.0]), np.array([0.25, 0.5, 0.25]), np.r_[half, half[-2::-1]],
               # symmetric only up to DBL_EPSILON: scipy then uses the left weight of each pair
               np.array([0.25, 0.5, 0.25 + eps / 2])]
    for w in kernels:
        for mode in MODES:
            for axis in (0, 1):
                assert np.array_equal(correlate1d(x, w, axis, mode), _scipy(x, w, axis, mode))


def _golden_bases() -> list[np.ndarray]:
    import sggic.pipeline

    stored = json.loads((Path(__file__).with_name("golden.json")).read_text())
    return [sggic.pipeline.decode_detailed(base64.b64decode(stored[k]["sgc"])).base
            for k in ("vvc-adaptive", "jpeg", "vvc")]


def test_mscn_equals_the_scipy_blur_on_decoded_bases_and_photos(monkeypatch) -> None:
    skdata = pytest.importorskip("skimage.data")
    images = _golden_bases() + [skdata.astronaut(), skdata.coffee()[:301, :257]]
    for img in images:
        for weights in (_nss.REC601, _nss.REC709):
            gray = _nss.luma(img, weights)
            for mode in MODES:
                ours = _nss.mscn(gray, 1.0, mode)
                with monkeypatch.context() as m:
                    m.setattr(_nss, "correlate1d", _scipy)
                    ref = _nss.mscn(gray, 1.0, mode)
                assert all(np.array_equal(a, b) for a, b in zip(ours, ref))


def test_refuses_what_it_does_not_implement() -> None:
    x = np.zeros((5, 5))
    with pytest.raises(ValueError, match="border mode"):
        correlate1d(x, np.ones(3) / 3, 0, "reflect")
    with pytest.raises(ValueError, match="symmetric"):
        correlate1d(x, np.ones(4) / 4, 0, "constant")
    with pytest.raises(ValueError, match="symmetric"):
        correlate1d(x, np.array([0.2, 0.5, 0.3]), 0, "constant")


def test_lgamma_instead_of_gammaln_moves_scores_by_ulps_only(monkeypatch) -> None:
    """math.lgamma replaces scipy.special.gammaln: the shape table and the BRISQUE/NIQE
    scores stay within rounding of the scipy route (measured: 1e-14 and 6e-13 relative)."""
    special = pytest.importorskip("scipy.special")
    skdata = pytest.importorskip("skimage.data")
    from sggic.metrics import brisque, niqe

    a = _nss._SHAPES
    ref_table = np.exp(2.0 * special.gammaln(2.0 / a) - special.gammaln(1.0 / a) - special.gammaln(3.0 / a))
    assert np.allclose(_nss._ratio_table(), ref_table, rtol=1e-13, atol=0)
    img = skdata.astronaut()[:256, :256]
    ours = brisque.compute(img), niqe.compute(img)
    with monkeypatch.context() as m:
        m.setattr(_nss, "gammaln", special.gammaln)
        m.setattr(niqe, "gammaln", special.gammaln)
        m.setattr(_nss, "_ratio_table", lambda: ref_table)
        ref = brisque.compute(img), niqe.compute(img)
    assert ours != (0.0, 0.0) and np.allclose(ours, ref, rtol=1e-10, atol=0)
