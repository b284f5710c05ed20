"""What a base-layer payload claims to be, read from its own headers before any decoder runs.

Why: a decoder allocates the picture size written in the payload, not the one in the
.sgc header. A few kilobytes can claim 8192x8192 (or be a PNG in the JPEG slot), and the
decoder would allocate gigabytes before a shape check after decoding could refuse it.
These parsers read only headers, in time linear in their size, and never allocate more
than the input; each returns ``None`` or raises ``ValueError`` on anything it does not
recognise, and the codec turns that into a BitstreamError.
"""

from __future__ import annotations

import struct

# ---------------------------------------------------------------- container magic


def sniff_format(data: bytes) -> str | None:
    """"jpeg", "webp", "heic", "avif", "png", "jp2", "tiff", ... or None (unknown)."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"\xff\x4f\xff\x51" or data[4:8] == b"jP  ":
        return "jp2"
    if data[4:8] == b"ftyp":
        brands = ftyp_brands(data)
        if brands & {b"avif", b"avis"}:
            return "avif"
        if brands & {b"heic", b"heix", b"heim", b"heis"}:
            return "heic"
        return "isobmff"
    return None


# ---------------------------------------------------------------- JPEG

_SOF_BASELINE_PROGRESSIVE = {0xC0, 0xC1, 0xC2}
_SOF_ALL = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOF marker of a baseline/progressive 8-bit JPEG."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("no JPEG start-of-image marker")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise ValueError("JPEG segment length")
        if marker in _SOF_ALL:
            if marker not in _SOF_BASELINE_PROGRESSIVE:
                raise ValueError(f"JPEG process 0x{marker:02x} is not baseline or progressive")
            if pos + 10 > len(data):
                raise ValueError("JPEG frame header cut short")
            precision, height, width, comps = struct.unpack_from(">BHHB", data, pos + 4)
            if precision != 8 or comps not in (1, 3):
                raise ValueError(f"JPEG with {precision}-bit samples and {comps} components")
            if height == 0:
                raise ValueError("JPEG height defined by a DNL marker")
            return width, height
        pos += 2 + length
    raise ValueError("JPEG has no frame header before its scan")


# ---------------------------------------------------------------- WebP


def webp_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a still WebP (simple lossy, lossless, or extended non-animated)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        raise ValueError("not a RIFF WebP file")
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise ValueError("VP8 start code missing")
        w, h = struct.unpack_from("<HH", body, 6)
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        if body[0] != 0x2F:
            raise ValueError("VP8L signature missing")
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        if body[0] & 0x02:
            raise ValueError("animated WebP")
        w = int.from_bytes(body[4:7], "little") + 1
        h = int.from_bytes(body[7:10], "little") + 1
        return w, h
    raise ValueError(f"unknown WebP chunk {chunk!r}")


# ---------------------------------------------------------------- HEIF / AVIF (ISOBMFF)

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}  # box -> bytes before its children


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError("box cut short")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind, pos + head, pos + size
        pos += size


def ftyp_brands(data: bytes) -> set[bytes]:
    """Major and compatible brands of the leading ``ftyp`` box (empty set if none)."""
    try:
        kind, start, end = next(_boxes(data, 0, len(data)))
    except (StopIteration, ValueError, struct.error):
        return set()
    if kind != b"ftyp" or end - start < 8:
        return set()
    brands = {data[start : start + 4]}
    brands.update(data[i : i + 4] for i in range(start + 8, end - 3, 4))
    return brands


def heif_sizes(data: bytes) -> list[tuple[int, int]]:
    """Every ``ispe`` (image spatial extent) in the top-level meta box: one per image item."""
    out: list[tuple[int, int]] = []

    def walk(start: int, end: int, depth: int) -> None:
        for kind, s, e in _boxes(data, start, end):
            if kind == b"ispe":
                if e - s < 12:
                    raise ValueError("ispe box cut short")
                out.append(struct.unpack_from(">II", data, s + 4))
            elif kind in _CONTAINERS and depth < 4:
                walk(s + _CONTAINERS[kind], e, depth + 1)

    walk(0, len(data), 0)
    if not out:
        raise ValueError("HEIF file without an image size (ispe)")
    return out


# ---------------------------------------------------------------- VVC SPS


class BitReader:
    """MSB-first bit reader with Exp-Golomb codes (H.266 9.2) over an RBSP."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        if self.pos + n > 8 * len(self.data):
            raise ValueError("parameter set cut short")
        v = 0
        for _ in range(n):
            v = (v << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 32:
                raise ValueError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def skip(self, n: int) -> None:
        if self.pos + n > 8 * len(self.data):
            raise ValueError("parameter set cut short")
        self.pos += n

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7


def rbsp(nal: bytes) -> bytes:
    """The NAL unit's payload after its 2-byte header, emulation-prevention bytes removed."""
    return nal[2:].replace(b"\x00\x00\x03", b"\x00\x00")


def _profile_tier_level(r: BitReader, max_sublayers_minus1: int) -> None:
    r.skip(7 + 1 + 8 + 1 + 1)  # profile_idc, tier, level_idc, frame_only, multilayer
    if r.u(1):  # gci_present_flag: 71 constraint bits, then a counted tail
        r.skip(71)
        r.skip(r.u(8))
    r.align()
    present = [r.u(1) for _ in range(max_sublayers_minus1)]
    r.align()
    r.skip(8 * sum(present))
    r.skip(32 * r.u(8))  # ptl_num_sub_profiles x general_sub_profile_idc


def skip_to_sps_size(r: BitReader) -> int | None:
    """Move ``r`` (at the start of an SPS RBSP) to sps_pic_width_max_in_luma_samples.

    Returns the bit position of general_level_idc, or None when the SPS has no
    profile_tier_level. Shared by :func:`vvc_sps_size` and the parameter-set rewriter.
    """
    r.skip(4 + 4)  # sps_seq_parameter_set_id, sps_video_parameter_set_id
    max_sublayers_minus1 = r.u(3)
    r.skip(2 + 2)  # chroma_format_idc, log2_ctu_size_minus5
    if max_sublayers_minus1 > 6:
        raise ValueError("SPS sublayer count out of range")
    level_at = None
    if r.u(1):  # sps_ptl_dpb_hrd_params_present_flag
        level_at = r.pos + 7 + 1  # after general_profile_idc and general_tier_flag
        _profile_tier_level(r, max_sublayers_minus1)
    r.skip(1)  # sps_gdr_enabled_flag
    if r.u(1):  # sps_ref_pic_resampling_enabled_flag
        r.skip(1)  # sps_res_change_in_clvs_allowed_flag
    return level_at


def vvc_sps_size(nal: bytes) -> tuple[int, int]:
    """(sps_pic_width_max_in_luma_samples, sps_pic_height_max_in_luma_samples) of an SPS."""
    r = BitReader(rbsp(nal))
    skip_to_sps_size(r)
    return r.ue(), r.ue()


def check_vvc_sps(nals: list[bytes], width: int, height: int) -> None:
    """Every SPS a payload carries must code exactly the padded (width, height).

    ValueError otherwise, before ffmpeg sees the stream: an SPS is how a tiny payload
    would make the decoder allocate a huge picture.
    """
    from ._nal import SPS, nal_type

    for nal in nals:
        if nal_type(nal) == SPS:
            size = vvc_sps_size(nal)
            if size != (width, height):
                raise ValueError(f"its SPS codes {size[0]}x{size[1]}, the header implies {width}x{height}")


HEIF_MIN_CODED = 64
_SIZE_READERS = {"jpeg": jpeg_size, "webp": webp_size}


def check_payload(codec: str, data: bytes, width: int, height: int) -> None:
    """The rebuilt file is ``codec``'s own format and codes exactly (width, height).

    ValueError naming what is wrong otherwise; called before the decoder sees the bytes.
    """
    fmt = sniff_format(data)
    if fmt != codec:
        raise ValueError(f"payload is {fmt or 'an unknown format'}, not {codec}")
    if codec in _SIZE_READERS:
        sizes = [_SIZE_READERS[codec](data)]
        if sizes[0] != (width, height):
            raise ValueError(f"payload codes {sizes[0][0]}x{sizes[0][1]}, the header implies {width}x{height}")
        return
    # HEIF encoders code at least 64x64 and crop with a clean-aperture box ('clap'), so a
    # small picture's coded extent may exceed the header's size up to that minimum.
    sizes = heif_sizes(data)
    max_w, max_h = max(width, HEIF_MIN_CODED), max(height, HEIF_MIN_CODED)
    if any(w > max_w or h > max_h for w, h in sizes) or not any(w >= width and h >= height for w, h in sizes):
        got = ", ".join(f"{w}x{h}" for w, h in sizes[:4])
        raise ValueError(f"payload codes {got}, the header implies {width}x{height}")
