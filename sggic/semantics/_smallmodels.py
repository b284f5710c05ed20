"""Small adaptive integer distributions: separators, case classes, letters, bytes.

Each is a list of integer frequencies (at most 258 symbols); its cumulative table is rebuilt
lazily after an update, which is cheap at this size.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
from typing import Sequence

BYTE_END = 256
"""Byte-model symbol that ends an escaped separator."""


class Unencodable(Exception):
    """A symbol has zero probability under the model (never raised for our own encoder's input)."""


class Categorical:
    """Integer-frequency distribution with in-place count updates."""

    __slots__ = ("freqs", "_cum", "total")

    def __init__(self, freqs: Sequence[int]) -> None:
        self.freqs = list(freqs)
        self._cum: list[int] | None = None
        self.total = sum(self.freqs)

    def bump(self, symbol: int, inc: int) -> None:
        self.freqs[symbol] += inc
        self.total += inc
        self._cum = None

    def _cums(self) -> list[int]:
        if self._cum is None:
            self._cum = [0, *accumulate(self.freqs)]
        return self._cum

    def interval(self, symbol: int) -> tuple[int, int]:
        if not 0 <= symbol < len(self.freqs) or self.freqs[symbol] <= 0:
            raise Unencodable(symbol)
        return self._cums()[symbol], self.freqs[symbol]

    def lookup(self, target: int) -> tuple[int, int, int]:
        cum = self._cums()
        s = bisect.bisect_right(cum, target) - 1
        return s, cum[s], self.freqs[s]


def sep_init(ctx: int, counts: Sequence[int], weight: int) -> list[int]:
    freqs = [c * weight + 1 for c in counts]
    if ctx % 2 == 1:
        freqs[0] = 0  # an empty separator between two words cannot occur
    return freqs


def case_init(counts: Sequence[int], weight: int) -> list[int]:
    return [c * weight + 1 for c in counts]


def byte_init(first: bool) -> list[int]:
    freqs = []
    for b in range(257):
        if b == BYTE_END:
            freqs.append(0 if first else 16)
        elif 65 <= b <= 90 or 97 <= b <= 122:
            freqs.append(0)  # ASCII letters are never part of a separator
        elif 32 <= b < 127 or b == 10:
            freqs.append(8)
        else:
            freqs.append(1)
    return freqs
