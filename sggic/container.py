"""The .sgc file format (docs/format.md): magic, version, then checked sections.

Every byte counts at 0.02 bpp (655 bytes for 512x512), so the framing is small:
LEB128 varints, a 1-byte section type, and a CRC-16 per section. Every field that
could make the reader allocate is bounded before use.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field

from . import varint
from .errors import BitstreamError

MAGIC = b"SGC"
VERSION = 1

# Section types (frozen). Types >= 0x80 are ancillary: a reader skips unknown ones.
SEC_HEADER = 0x01
SEC_BASE = 0x02
SEC_SEMANTICS = 0x03
SEC_PROFILE = 0x04  # which components and weights made the file; absent = the offline profile
SEC_PATCH_MASKS = 0x05  # 8x8 CLIP patch maps, 8 bytes per object (segmenter "patchmap" only)
SECTION_NAMES = {SEC_HEADER: "header", SEC_BASE: "base", SEC_SEMANTICS: "semantics", SEC_PROFILE: "profile",
                 SEC_PATCH_MASKS: "patch masks"}

# Header flag bits (frozen).
FLAG_GRAYSCALE = 0x01  # the source was grayscale: decode to a 1-channel image
FLAG_FIXED = 0x02  # decoder uses fixed settings instead of the adaptive stage
FLAG_SEMANTICS = 0x04  # a semantics section is present (so truncation before it is caught)
FLAG_PROFILE = 0x08  # a profile section is present (so removing it is caught)
_KNOWN_FLAGS = FLAG_GRAYSCALE | FLAG_FIXED | FLAG_SEMANTICS | FLAG_PROFILE

# Stage ids of the profile section's component records (frozen).
STAGE_CODEC = 1
STAGE_SEGMENT = 2
STAGE_ADAPT = 3
STAGE_RESTORE = 4
STAGE_NAMES = {STAGE_CODEC: "codec", STAGE_SEGMENT: "segmenter", STAGE_ADAPT: "settings policy",
               STAGE_RESTORE: "restorer"}
MAX_COMPONENTS = 16

MAX_SIDE = 65535
MAX_PIXELS = 100_000_000
MAX_SECTION_BYTES = 1 << 24
MAX_FILE_BYTES = 1 << 26
MAX_SEED = 1 << 32


@dataclass(frozen=True)
class Header:
    """Everything the decoder needs besides the section payloads."""

    width: int
    height: int
    codec_id: int
    quality: int
    flags: int = 0
    restorer_id: int = 0  # 0: the decoder's default restorer
    seed: int = 0

    @property
    def grayscale(self) -> bool:
        return bool(self.flags & FLAG_GRAYSCALE)

    @property
    def fixed(self) -> bool:
        return bool(self.flags & FLAG_FIXED)

    @property
    def base_size(self) -> tuple[int, int]:
        """(width, height) of the half-resolution base layer."""
        return (self.width + 1) // 2, (self.height + 1) // 2


@dataclass(frozen=True)
class ComponentRecord:
    """One component a file was made for: stage id, the component's frozen id in that
    stage's registry, and the version of its weights (0: none, or pinned by the id)."""

    stage: int
    component_id: int
    weights_version: int = 0


@dataclass(frozen=True)
class ProfileRecord:
    """The profile section: profile id (never 0, the offline profile, which is recorded by
    the section's absence) and the components the decoder must provide, one per stage."""

    profile_id: int
    components: tuple[ComponentRecord, ...] = ()

    def component(self, stage: int) -> ComponentRecord | None:
        return next((c for c in self.components if c.stage == stage), None)


@dataclass
class SgcFile:
    header: Header
    base: bytes
    semantics: bytes | None = None
    section_sizes: dict[str, int] = field(default_factory=dict)  # framed bytes per section
    profile: ProfileRecord | None = None  # None: the offline profile
    patch_masks: bytes | None = None  # None: no patch-mask section


def _read_varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    try:
        return varint.decode(buf, pos)
    except varint.VarintError as e:
        if e.reason == "truncated":
            raise BitstreamError(f"truncated .sgc file (inside {what})") from None
        raise BitstreamError(f"corrupt .sgc file ({e.reason} number in {what})") from None


