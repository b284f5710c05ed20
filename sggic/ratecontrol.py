"""Rate control: the highest base quality whose whole file fits the byte budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .budgets import bpp_at_least
from .codecs.base import BaseCodec
from .errors import InputError, RateError, SggicError

MAX_BPP = 8.0


@dataclass(frozen=True)
class RateChoice:
    quality: int
    payload: bytes
    file_bytes: int  # the chosen file always fits, so never the "refused" infinity
    tries: int


def budget_bytes(bpp: float, width: int, height: int) -> int:
    """Whole-file byte budget for a target in bits per pixel of the original image."""
    if not isinstance(bpp, (int, float)) or math.isnan(bpp) or not (0 < bpp <= MAX_BPP):
        raise InputError(f"--bpp must be a number in (0, {MAX_BPP:g}], got {bpp}")
    return int(math.floor(bpp * width * height / 8.0))


def fit_rate(
    codec: BaseCodec,
    rgb: np.ndarray,
    budget: int,
    file_size: Callable[[int, bytes], int],
    pixels: int,
) -> RateChoice:
    """Find the largest file within ``budget`` in the codec's quality list.

    ``file_size(quality, payload)`` gives the size of the complete file with that
    payload (framing and semantics included), so the budget is the whole file's.
    Quality lists are ordered from the smallest file to the largest and sizes are taken
    as monotone. Encodes are the cost (a VVC encode of a large picture takes seconds,
    and the highest qualities are the slowest), so the search interpolates log(size)
    between the bracketing qualities (sizes grow roughly geometrically with quality),
    falls back to bisection when that does not halve the bracket, and never encodes the
    top of the list just to bound the search.
    """
    qs = list(codec.qualities())
    cache: dict[int, tuple[bytes, int | float]] = {}

    def size_at(i: int) -> int | float:
        if i not in cache:
            try:
                payload = codec.encode(rgb, qs[i])
            except SggicError:
                if i == 0:
                    raise
                # e.g. libvvenc refuses very high qualities on tiny noisy pictures: such a
                # setting cannot be used, which for the search is the same as "too large"
                cache[i] = (b"", math.inf)
                return math.inf
            cache[i] = (payload, file_size(qs[i], payload))
        return cache[i][1]

    if size_at(0) > budget:
        raise RateError(
            f"target of {budget * 8 / pixels:.4f} bpp ({budget} bytes) is below the smallest file "
            f"{codec.name} can make for this image ({bpp_at_least(size_at(0), pixels)} bpp, {size_at(0)} bytes); raise --bpp"
        )
    lo, hi = 0, len(qs)  # size_at(lo) fits; hi is the first index known not to (len: none known)
    bisect_next = True
    while hi - lo > 1:
        width = hi - lo
        i = (lo + hi) // 2
        if not bisect_next and hi < len(qs) and math.isfinite(size_at(hi)):
            s_lo, s_hi = size_at(lo), size_at(hi)
            if s_hi > s_lo > 0:
                frac = math.log(budget / s_lo) / math.log(s_hi / s_lo)
                i = min(max(lo + int(math.floor(frac * width)), lo + 1), hi - 1)
        if size_at(i) <= budget:
            lo = i
        else:
            hi = i
        bisect_next = (hi - lo) * 2 > width  # interpolation did not halve the bracket
    payload, size = cache[lo]
    return RateChoice(qs[lo], payload, size, len(cache))
