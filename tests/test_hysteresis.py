"""sggic.adapt.hysteresis equals the scipy.ndimage.label route it replaced, and is fast on
long chains (spirals, serpentines), where plain label propagation needs a step per pixel."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sggic.adapt.hysteresis import connected_to_seeds

ndimage = pytest.importorskip("scipy.ndimage")


def _scipy(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.unique(lab[seeds & mask])] = True
    keep[0] = False
    return keep[lab]


def spiral(n: int) -> np.ndarray:
    """One 8-connected chain winding inwards: square rings 2 apart, each joined to the next."""
    m = np.zeros((n, n), dtype=bool)
    lo, hi = 0, n - 1
    while lo <= hi:
        m[lo, lo:hi + 1] = m[lo:hi + 1, hi] = m[hi, lo:hi + 1] = True
        m[lo + 2:hi + 1, lo] = True  # the left side stops short: the gap keeps it one chain
        if lo + 2 <= hi:
            m[lo + 2, lo + 1] = True  # step into the next ring
        lo, hi = lo + 2, hi - 2
    return m


def serpentine(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[::2] = True
    for r in range(1, h, 2):
        m[r, w - 1 if (r // 2) % 2 == 0 else 0] = True
    return m


def staircases(n: int) -> np.ndarray:
    """Anti-diagonal chains, connected only through corners (8- but not 4-connected)."""
    i, j = np.indices((n, n))
    return (i + j) % 4 == 0


def _seed_sets(mask: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    ys, xs = np.nonzero(mask)
    last = np.zeros_like(mask)
    first = np.zeros_like(mask)
    if ys.size:
        last[ys[-1], xs[-1]] = True
        first[ys[0], xs[0]] = True
    return [last, first, mask & (rng.random(mask.shape) < 0.01), rng.random(mask.shape) < 0.3,
            np.zeros_like(mask), np.ones_like(mask)]


def _masks(rng: np.random.Generator) -> dict[str, np.ndarray]:
    sizes = ((1, 1), (1, 40), (40, 1), (37, 53))
    out = {f"random{p}-{s}": rng.random(s) < p for p in (0.05, 0.3, 0.5, 0.7) for s in sizes}
    out.update({
        "spiral": spiral(61), "serpentine": serpentine(41, 33), "staircases": staircases(50),
        "checkerboard": np.indices((31, 40)).sum(0) % 2 == 0,
        "checkerboard-odd": np.indices((31, 40)).sum(0) % 2 == 1,
        "stripes": np.indices((20, 21))[1] % 2 == 0,
        "single": np.pad(np.ones((1, 1), dtype=bool), ((3, 4), (5, 2))),
        "corners": np.zeros((9, 9), dtype=bool),
        "border": np.pad(np.zeros((7, 5), dtype=bool), 1, constant_values=True),
        "empty": np.zeros((8, 8), dtype=bool), "full": np.ones((16, 17), dtype=bool),
    })
    out["corners"][[0, 0, -1, -1], [0, -1, 0, -1]] = True
    return out


def test_equals_scipy_label_on_random_and_adversarial_masks() -> None:
    rng = np.random.default_rng(0)
    for name, mask in _masks(rng).items():
        for seeds in _seed_sets(mask, rng):
            got = connected_to_seeds(mask, seeds)
            assert got.dtype == bool and got.shape == mask.shape
            assert np.array_equal(got, _scipy(mask, seeds)), name


def test_chains_are_followed_to_their_far_end() -> None:
    m = spiral(61)
    assert _scipy(m, m)[m].all() and ndimage.label(m, structure=np.ones((3, 3)))[1] == 1  # one chain
    seed = np.zeros_like(m)
    seed[0, 0] = True
    assert connected_to_seeds(m, seed).sum() == m.sum()
    seed[0, 0] = False
    assert not connected_to_seeds(m, seed).any()


def test_worst_cases_are_fast() -> None:
    """A 1024x1024 spiral (one chain of ~525k pixels) and a 1280x800 serpentine: a handful
    of rounds, well under a second each (label propagation alone: ~500k steps)."""
    for mask in (spiral(1024), serpentine(800, 1280)):
        ys, xs = np.nonzero(mask)
        seed = np.zeros_like(mask)
        seed[ys[-1], xs[-1]] = True  # the chain's inner/far end
        t = time.perf_counter()
        got = connected_to_seeds(mask, seed)
        elapsed = time.perf_counter() - t
        assert np.array_equal(got, _scipy(mask, seed))
        assert elapsed < 3.0, elapsed  # ~0.05 s here; generous for a loaded 2-core machine


def test_canny_edges_equal_the_scipy_route(monkeypatch) -> None:
    from sggic.adapt import features

    skdata = pytest.importorskip("skimage.data")
    for img in (skdata.astronaut(), skdata.coffee(), skdata.chelsea()[:150, :211]):
        gray = features.gray_u8(img)
        ours = features.canny(gray)
        with monkeypatch.context() as m:
            m.setattr(features, "connected_to_seeds", _scipy)
            ref = features.canny(gray)
        assert ours.any() and np.array_equal(ours, ref)
