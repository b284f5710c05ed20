"""VVC parameter sets for any picture size, rewritten from a 16x16 template.

Why: the decoder rebuilds the SPS/PPS that the encoder dropped by coding a flat picture
with libvvenc. At the padded size itself that costs ~70 bytes of memory per pixel and
seconds (1.1 GB and 15 s for a 4000x4000 base), which a 24-byte file claiming a large
picture could make the decoder spend before its slice fails to parse. libvvenc's SPS and
PPS differ between picture sizes only in three fields (checked bit for bit by
tests/test_hostile.py over many sizes): ``general_level_idc``, the SPS maximum and the
PPS actual picture width/height. So we take the sets of a 16x16 flat picture (a table for
the pinned binary, ``_paramtable``; else coded once per quality and preset) and rewrite
those fields: constant, tiny cost whatever size the header claims.

``general_level_idc`` does not change how a picture decodes; it is rewritten only so the
sets stay byte-identical to what libvvenc writes, as libvvenc picks it (sample rate at ffmpeg's
default 25 frames per second for raw input, and the longer side).
"""

from __future__ import annotations

from ._nal import PPS, SPS, nal_type
from ._sniff import BitReader, rbsp, skip_to_sps_size

TEMPLATE_SIZE = 16
_FPS = 25
# (general_level_idc, MaxLumaSr, MaxLumaPs) from H.266 Table A.1/A.2, lowest first.
_LEVELS = ((16, 552_960, 36_864), (32, 3_686_400, 122_880), (35, 7_372_800, 245_760),
           (48, 16_588_800, 552_960), (51, 33_177_600, 983_040), (64, 66_846_720, 2_228_224),
           (67, 133_693_440, 2_228_224), (80, 267_386_880, 8_912_896), (83, 534_773_760, 8_912_896),
           (86, 1_069_547_520, 8_912_896), (96, 1_069_547_520, 35_651_584),
           (99, 2_139_095_040, 35_651_584), (102, 4_278_190_080, 35_651_584))


def level_idc(width: int, height: int) -> int:
    """The lowest level that admits the luma sample rate at 25 fps and the longer side.

    A level bounds each side by sqrt(8 * MaxLumaPs); libvvenc checks that and the sample
    rate, not the picture size itself (a 520x264 picture gets level 2).
    """
    rate = width * height * _FPS
    side = max(width, height)
    for idc, max_rate, max_ps in _LEVELS:
        if rate <= max_rate and side * side <= 8 * max_ps:
            return idc
    return 105  # level 6.3: what libvvenc writes for anything larger (checked up to 32768 a side)


def _bits(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


def _ue(value: int) -> str:
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def _to_nal(header: bytes, bits: str) -> bytes:
    """RBSP bits (without trailing bits) -> NAL unit with stop bit and emulation prevention."""
    bits += "1"
    bits += "0" * (-len(bits) % 8)
    payload = int(bits, 2).to_bytes(len(bits) // 8, "big")
    out = bytearray(header)
    zeros = 0
    for b in payload:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _body(nal: bytes) -> tuple[BitReader, str]:
    data = rbsp(nal)
    bits = _bits(data)
    stop = bits.rfind("1")
    if stop < 0:
        raise ValueError("parameter set without a stop bit")
    return BitReader(data), bits[:stop]


def _rewrite_sps(nal: bytes, width: int, height: int) -> bytes:
    r, bits = _body(nal)
    level_at = skip_to_sps_size(r)
    if level_at is None:
        raise ValueError("SPS without profile/tier/level")
    size_at = r.pos
    r.ue()
    r.ue()
    new = (bits[:level_at] + f"{level_idc(width, height):08b}" + bits[level_at + 8 : size_at]
           + _ue(width) + _ue(height) + bits[r.pos :])
    return _to_nal(nal[:2], new)


def _rewrite_pps(nal: bytes, width: int, height: int) -> bytes:
    r, bits = _body(nal)
    r.skip(6 + 4 + 1)
    size_at = r.pos
    r.ue()
    r.ue()
    return _to_nal(nal[:2], bits[:size_at] + _ue(width) + _ue(height) + bits[r.pos :])


def resize_parameter_sets(sets: tuple[bytes, ...], width: int, height: int) -> tuple[bytes, ...]:
    """``sets`` (from a TEMPLATE_SIZE picture) as libvvenc writes them for ``width x height``."""
    out = []
    for nal in sets:
        if nal_type(nal) == SPS:
            nal = _rewrite_sps(nal, width, height)
        elif nal_type(nal) == PPS:
            nal = _rewrite_pps(nal, width, height)
        out.append(nal)
    return tuple(out)
