"""Exact arithmetic coder on Python integers, with a minimal byte-aligned ending.

Why our own coder and not constriction's range coder: constriction emits 32-bit words, so a
~80-byte payload would lose ~2 bytes on average to padding, and our word model needs a
probability resolution of ~2^-45 that fixed 32-bit range coders do not give (its categorical
models take float probabilities). Payloads are small, and exact integers make encoder and
decoder identical by construction.

The interval is ``[low, low + width)`` at scale ``2**bits`` (a subinterval of [0, 1)).
Each symbol narrows it; when ``width`` drops below ``2**PRECISION_BITS`` the scale grows by a
byte so that ``width // total`` keeps at least ``PRECISION_BITS - log2(total)`` bits of
resolution. The final payload is the shortest byte string whose value, padded with zero
bytes, lies in the final interval; the decoder pads with zero bytes in the same way.

Cost: the encoder keeps the settled high bytes of ``low`` apart (only a carry still changes
them) and the decoder keeps only ``value - low``, so every symbol costs O(1) big-integer work
(text model 1's first version kept ``low`` whole, O(n**2) for n bytes; the bytes are the
same, see tests/test_textcoder_arith.py).
"""

from __future__ import annotations

import math
from typing import Protocol

from ..errors import BitstreamError

PRECISION_BITS = 72
"""Width is kept >= 2**72; frequency totals must stay below 2**64 (checked)."""

_MAX_TOTAL = 1 << 64
_MIN_WIDTH = 1 << PRECISION_BITS
_MAX_WINDOW = PRECISION_BITS + 24  # window bits at which the top byte of low is settled


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


def _narrow(width: int, cum: int, freq: int, total: int) -> tuple[int, int, int]:
    """Narrow to the symbol's sub-interval: (offset added to low, new width, bytes of renormalisation).

    Encoder and decoder must apply exactly the same arithmetic, so both call this. The new
    width is ``(width // total) * freq`` scaled up by whole bytes until it is >= 2**PRECISION_BITS.
    """
    step = width // total
    width = step * freq
    shift = 0
    while width < _MIN_WIDTH:
        width <<= 8
        shift += 1
    return step * cum, width, shift


class ArithmeticEncoder:
    """Accumulates symbols; :meth:`finish` returns the payload bytes.

    ``low`` is kept as settled bytes ``_out`` (only a carry can still change them) followed
    by a window ``_low`` of ``_window`` bits, so each symbol costs O(1) big-integer work and
    a payload of n bytes costs O(n), not O(n**2).
    """

    def __init__(self) -> None:
        self._out = bytearray()
        self._low = 0  # < 2**_window
        self._window = PRECISION_BITS
        self._width = 1 << PRECISION_BITS  # <= 2**_window
        self.ideal_bits = 0.0
        """Sum of -log2(p) over the coded symbols (for measurements only; not part of the stream)."""

    def encode(self, dist: Distribution, symbol: int) -> int:
        cum, freq = dist.interval(symbol)
        total = dist.total
        if not (0 < freq and 0 <= cum and cum + freq <= total < _MAX_TOTAL):
            raise ValueError(f"bad interval ({cum}, {freq}) of total {total} for symbol {symbol}")
        offset, self._width, shift = _narrow(self._width, cum, freq, total)
        low = self._low + offset
        if low >> self._window:  # carry into the settled bytes
            low -= 1 << self._window
            self._carry()
        self._low = low << (8 * shift)
        self._window += 8 * shift
        while self._window >= _MAX_WINDOW:  # settle the top byte
            self._window -= 8
            self._out.append(self._low >> self._window)
            self._low &= (1 << self._window) - 1
        self.ideal_bits += math.log2(total / freq)
        return symbol

    def _carry(self) -> None:
        out = self._out
        i = len(out) - 1
        while i >= 0 and out[i] == 0xFF:
            out[i] = 0
            i -= 1
        if i < 0:  # cannot happen: the interval stays inside [0, 1)
            raise AssertionError("arithmetic coder carry past the first byte")
        out[i] += 1

    def finish(self) -> bytes:
        """Shortest byte string whose zero-padded value lies in [low, low + width).

        With ``low = out * 2**w + L`` (w = window bits, L < 2**w, width <= 2**w), cutting
        inside ``out`` works only if the cut-off bytes are all 0x00 and L == 0 (low itself),
        or all 0xFF and L + width > 2**w (rounding low up stays below low + width).
        """
        out, low, w, width = self._out, self._low, self._window, self._width
        n = len(out)
        cands = []
        if low == 0:
            cands.append(n - _run(out, 0x00))
        if low + width > (1 << w):
            cands.append(n - _run(out, 0xFF))
        if cands:
            nbytes = min(cands)
        else:
            nbytes = n + 1
            while True:
                shift = w - 8 * (nbytes - n)
                if shift < 0:  # cannot happen: at shift 0 the value is low itself
                    raise AssertionError("arithmetic coder failed to terminate")
                if (-(-low >> shift) << shift) < low + width:
                    break
                nbytes += 1
        shift = w + 8 * (n - nbytes)
        full = (int.from_bytes(out, "big") << w) + low
        value = -(-full >> shift)  # ceil(low / 2**shift)
        return value.to_bytes(nbytes, "big") if nbytes else b""


def _run(data: bytearray, byte: int) -> int:
    """Length of the run of ``byte`` at the end of ``data``."""
    return len(data) - len(data.rstrip(bytes([byte])))


class ArithmeticDecoder:
    """Mirrors :class:`ArithmeticEncoder`; reads zero bytes past the end of ``data``.

    Keeps only ``value - low`` (bounded by the width for any stream it accepts), so each
    symbol costs O(1) big-integer work.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = PRECISION_BITS // 8
        self._diff = int.from_bytes(data[: self._pos].ljust(self._pos, b"\0"), "big")  # value - low
        self._width = 1 << PRECISION_BITS

    def decode(self, dist: Distribution) -> int:
        total = dist.total
        if not 0 < total < _MAX_TOTAL:
            raise ValueError(f"bad distribution total {total}")
        target = self._diff // (self._width // total)
        if not 0 <= target < total:
            # Only reachable when the stream does not come from our encoder.
            raise BitstreamError("semantics payload is corrupt (value outside the coding interval)")
        symbol, cum, freq = dist.lookup(target)
        offset, self._width, shift = _narrow(self._width, cum, freq, total)
        diff = self._diff - offset
        if shift:
            pos = self._pos
            diff = (diff << (8 * shift)) | int.from_bytes(self._data[pos : pos + shift].ljust(shift, b"\0"), "big")
            self._pos = pos + shift
        self._diff = diff
        return symbol
