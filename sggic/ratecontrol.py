"""Rate control: the highest base quality whose whole file fits the byte budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .codecs.base import BaseCodec
from .errors import InputError, RateError, SggicError

MAX_BPP = 8.0


@dataclass(frozen=True)
class RateChoice:
    quality: int
    payload: bytes
    file_bytes: int | float
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
    """Binary-search the codec's quality list for the largest file within ``budget``.

    ``file_size(quality, payload)`` gives the size of the complete file with that
    payload (framing and semantics included), so the budget is the whole file's.
    Quality lists are ordered from the smallest file to the largest; sizes are close to
    monotone, and the neighbour above the search result is checked to absorb small
    non-monotonicities.
    """
    qs = list(codec.qualities())
    cache: dict[int, tuple[bytes, int]] = {}

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
        smallest = size_at(0) * 8 / pixels
        raise RateError(
            f"target of {budget * 8 / pixels:.4f} bpp ({budget} bytes) is below the smallest file "
            f"{codec.name} can make for this image ({smallest:.4f} bpp, {size_at(0)} bytes); raise --bpp"
        )
    lo, hi = 0, len(qs) - 1  # invariant: size_at(lo) fits
    if size_at(hi) <= budget:
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size_at(mid) <= budget:
            lo = mid
        else:
            hi = mid
    for j in (lo + 1, lo + 2):  # small non-monotonicity
        if j < len(qs) and size_at(j) <= budget:
            lo = j
    payload, size = cache[lo]
    return RateChoice(qs[lo], payload, size, len(cache))
