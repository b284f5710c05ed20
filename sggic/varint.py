"""LEB128 varints, the one number encoding of the container and the codec payloads.

7 bits per byte, low bits first, high bit = more bytes follow. At most :data:`MAX_BYTES`
bytes (every length and field sggic writes is far below 2^35), and one value has one
encoding: a reader refuses a padded number such as ``80 00`` for 0 (docs/format.md,
"One encoding per file"). Callers turn :class:`VarintError` into their own one-line
:class:`~sggic.errors.BitstreamError`.
"""

from __future__ import annotations

from typing import Literal

MAX_BYTES = 5
LIMIT = 1 << (7 * MAX_BYTES)  # the first value that does not fit

Reason = Literal["truncated", "overlong", "non-canonical"]


class VarintError(ValueError):
    """A varint that cannot be read; ``reason`` says why."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"{reason} varint")
        self.reason: Reason = reason


def encode(n: int) -> bytes:
    """The minimal encoding of ``0 <= n < LIMIT``; ValueError otherwise."""
    if n < 0:
        raise ValueError("varint must be non-negative")
    if n >= LIMIT:
        raise ValueError(f"varint must be below 2^{7 * MAX_BYTES}")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decode(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at ``data[pos]``; VarintError when the
    data ends inside it, it runs past MAX_BYTES, or it is not minimal."""
    n = 0
    for i in range(MAX_BYTES):
        if pos + i >= len(data):
            raise VarintError("truncated")
        b = data[pos + i]
        n |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if b == 0 and i > 0:  # a padded number: one value, one encoding
                raise VarintError("non-canonical")
            return n, pos + i + 1
    raise VarintError("overlong")
