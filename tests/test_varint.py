"""The one varint module: round trip, limits, and one encoding per value in every reader."""

from __future__ import annotations

import pytest

from sggic import varint
from sggic.codecs import _template, cheng2020, vvc
from sggic.errors import BitstreamError


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 2**14, 2**32 - 1, varint.LIMIT - 1])
def test_round_trip_and_minimal_length(n):
    data = varint.encode(n)
    assert len(data) == max(1, (n.bit_length() + 6) // 7)
    assert varint.decode(b"x" + data + b"y", 1) == (n, 1 + len(data))


@pytest.mark.parametrize("n", [-1, varint.LIMIT])
def test_encode_refuses_what_decode_would_refuse(n):
    with pytest.raises(ValueError):
        varint.encode(n)


@pytest.mark.parametrize("data, reason", [
    (b"", "truncated"),
    (b"\x80", "truncated"),
    (b"\x80\x00", "non-canonical"),
    (b"\xff\x80\x00", "non-canonical"),
    (b"\x80\x80\x80\x80\x80\x01", "overlong"),
])
def test_decode_refusals(data, reason):
    with pytest.raises(varint.VarintError) as e:
        varint.decode(data, 0)
    assert e.value.reason == reason


def test_codec_payloads_refuse_padded_lengths():
    with pytest.raises(BitstreamError, match="cheng2020"):
        cheng2020.unpack_payload(b"\x81\x00z" + b"y")  # length 1 in two bytes
    assert cheng2020.unpack_payload(b"\x01zy") == (b"z", b"y")
    nal = b"\x00\x01ab"  # a coded slice (type 0) of 4 bytes
    assert vvc.unpack_nals(b"\x00\x04" + nal) == [nal]
    with pytest.raises(BitstreamError, match="length field"):
        vvc.unpack_nals(b"\x00\x84\x00" + nal)
    with pytest.raises(ValueError):
        _template.apply_patch(b"abc", b"\x82\x00")
    assert _template.apply_patch(b"abc", b"\x02") == b"ab"
