"""Bjontegaard delta rate: the one BD-rate of the project (bench report, codec measurements).

Method. A curve is a list of (rate, score) points. log(rate) is interpolated as a
function of the score and both curves are integrated exactly over the score interval
they both cover; BD-rate = exp(mean difference of log-rates) - 1, in percent (negative:
``test`` needs fewer bits than ``ref`` for the same score).

Interpolation: a monotone piecewise cubic (PCHIP, Fritsch-Carlson), which is linear for
a two-point curve. Bjontegaard's original proposal (ITU-T VCEG-M33, 2001) fits one cubic
polynomial through four points; that fit oscillates and extrapolates badly on the many,
unevenly spaced points that a rate sweep gives here, which is why later common test
conditions moved to piecewise cubic interpolation. On curves whose log-rate is linear in
the score both give the same answer.

Points with equal rate (above-target points of a rate search) are merged, the last one
winning; points are then ordered by score and a score that does not rise is dropped. A
curve whose score does not rise with rate is reported as not monotone, since its BD-rate
then means little.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Curve = Sequence[tuple[float, float]]


def _prepare(pts: Curve) -> tuple[np.ndarray, np.ndarray, bool]:
    """(scores ascending, log-rates, monotone) of one curve."""
    by_rate: dict[float, float] = {}
    for r, q in pts:
        by_rate[float(r)] = float(q)  # equal rates (above-target points) merge
    rates = sorted(by_rate)
    scores = [by_rate[r] for r in rates]
    mono = all(b > a for a, b in zip(scores, scores[1:]))
    order = np.argsort(scores, kind="stable")
    q = np.asarray(scores, dtype=float)[order]
    lr = np.log(np.asarray(rates, dtype=float))[order]
    keep = np.concatenate([[True], np.diff(q) > 0])[: len(q)]
    return q[keep], lr[keep], mono


def bd_rate(ref: Curve, test: Curve) -> tuple[float, bool]:
    """Bjontegaard delta rate (%) of ``test`` against ``ref``; points are (rate, score).

    Returns (value, monotone); value is NaN when the curves share no score interval or
    a curve has fewer than two distinct points.
    """
    from scipy.interpolate import PchipInterpolator

    (q1, r1, m1), (q2, r2, m2) = _prepare(ref), _prepare(test)
    mono = m1 and m2
    if len(q1) < 2 or len(q2) < 2:
        return float("nan"), mono
    lo, hi = max(q1[0], q2[0]), min(q1[-1], q2[-1])
    if not hi > lo:
        return float("nan"), mono
    area = PchipInterpolator(q2, r2).integrate(lo, hi) - PchipInterpolator(q1, r1).integrate(lo, hi)
    return (math.exp(float(area) / (hi - lo)) - 1.0) * 100.0, mono


def bd_no_overlap(ref: Curve, test: Curve) -> str:
    """Why there is no BD-rate: which curve scores higher everywhere, or too few points."""
    if len({r for r, _ in ref}) < 2 or len({r for r, _ in test}) < 2:
        return "n/a (< 2 points)"
    if min(q for _, q in test) > max(q for _, q in ref):
        return "n/a (scores higher at every rate)"
    if max(q for _, q in test) < min(q for _, q in ref):
        return "n/a (scores lower at every rate)"
    return "n/a"
