"""The windowed arithmetic coder writes exactly the bytes of the plain big-integer coder it replaced."""

from __future__ import annotations

import random

import pytest

from sggic.errors import BitstreamError
from sggic.semantics._arith import PRECISION_BITS, ArithmeticDecoder, ArithmeticEncoder


class _Table:
    def __init__(self, freqs: list[int]) -> None:
        self.freqs = freqs
        self.cum = [0]
        for f in freqs:
            self.cum.append(self.cum[-1] + f)
        self.total = self.cum[-1]

    def interval(self, s: int) -> tuple[int, int]:
        return self.cum[s], self.freqs[s]

    def lookup(self, t: int) -> tuple[int, int, int]:
        s = max(i for i in range(len(self.freqs)) if self.cum[i] <= t)
        return s, self.cum[s], self.freqs[s]


def _reference(steps: list[tuple[_Table, int]]) -> bytes:
    """Text model 1's original coder: the whole interval as exact big integers (the spec)."""
    low, width, bits = 0, 1 << PRECISION_BITS, PRECISION_BITS
    for dist, s in steps:
        cum, freq = dist.interval(s)
        step = width // dist.total
        low += step * cum
        width = step * freq
        while width < (1 << PRECISION_BITS):
            low, width, bits = low << 8, width << 8, bits + 8
    nbytes = 0
    while True:
        shift = bits - 8 * nbytes
        value = -(-low >> shift)
        if (value << shift) < low + width:
            return value.to_bytes(nbytes, "big") if nbytes else b""
        nbytes += 1


def _code_and_compare(steps: list[tuple[_Table, int]]) -> bytes:
    """Encode ``steps``; assert the reference's bytes and that decoding gives the symbols back."""
    enc = ArithmeticEncoder()
    for t, s in steps:
        enc.encode(t, s)
    data = enc.finish()
    assert data == _reference(steps)
    dec = ArithmeticDecoder(data)
    assert [dec.decode(t) for t, _ in steps] == [s for _, s in steps]
    return data


def _tables(rng: random.Random) -> list[_Table]:
    return [
        _Table([1, 1]),
        _Table([1, 255]),  # long runs of 0xFF / carries
        _Table([255, 1]),
        _Table([1] * 256),
        _Table([(1 << 62) - 5, 3, 2]),  # totals near the 2**64 limit
        _Table([rng.randrange(1, 1 << 40) for _ in range(50)]),
        _Table([1, (1 << 63) - 2]),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_same_bytes_as_big_integer_coder_and_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    tables = _tables(rng)
    weights = [rng.random() for _ in tables]
    steps = []
    for _ in range(rng.choice([0, 1, 5, 50, 600])):
        t = rng.choices(tables, weights)[0]
        s = rng.choices(range(len(t.freqs)), [f / t.total for f in t.freqs])[0] if rng.random() < 0.8 else rng.randrange(len(t.freqs))
        steps.append((t, s))
    _code_and_compare(steps)


def test_decoder_refuses_value_outside_interval() -> None:
    dec = ArithmeticDecoder(b"\xff" * 20)
    with pytest.raises(BitstreamError):
        for _ in range(100):
            dec.decode(_Table([1, 1 << 40]))  # symbol 1 keeps width; value runs past it eventually


@pytest.mark.parametrize(
    "freqs, pattern",
    [
        ([1, 1], [0]),  # low stays 0 while bytes settle: the ending is empty
        ([1, 255], [1]),  # low creeps towards the top: 0xFF runs, ending cut inside them
        ([255, 1], [0]),  # low stays 0: 0x00 runs, ending cut inside them
        ([1, 255], [1] * 300 + [0]),  # a carry through a long 0xFF run
        ([1, 1, 1], [2, 0]),
        ([1, 1 << 50], [1] * 7 + [0]),
    ],
)
def test_runs_and_carries(freqs: list[int], pattern: list[int]) -> None:
    t = _Table(freqs)
    for n in (1, 9, 10, 11, 2000):
        _code_and_compare([(t, pattern[i % len(pattern)]) for i in range(n)])


@pytest.mark.parametrize("data", [b"\x55", b"\x80", b"\x12\x34", b"\x00\x01", b"\x55" + bytes(12) + b"\x01"])
def test_ending_cut_inside_settled_bytes(data: bytes) -> None:
    """Symbols read from a short payload give an interval just around it (low = 0x54FFFF...,
    high above 0x55): the shortest ending lies many settled bytes before the end of low."""
    tables = [_Table([1, 2]), _Table([3, 5, 7]), _Table([1, 1000, 3])]
    dec = ArithmeticDecoder(data)
    steps = [(tables[i % 3], 0) for i in range(400)]
    steps = [(t, dec.decode(t)) for t, _ in steps]
    assert len(_code_and_compare(steps)) <= len(data)
