"""Mutation fuzzing of valid files of every base codec, with checksums recomputed (issue 15).

Bit flips in a real file mostly die at the CRC; recomputing the CRCs sends the mutated
bytes into the parsers and decoders, which is where hostile files go. For every case the
outcome must be one SggicError with a one-line message, or an image of the header's size,
within a time budget. Derandomized, so a failure reproduces; small, so CI stays fast.
"""

from __future__ import annotations

import os
import time

import pytest
from hostile_files import frame, small_image

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sggic  # noqa: E402
from sggic import container  # noqa: E402
from sggic.errors import SggicError  # noqa: E402

CODECS = ("vvc", "avif", "heic", "webp", "jpeg")
W, H = 40, 24
CASE_BUDGET_S = 10.0
# more cases for a longer local run: SGGIC_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py
EXAMPLES = int(os.environ.get("SGGIC_FUZZ_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def valid_files():
    """One small valid file per base codec, split into its section payloads."""
    from sggic.semantics.schema import SemanticObject, Semantics

    sem = Semantics((SemanticObject("fox", "red fur"),), "a fox in snow")
    out = {}
    for name in CODECS:
        data = sggic.encode(small_image(W, H), bpp=3.0, base=name, restorer="bicubic", semantics=sem)
        f = container.read(data)
        hdr = container.encode_header(f.header)
        out[name] = [bytearray(hdr), bytearray(f.base), bytearray(f.semantics)]
    return out


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
)


def _mutate(parts: list[bytearray], section: int, mutations) -> bytes:
    parts = [bytearray(p) for p in parts]
    target = parts[section]
    for kind, pos, value in mutations:
        if not target and kind != "insert":
            continue
        i = pos % max(1, len(target))
        if kind == "flip":
            target[i] ^= 1 << value
        elif kind == "set":
            target[i] = value
        elif kind == "cut":
            del target[i:]
        else:
            target.insert(i, value)
    return frame(bytes(parts[0]), bytes(parts[1]), bytes(parts[2]))  # CRCs recomputed


def _check_outcome(data: bytes) -> None:
    t = time.perf_counter()
    try:
        img = sggic.decode(data, restorer="bicubic")
    except SggicError as e:
        assert "\n" not in str(e) and str(e), repr(e)
    else:
        h = container.read(data).header
        assert img.size == (h.width, h.height)
    assert time.perf_counter() - t < CASE_BUDGET_S


@pytest.mark.parametrize("codec", CODECS)
def test_mutated_base_payloads(valid_files, codec):
    parts = valid_files[codec]

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_mutation, min_size=1, max_size=4))
    def run(mutations):
        _check_outcome(_mutate(parts, 1, mutations))

    run()


@settings(max_examples=2 * EXAMPLES, derandomize=True, deadline=None, database=None)
@given(st.sampled_from(CODECS), st.sampled_from([0, 2]), st.lists(_mutation, min_size=1, max_size=3))
def test_mutated_header_and_semantics(valid_files, codec, section, mutations):
    _check_outcome(_mutate(valid_files[codec], section, mutations))
