"""Exact arithmetic coder on Python integers, with a minimal byte-aligned ending.

Why our own coder and not constriction's range coder: constriction emits 32-bit words, so a
~100-byte payload would lose 2 bytes on average to padding, and our word model needs a
probability resolution of ~2^-45 that fixed 32-bit range coders do not give. Payloads here
are a few hundred bytes, so keeping the whole interval as exact big integers costs nothing
and makes encoder and decoder trivially identical (no carries, no renormalisation corner
cases).

The interval is ``[low, low + width)`` at scale ``2**bits`` (a subinterval of [0, 1)).
Each symbol narrows it; when ``width`` drops below ``2**PRECISION_BITS`` the scale grows by a
byte so that ``width // total`` keeps at least ``PRECISION_BITS - log2(total)`` bits of
resolution. The final payload is the shortest byte string whose value, padded with zero
bytes, lies in the final interval; the decoder pads with zero bytes in the same way.
"""

from __future__ import annotations

import math
from typing import Protocol

from ..errors import BitstreamError

PRECISION_BITS = 72
"""Width is kept >= 2**72; frequency totals must stay below 2**64 (checked)."""

_MAX_TOTAL = 1 << 64


class Distribution(Protocol):
    """A discrete distribution over integer symbols, given as integer frequency intervals."""

    @property
    def total(self) -> int: ...

    def interval(self, symbol: int) -> tuple[int, int]:
        """(cumulative frequency before symbol, frequency of symbol); frequency > 0."""
        ...

    def lookup(self, target: int) -> tuple[int, int, int]:
        """The symbol whose interval holds ``0 <= target < total``: (symbol, cum, freq)."""
        ...


def _narrow(low: int, width: int, bits: int, cum: int, freq: int, total: int) -> tuple[int, int, int]:
    """Shrink [low, low + width) to the symbol's sub-interval and renormalise by bytes.

    Encoder and decoder must apply exactly the same arithmetic, so both call this.
    """
    step = width // total
    low += step * cum
    width = step * freq
    while width < (1 << PRECISION_BITS):
        low <<= 8
        width <<= 8
        bits += 8
    return low, width, bits


class ArithmeticEncoder:
    """Accumulates symbols; :meth:`finish` returns the payload bytes."""

    def __init__(self) -> None:
        self._low = 0
        self._width = 1 << PRECISION_BITS
        self._bits = PRECISION_BITS
        self.ideal_bits = 0.0
        """Sum of -log2(p) over the coded symbols (for measurements only; not part of the stream)."""

    def encode(self, dist: Distribution, symbol: int) -> int:
        cum, freq = dist.interval(symbol)
        total = dist.total
        if not (0 < freq and 0 <= cum and cum + freq <= total < _MAX_TOTAL):
            raise ValueError(f"bad interval ({cum}, {freq}) of total {total} for symbol {symbol}")
        self._narrow(cum, freq, total)
        self.ideal_bits += math.log2(total / freq)
        return symbol

    def _narrow(self, cum: int, freq: int, total: int) -> None:
        self._low, self._width, self._bits = _narrow(self._low, self._width, self._bits, cum, freq, total)

    def finish(self) -> bytes:
        """Shortest byte string whose zero-padded value lies in [low, low + width)."""
        low, high, bits = self._low, self._low + self._width, self._bits
        nbytes = 0
        while True:
            shift = bits - 8 * nbytes
            if shift < 0:  # cannot happen: at shift 0 the value is low itself
                raise AssertionError("arithmetic coder failed to terminate")
            value = -(-low >> shift)  # ceil(low / 2**shift)
            if (value << shift) < high:
                return value.to_bytes(nbytes, "big") if nbytes else b""
            nbytes += 1


class ArithmeticDecoder:
    """Mirrors :class:`ArithmeticEncoder`; reads zero bytes past the end of ``data``."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._data_bits = 8 * len(data)
        self._low = 0
        self._width = 1 << PRECISION_BITS
        self._bits = PRECISION_BITS

    def _scaled_value(self) -> int:
        d = self._bits - self._data_bits
        return self._value << d if d >= 0 else self._value >> -d

    def decode(self, dist: Distribution) -> int:
        total = dist.total
        if not 0 < total < _MAX_TOTAL:
            raise ValueError(f"bad distribution total {total}")
        step = self._width // total
        target = (self._scaled_value() - self._low) // step
        if not 0 <= target < total:
            # Only reachable when the stream does not come from our encoder.
            raise BitstreamError("semantics payload is corrupt (value outside the coding interval)")
        symbol, cum, freq = dist.lookup(target)
        self._low, self._width, self._bits = _narrow(self._low, self._width, self._bits, cum, freq, total)
        return symbol