def _section(kind: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SECTION_BYTES:
        raise ValueError("section too large")
    body = bytes([kind]) + varint.encode(len(payload)) + payload
    return body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")


def _check_header(h: Header) -> None:
    if not (1 <= h.width <= MAX_SIDE and 1 <= h.height <= MAX_SIDE):
        raise BitstreamError(f"corrupt .sgc header (image size {h.width}x{h.height})")
    if h.width * h.height > MAX_PIXELS:
        raise BitstreamError(f"image too large ({h.width}x{h.height} > {MAX_PIXELS} pixels)")
    if h.flags & ~_KNOWN_FLAGS:
        raise BitstreamError("unsupported .sgc header flags (file from a newer sggic?)")
    if not 0 <= h.seed < MAX_SEED:
        raise BitstreamError(f"corrupt .sgc header (seed {h.seed} is not below 2^32)")
    if not (0 <= h.codec_id <= 255 and 0 <= h.restorer_id <= 255):
        raise BitstreamError("corrupt .sgc header (id out of range)")


def encode_header(h: Header) -> bytes:
    return (
        varint.encode(h.width)
        + varint.encode(h.height)
        + bytes([h.codec_id])
        + varint.encode(h.quality)
        + bytes([h.flags, h.restorer_id])
        + varint.encode(h.seed)
    )


def decode_header(p: bytes) -> Header:
    pos = 0
    width, pos = _read_varint(p, pos, "header")
    height, pos = _read_varint(p, pos, "header")
    if pos >= len(p):
        raise BitstreamError("corrupt .sgc header (too short)")
    codec_id = p[pos]
    quality, pos = _read_varint(p, pos + 1, "header")
    if pos + 2 > len(p):
        raise BitstreamError("corrupt .sgc header (too short)")
    flags, restorer_id = p[pos], p[pos + 1]
    seed, pos = _read_varint(p, pos + 2, "header")
    if pos != len(p):
        raise BitstreamError("corrupt .sgc header (trailing bytes)")
    h = Header(width, height, codec_id, quality, flags, restorer_id, seed)
    _check_header(h)
    return h


def _check_profile(r: ProfileRecord) -> None:
    if not 1 <= r.profile_id <= 255:
        raise BitstreamError(f"corrupt .sgc profile section (profile id {r.profile_id})")
    if len(r.components) > MAX_COMPONENTS:
        raise BitstreamError("corrupt .sgc profile section (too many components)")
    stages = [c.stage for c in r.components]
    if len(set(stages)) != len(stages):
        raise BitstreamError("corrupt .sgc profile section (a stage recorded twice)")
    for c in r.components:
        if not (1 <= c.stage <= 255 and 1 <= c.component_id <= 255 and 0 <= c.weights_version < 2**32):
            raise BitstreamError("corrupt .sgc profile section (id out of range)")


def encode_profile(r: ProfileRecord) -> bytes:
    """profile id u8, count u8, then per component: stage u8, id u8, weights version varint."""
    _check_profile(r)
    out = bytes([r.profile_id, len(r.components)])
    for c in r.components:
        out += bytes([c.stage, c.component_id]) + varint.encode(c.weights_version)
    return out


def decode_profile(p: bytes) -> ProfileRecord:
    if len(p) < 2:
        raise BitstreamError("corrupt .sgc profile section (too short)")
    pid, count = p[0], p[1]
    if count > MAX_COMPONENTS:
        raise BitstreamError("corrupt .sgc profile section (too many components)")
    pos, comps = 2, []
    for _ in range(count):
        if pos + 2 > len(p):
            raise BitstreamError("corrupt .sgc profile section (too short)")
        stage, cid = p[pos], p[pos + 1]
        version, pos = _read_varint(p, pos + 2, "profile section")
        comps.append(ComponentRecord(stage, cid, version))
    if pos != len(p):
        raise BitstreamError("corrupt .sgc profile section (trailing bytes)")
    r = ProfileRecord(pid, tuple(comps))
    _check_profile(r)
    return r


def write(header: Header, base: bytes, semantics: bytes | None = None,
          profile: ProfileRecord | None = None, patch_masks: bytes | None = None) -> bytes:
    """Assemble a complete .sgc file (``profile`` None: the offline profile, no section;
    ``patch_masks``: the patch-map segmenter's 8 bytes per object, only with a profile)."""
    if patch_masks is not None and profile is None:
        raise ValueError("patch masks need a profile section (they are a full-profile segmenter's)")
    flags = header.flags & ~(FLAG_SEMANTICS | FLAG_PROFILE)
    if semantics is not None:
        flags |= FLAG_SEMANTICS
    if profile is not None:
        flags |= FLAG_PROFILE
    header = Header(header.width, header.height, header.codec_id, header.quality, flags,
                    header.restorer_id, header.seed)
    _check_header(header)
    out = MAGIC + bytes([VERSION]) + _section(SEC_HEADER, encode_header(header))
    if profile is not None:
        out += _section(SEC_PROFILE, encode_profile(profile))
    out += _section(SEC_BASE, base)
    if semantics is not None:
        out += _section(SEC_SEMANTICS, semantics)
    if patch_masks is not None:
        out += _section(SEC_PATCH_MASKS, patch_masks)
    return out


def read(data: bytes) -> SgcFile:
    """Parse and verify a .sgc file; BitstreamError with one line on any problem."""
    if len(data) > MAX_FILE_BYTES:
        raise BitstreamError(f"file too large for .sgc ({len(data)} bytes)")
    if len(data) < len(MAGIC) + 1 or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not an .sgc file (bad magic)")
    if data[len(MAGIC)] != VERSION:
        raise BitstreamError(f"unsupported .sgc version {data[len(MAGIC)]} (this sggic reads {VERSION})")
    pos = len(MAGIC) + 1
    sections: dict[int, bytes] = {}
    sizes: dict[str, int] = {"magic+version": pos}
    while pos < len(data):
        start = pos
        kind = data[pos]
        length, pos = _read_varint(data, pos + 1, "section length")
        if length > MAX_SECTION_BYTES or pos + length + 2 > len(data):
            raise BitstreamError("truncated or corrupt .sgc file (section length past end of file)")
        payload = data[pos : pos + length]
        crc = int.from_bytes(data[pos + length : pos + length + 2], "big")
        if binascii.crc_hqx(data[start : pos + length], 0xFFFF) != crc:
            name = SECTION_NAMES.get(kind, f"0x{kind:02x}")
            raise BitstreamError(f"corrupt .sgc file (checksum mismatch in {name} section)")
        pos += length + 2
        if kind in sections:
            raise BitstreamError("corrupt .sgc file (duplicate section)")
        if kind not in SECTION_NAMES and kind < 0x80:
            raise BitstreamError(f"unsupported .sgc section type 0x{kind:02x}")
        if not sections and kind != SEC_HEADER:
            raise BitstreamError("corrupt .sgc file (header section must come first)")
        sections[kind] = payload
        label = SECTION_NAMES.get(kind, f"ancillary 0x{kind:02x}")
        sizes[label] = pos - start
    if SEC_HEADER not in sections:
        raise BitstreamError("truncated .sgc file (no header)")
    header = decode_header(sections[SEC_HEADER])
    if SEC_BASE not in sections:
        raise BitstreamError("truncated .sgc file (no base layer)")
    has_sem = SEC_SEMANTICS in sections
    if has_sem != bool(header.flags & FLAG_SEMANTICS):
        raise BitstreamError("truncated or corrupt .sgc file (semantics section missing)")
    if (SEC_PROFILE in sections) != bool(header.flags & FLAG_PROFILE):
        raise BitstreamError("corrupt .sgc file (profile section and header flag disagree)")
    profile = decode_profile(sections[SEC_PROFILE]) if SEC_PROFILE in sections else None
    masks = sections.get(SEC_PATCH_MASKS)
    if masks is not None and profile is None:
        raise BitstreamError("corrupt .sgc file (patch masks without a profile section)")
    return SgcFile(header, sections[SEC_BASE], sections.get(SEC_SEMANTICS), sizes, profile, masks)


HEADER_PEEK_BYTES = 64  # magic + version + a whole header section always fit


def peek_header(prefix: bytes) -> Header:
    """The header from the first bytes of a file, without reading or checking the rest.

    For readers that want the size before decoding (the Pillow plugin's ``open``);
    :func:`read` still verifies the whole file when it is decoded.
    """
    if len(prefix) < len(MAGIC) + 2 or prefix[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not an .sgc file (bad magic)")
    if prefix[len(MAGIC)] != VERSION:
        raise BitstreamError(f"unsupported .sgc version {prefix[len(MAGIC)]} (this sggic reads {VERSION})")
    start = len(MAGIC) + 1
    if prefix[start] != SEC_HEADER:
        raise BitstreamError("corrupt .sgc file (header section must come first)")
    length, pos = _read_varint(prefix, start + 1, "section length")
    if pos + length + 2 > len(prefix):
        raise BitstreamError("truncated or corrupt .sgc header")
    crc = int.from_bytes(prefix[pos + length : pos + length + 2], "big")
    if binascii.crc_hqx(prefix[start : pos + length], 0xFFFF) != crc:
        raise BitstreamError("corrupt .sgc file (checksum mismatch in header section)")
    return decode_header(prefix[pos : pos + length])
