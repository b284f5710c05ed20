"""H.266/VVC Annex-B byte streams as lists of NAL units.

Why: at a few hundred bytes per image, start codes (4 bytes each), the access unit
delimiter and the parameter sets are a large share of the file. Splitting the stream into
NAL units lets the VVC codec keep only the units its decoder cannot rebuild.
"""

from __future__ import annotations

# nal_unit_type values (ITU-T H.266 Table 5)
OPI, DCI, VPS, SPS, PPS = 12, 13, 14, 15, 16
PREFIX_APS, SUFFIX_APS, PH, AUD, EOS, EOB = 17, 18, 19, 20, 21, 22
PREFIX_SEI, SUFFIX_SEI = 23, 24
PARAMETER_SETS = frozenset({OPI, DCI, VPS, SPS, PPS})
DROPPABLE = frozenset({AUD, EOS, EOB, PREFIX_SEI, SUFFIX_SEI})

START_CODE = b"\x00\x00\x00\x01"


def split_annexb(stream: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream, without start codes or trailing zero bytes.

    A NAL unit never ends in 0x00 (H.266 7.4.2.1), so stripping zeros before the next
    start code is lossless. Raises ValueError if the stream does not start with one.
    """
    first = stream.find(b"\x00\x00\x01")
    if first < 0 or stream[:first].strip(b"\x00"):
        raise ValueError("not an Annex-B stream")
    nals: list[bytes] = []
    pos = first + 3
    while True:
        nxt = stream.find(b"\x00\x00\x01", pos)
        end = len(stream) if nxt < 0 else nxt
        nal = stream[pos:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        if nxt < 0:
            return nals
        pos = nxt + 3


def join_annexb(nals: list[bytes]) -> bytes:
    """An Annex-B stream made of ``nals``, each behind a 4-byte start code."""
    return b"".join(START_CODE + nal for nal in nals)


def nal_type(nal: bytes) -> int:
    """nal_unit_type from the 2-byte NAL unit header (-1 if too short to have one)."""
    return (nal[1] >> 3) & 0x1F if len(nal) >= 2 else -1


def is_vcl(nal: bytes) -> bool:
    """Coded slice NAL units (types 0-11) carry the picture itself."""
    return 0 <= nal_type(nal) <= 11
