"""H.266/VVC intra base layer through imageio-ffmpeg's static ffmpeg (libvvenc + native decoder).

Why this shape: at 0.01-0.05 bpp the coded picture is often 40-700 bytes while the
access unit delimiter, SPS and PPS plus start codes add ~185 more. Those headers depend
only on the encoder settings and the (padded) picture size, which the decoder knows, so
the payload keeps only the slice (and ALF/LMCS APS units when present) in a compact
framing, and the decoder regenerates the parameter sets by encoding a flat picture with
identical settings. The encoder checks that the regenerated sets are byte-identical and
stores the real ones otherwise (see docs/codecs.md, "VVC payload").
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

import numpy as np

from .. import varint
from ..errors import BackendUnavailable, BitstreamError, InputError, SggicError
from . import _nal, _paramsets, _paramtable, _sniff
from ._ffmpeg import FFmpegTimeout, check_exe, is_pinned_package, run_ffmpeg
from ._pixels import check_rgb, check_size, pad_edge, padded_size, rgb_to_yuv420p10, yuv420p10_to_rgb
from .base import BaseCodec, RateHints

PRESET = "medium"  # fast: +13 % bytes at equal PSNR; slow: -1 % for 2x time (docs/codecs.md)
THREADS = 1  # output is identical for any count; 1 is fastest at 256x256 on 2 cores
PRESETS = ("faster", "fast", "medium", "slow", "slower")
PAD_MULTIPLE, MIN_SIZE = 8, 16  # libvvenc refuses pictures below 16 and needs 8-aligned CTUs
QP_MIN, QP_MAX = 20, 63

# Framing of the payload: a sequence of items, parsed until the payload ends.
#   lead byte >= 0xC0     -> the rest is the body of an IDR slice whose 2-byte NAL header is
#                            IMPLICIT_SLICE_HEADER (must be the last item). Every picture
#                            vvenc codes here starts its slice header with the bits
#                            sh_picture_header_in_slice_header_flag=1, ph_gdr_or_irap_pic_flag=1.
#   lead byte 1..0xBF     -> a NAL unit of that many bytes whose first header byte is 0x00
#                            (layer 0); the lead byte replaces that header byte.
#   lead byte 0x00        -> uvarint length, then the whole NAL unit (anything else).
# If no SPS is among the items the decoder prepends the regenerated parameter sets.
IMPLICIT_SLICE_HEADER = b"\x00\x39"  # nal_unit_type 7 (IDR_W_RADL), temporal id 0
_IMPLICIT_MIN = 0xC0


# Header quality (docs/codecs.md, "Quality"): 0..63 is a plain qp with QPA on (every file
# written before the refinements, and still the coarse steps). 64 + SLOTS_PER_QP * qp + j
# packs qp with: j in 0..11 -> QPA on, chroma qp offsets -(j + 1); j in 12..24 -> QPA off,
# chroma offsets -(j - 12). Every value up to QUALITY_MAX is valid and means one setting.
CHROMA_MAX = 12  # libvvenc accepts chroma qp offsets -12..12
SLOTS_PER_QP = CHROMA_MAX + (CHROMA_MAX + 1)
PACKED_BASE = 64
QUALITY_MAX = PACKED_BASE + SLOTS_PER_QP * (QP_MAX + 1) - 1
CHROMA_STEPS = (1, 2, 4, 6, 9, 12)  # refinements rate control tries between qp and qp - 1
# Where the refinements' sizes lie, as fractions of the way from qp (0) to its -12 offset
# (1): medians over the train photos at medium (docs/codecs.md); the -12 one is probed.
REFINEMENT_SHAPE = (0.035, 0.075, 0.175, 0.32, 0.59)
ANCHOR_OFFSETS = (4, -5)  # rate control's first two probes: qp this far from the prior's guess
DETAIL_PRIOR = (4.25, -5.06, 6.13)  # the qp guess from bits per pixel and detail (``PreparedImage.anchors``)
DETAIL_ANCHOR_OFFSETS = (4, -4)  # the first two probes around that guess
DETAIL_PIXELS = 512 * 512  # bases up to this size use it (it was fitted on 256x256 ones)
MOSAIC, TILE = 4, 128  # rate control's calibration picture for large images: 4x4 tiles of 128x128
PROBE_PRESET = "faster"  # rate control's size probe: ~5x less CPU than medium, sizes within ~20 %
QPA = False  # libvvenc's perceptual QP adaptation in the files the encoder writes: off (docs/codecs.md)
PROBE_PRIOR = 0.94  # rate control's expected medium / faster payload ratio before a real encode
# Bases of up to DETAIL_PIXELS probe with ALF off: ~16 % less CPU per probe than plain
# faster, and the sizes follow medium's as closely (docs/codecs.md); their prior:
SMALL_PROBE_PARAMS = ("ALF=0", "CCALF=0")
SMALL_PROBE_PRIOR = 0.952  # medium / that probe, fitted on the train photos
CALIBRATION_PRESET = "fast"  # small pictures: one probe at this preset estimates that ratio
CALIBRATION_PRIOR = 0.98  # expected medium / fast payload ratio


class Settings(NamedTuple):
    """The encoder settings one header quality stands for."""

    qp: int
    chroma_offset: int = 0  # Cb and Cr qp offset, -CHROMA_MAX..0
    qpa: bool = True


def pack_quality(settings: Settings) -> int:
    """The header quality for ``settings`` (InputError when out of range)."""
    qp, chroma, qpa = settings
    if not 0 <= qp <= QP_MAX or not -CHROMA_MAX <= chroma <= 0:
        raise InputError(f"VVC settings out of range: qp {qp}, chroma offset {chroma}")
    if qpa and chroma == 0:
        return qp
    j = -chroma - 1 if qpa else CHROMA_MAX - chroma
    return PACKED_BASE + SLOTS_PER_QP * qp + j


def unpack_quality(quality: int) -> Settings:
    """The settings of a header quality; ValueError outside 0..QUALITY_MAX."""
    if not 0 <= quality <= QUALITY_MAX:
        raise ValueError(f"VVC quality must be in 0..{QUALITY_MAX}, got {quality}")
    if quality < PACKED_BASE:
        return Settings(quality)
    qp, j = divmod(quality - PACKED_BASE, SLOTS_PER_QP)
    return Settings(qp, -(j + 1), True) if j < CHROMA_MAX else Settings(qp, -(j - CHROMA_MAX), False)


def qp_of_quality(quality: int) -> int:
    """The luma qp a header quality codes with (what the fitted restorer is conditioned on)."""
    return unpack_quality(int(quality)).qp


def encoder_args(width: int, height: int, settings: Settings, preset: str = PRESET,
                 threads: int = THREADS, params: Sequence[str] = ()) -> list[str]:
    """The ffmpeg arguments of every libvvenc encode (sggic's base layer, the parameter-set
    templates, the rate-control probe and the bench's baseline).

    Raw 10-bit 4:2:0 on stdin, one intra picture as an Annex-B stream on stdout. Plain
    settings (QPA on, no chroma offset) add no argument, so such encodes are exactly those
    of files written before the other settings existed. ``params``: more libvvenc
    ``key=value`` settings (only rate control's probes use them; never a file's encode).
    """
    qp, chroma, qpa = settings
    extra = [] if qpa else ["-qpa", "0"]
    vvenc = [f"CbQpOffset={chroma}", f"CrQpOffset={chroma}"] if chroma else []
    vvenc += params
    if vvenc:
        extra += ["-vvenc-params", ":".join(vvenc)]
    return [
        "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{width}x{height}", "-i", "-",
        "-threads", str(threads), "-c:v", "libvvenc", "-preset", preset, "-qp", str(qp), *extra,
        "-frames:v", "1", "-f", "vvc", "-",
    ]  # fmt: skip


def decoder_args(width: int, height: int) -> list[str]:
    """ffmpeg arguments decoding one VVC picture of (padded) ``width x height`` from stdin
    to raw 10-bit 4:2:0 on stdout.

    -xerror: without it ffmpeg conceals a damaged slice and exits 0. -max_pixels: a hard
    backstop, ffmpeg refuses frames above the CTU-aligned padded size.
    """
    return ["-max_pixels", str((width + 128) * (height + 128)),
            "-xerror", "-threads", "1", "-f", "vvc", "-i", "-", "-frames:v", "1",
            "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-"]  # fmt: skip


def _run(args: list[str], stdin: bytes, error: type[SggicError], what: str) -> bytes:
    """run_ffmpeg; when it fails (not by timeout), first rule out an ffmpeg without libvvenc or
    a VVC decoder, which would otherwise read as a bad payload (checked only then: a fresh
    process runs no capability probe before its first encode or decode)."""
    try:
        return run_ffmpeg(args, stdin, error, what)
    except FFmpegTimeout:
        raise
    except SggicError:
        _check_backend()
        raise


def _encode_stream(yuv: bytes, width: int, height: int, settings: Settings, preset: str,
                   threads: int = THREADS, params: Sequence[str] = ()) -> bytes:
    # inputs are validated before this point, so a failure here is the backend's
    return _run(encoder_args(width, height, settings, preset, threads, params), yuv, BackendUnavailable,
                "libvvenc failed")


def decode_stream(stream: bytes, width: int, height: int, what: str = "corrupt VVC payload") -> np.ndarray:
    """RGB pixels of an Annex-B stream coding a ``padded_size(width, height)`` picture, cropped."""
    pw, ph = padded_size(width, height, PAD_MULTIPLE, MIN_SIZE)
    raw = _run(decoder_args(pw, ph), stream, BitstreamError, what)
    expected = pw * ph * 3 // 2 * 2
    if len(raw) != expected:
        raise BitstreamError(f"{what}: decoded {len(raw)} bytes, expected {expected}")
    return np.ascontiguousarray(yuv420p10_to_rgb(raw, pw, ph)[:height, :width])


@lru_cache(maxsize=1)
def _check_backend() -> None:
    """The ffmpeg binary exists and was built with libvvenc and a VVC decoder (once)."""
    out = run_ffmpeg(["-h", "encoder=libvvenc"], b"", BackendUnavailable, "ffmpeg cannot run")
    if b"libvvenc" not in out:
        raise BackendUnavailable("this ffmpeg has no libvvenc encoder; pip install imageio-ffmpeg==0.8.1")
    out = run_ffmpeg(["-h", "decoder=vvc"], b"", BackendUnavailable, "ffmpeg cannot run")
    if b"vvc" not in out.lower():
        raise BackendUnavailable("this ffmpeg has no VVC decoder; pip install imageio-ffmpeg==0.8.1")


@lru_cache(maxsize=32)
def template_parameter_sets(width: int, height: int, quality: int, preset: str = PRESET) -> tuple[bytes, ...]:
    """The parameter-set NAL units libvvenc writes for a padded size, header quality and preset.

    Rebuilt by coding a flat grey picture with exactly the encoder's settings: the sets
    do not depend on the picture content. Cached per (w, h, quality, preset) for this process.
    """
    grey = np.full((height, width, 3), 128, np.uint8)
    stream = _encode_stream(rgb_to_yuv420p10(grey), width, height, unpack_quality(quality), preset)
    return tuple(n for n in _nal.split_annexb(stream) if _nal.nal_type(n) in _nal.PARAMETER_SETS)


def decoder_parameter_sets(width: int, height: int, quality: int, preset: str = PRESET) -> tuple[bytes, ...]:
    """The sets :func:`template_parameter_sets` gives, at a constant cost for any size.

    Rewritten from a 16x16 template (sggic.codecs._paramsets): a file claiming a huge
    picture must not make the decoder run libvvenc on that huge picture.
    """
    small = _tabled_template(quality, preset)
    if small is None:
        small = template_parameter_sets(_paramsets.TEMPLATE_SIZE, _paramsets.TEMPLATE_SIZE, quality, preset)
    return _paramsets.resize_parameter_sets(small, width, height)


def _tabled_template(quality: int, preset: str) -> tuple[bytes, ...] | None:
    """The 16x16 sets from ``_paramtable`` when they are the pinned binary's at ``PRESET``
    (no libvvenc run); None where only coding the template can tell."""
    if preset != PRESET or not is_pinned_package():
        return None
    settings = unpack_quality(quality)
    return _paramtable.lookup(settings.chroma_offset, settings.qpa)


def pack_nals(nals: Sequence[bytes]) -> bytes:
    """The compact framing described above for the NAL units to keep (VCL last)."""
    out = bytearray()
    for i, nal in enumerate(nals):
        last = i == len(nals) - 1
        if last and nal[:2] == IMPLICIT_SLICE_HEADER and len(nal) > 2 and nal[2] >= _IMPLICIT_MIN:
            out += nal[2:]
        elif nal[0] == 0 and 2 <= len(nal) < _IMPLICIT_MIN:
            out.append(len(nal))
            out += nal[1:]
        else:
            out += b"\x00" + varint.encode(len(nal)) + nal
    return bytes(out)


def unpack_nals(payload: bytes) -> list[bytes]:
    """Inverse of :func:`pack_nals`; BitstreamError on a malformed framing."""
    nals: list[bytes] = []
    pos = 0
    while pos < len(payload):
        lead = payload[pos]
        if lead >= _IMPLICIT_MIN:
            nals.append(IMPLICIT_SLICE_HEADER + payload[pos:])
            break
        if lead:
            end = pos + lead
            nal = b"\x00" + payload[pos + 1 : end]
        else:
            try:
                size, start = varint.decode(payload, pos + 1)
            except varint.VarintError:
                raise BitstreamError("VVC payload truncated (length field)") from None
            end = start + size
            nal = payload[start:end]
        if end > len(payload) or len(nal) < 2:
            raise BitstreamError("VVC payload truncated (NAL unit cut short)")
        nals.append(nal)
        pos = end
    if not nals or not _nal.is_vcl(nals[-1]):
        raise BitstreamError("VVC payload has no coded slice")
    return nals


def _check_quality(quality: int, error: type[Exception]) -> Settings:
    if isinstance(quality, (int, np.integer)) and not isinstance(quality, bool):
        try:
            return unpack_quality(int(quality))
        except ValueError:
            pass
    raise error(f"VVC quality must be a qp in 0..{QP_MAX} or packed settings up to {QUALITY_MAX}, got {quality!r}")


def _slices_only(stream: bytes) -> list[bytes]:
    return [n for n in _nal.split_annexb(stream) if _nal.nal_type(n) not in _nal.DROPPABLE | _nal.PARAMETER_SETS]


class PreparedImage:
    """One picture, padded and converted to 10-bit 4:2:0 once, for the encodes of a rate search."""

    def __init__(self, codec: "VVCCodec", rgb: np.ndarray) -> None:
        img = check_rgb(rgb)
        h, w = img.shape[:2]
        self.preset = codec.preset
        self.pw, self.ph = padded_size(w, h, PAD_MULTIPLE, MIN_SIZE)
        self.pixels = self.pw * self.ph
        small = self.pixels <= DETAIL_PIXELS
        self.probe_params: tuple[str, ...] = SMALL_PROBE_PARAMS if small else ()
        self.prior_ratio = (SMALL_PROBE_PRIOR if small else PROBE_PRIOR) if self.preset == PRESET else 1.0
        self.calibration_prior = CALIBRATION_PRIOR if self.preset == PRESET else 1.0
        self.refinement_shape = tuple(codec.refinement_shape)
        self.yuv = rgb_to_yuv420p10(pad_edge(img, self.pw, self.ph))
        self._img = img
        self.detail = _detail(img) if small else 0.0

    def __call__(self, quality: int, threads: int = THREADS) -> bytes:
        """The payload at ``quality`` (as ``VVCCodec.encode``); ``threads`` does not change it."""
        settings = _check_quality(quality, InputError)
        if _tabled_template(int(quality), self.preset) is not None:
            stream = _encode_stream(self.yuv, self.pw, self.ph, settings, self.preset, threads)
            return VVCCodec._compact(stream, decoder_parameter_sets(self.pw, self.ph, int(quality), self.preset))
        with ThreadPoolExecutor(max_workers=1) as pool:  # else a tiny 16x16 encode beside the real one
            sets = pool.submit(decoder_parameter_sets, self.pw, self.ph, int(quality), self.preset)
            stream = _encode_stream(self.yuv, self.pw, self.ph, settings, self.preset, threads)
            return VVCCodec._compact(stream, sets.result())

    def probe(self, quality: int) -> int:
        """Payload bytes at ``quality``, estimated with libvvenc's ``faster`` preset (bases of up
        to ``DETAIL_PIXELS``: with ALF off, ``SMALL_PROBE_PARAMS``)."""
        return self._payload_bytes(quality, PROBE_PRESET, self.probe_params)

    def rate_hints(self, budget: int) -> RateHints:
        """Everything above for :func:`sggic.ratecontrol.fit_rate` (``BaseCodec.encoder``)."""
        return RateHints(self.probe_ratio, float(self.prior_ratio), self.calibration_probe,
                         float(self.calibration_prior), self.refinement_shape, tuple(self.anchors(budget)))

    def calibration_probe(self, quality: int) -> int:
        """Payload bytes at ``quality`` with libvvenc's ``fast`` preset: ~2x a probe's CPU, and its
        size ratio to the real one varies 3-4x less between pictures (docs/codecs.md)."""
        return self._payload_bytes(quality, CALIBRATION_PRESET)

    def _payload_bytes(self, quality: int, preset: str, params: Sequence[str] = ()) -> int:
        """The size of the payload (slices, packed) an encode at ``preset`` would give."""
        settings = _check_quality(quality, InputError)
        stream = _encode_stream(self.yuv, self.pw, self.ph, settings, preset, params=params)
        return len(pack_nals(_slices_only(stream)))

    def anchors(self, budget: int) -> tuple[int, int]:
        """The two qualities rate control probes first: around the qp a prior puts ``budget`` at.

        Priors (QPA off, fitted on the train photos, docs/codecs.md): for bases of up to
        ``DETAIL_PIXELS`` the chosen qp is about 4.25 - 5.06 log2(budget bits per base pixel)
        + 6.13 log2(detail), ``detail`` being the mean absolute difference between
        neighbouring luma samples (photos spread +-3 qp around it); for larger ones, where
        that was not fitted, 29.7 - 5.3 log2(bits) (+-10 qp).
        """
        bits = max(budget, 1) * 8 / self.pixels
        if self.pixels <= DETAIL_PIXELS and self.detail > 0:
            a, b, c = DETAIL_PRIOR
            guess, offsets = a + b * math.log2(bits) + c * math.log2(self.detail), DETAIL_ANCHOR_OFFSETS
        else:
            guess, offsets = 29.7 - 5.3 * math.log2(bits), ANCHOR_OFFSETS
        qps = [min(max(round(guess + d), QP_MIN), QP_MAX) for d in offsets]
        return pack_quality(Settings(qps[0], 0, QPA)), pack_quality(Settings(qps[1], 0, QPA))

    def probe_ratio(self, quality: int) -> float:
        """Estimated real / probe size at ``quality``, measured on a mosaic of the picture.

        The mosaic (``MOSAIC`` x ``MOSAIC`` tiles of ``TILE`` pixels, spread evenly over the
        picture) is coded with the real preset and the probe's, in parallel. On the dev
        photos' half-resolution bases (960x640 to 1280x800) its ratio was within 2.5 % of
        the whole picture's, against 0.75-1.15 between photos (docs/codecs.md).
        """
        settings = _check_quality(quality, InputError)
        tiles = _mosaic(self._img, MOSAIC, TILE)
        yuv = rgb_to_yuv420p10(tiles)
        side = MOSAIC * TILE

        def size(preset: str) -> int:
            return len(pack_nals(_slices_only(_encode_stream(yuv, side, side, settings, preset))))

        with ThreadPoolExecutor(max_workers=2) as pool:
            real, probe = pool.map(size, (self.preset, PROBE_PRESET))
        return real / probe if real > 0 and probe > 0 else 1.0


def _detail(img: np.ndarray) -> float:
    """Mean absolute difference between vertical plus horizontal neighbours of the luma (0..255)."""
    y = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    dy = float(np.abs(np.diff(y, axis=0)).mean()) if y.shape[0] > 1 else 0.0
    dx = float(np.abs(np.diff(y, axis=1)).mean()) if y.shape[1] > 1 else 0.0
    return dy + dx


def _mosaic(img: np.ndarray, n: int, tile: int) -> np.ndarray:
    """``n`` x ``n`` tiles of ``tile`` pixels taken at the centres of an n x n grid over ``img``."""
    h, w = img.shape[:2]
    out = np.empty((n * tile, n * tile, 3), np.uint8)
    for a in range(n):
        for b in range(n):
            y = min(max(int((a + 0.5) * h / n - tile / 2), 0), max(h - tile, 0))
            x = min(max(int((b + 0.5) * w / n - tile / 2), 0), max(w - tile, 0))
            out[a * tile : (a + 1) * tile, b * tile : (b + 1) * tile] = pad_edge(img[y : y + tile, x : x + tile], tile, tile)
    return out


class VVCCodec(BaseCodec):
    """libvvenc intra coding at a fixed qp (and chroma offset); 10-bit 4:2:0, colour conversion in numpy."""

    name = "vvc"
    codec_id = 1

    def __init__(self, preset: str = PRESET) -> None:
        # The preset is not stored in the payload: files must be decoded with the preset
        # they were encoded with. Only the default is used by .sgc files; others are for
        # measurements (sggic.codecs._measure).
        if preset not in PRESETS:
            raise InputError(f"unknown libvvenc preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        self.preset = preset

    def qualities(self) -> Sequence[int]:
        """sggic's coarse steps: qp 63..20 with QPA as ``vvc.QPA`` (off: packed qualities)."""
        return tuple(pack_quality(Settings(qp, 0, QPA)) for qp in range(QP_MAX, QP_MIN - 1, -1))

    def file_qualities(self) -> Sequence[int]:
        """The standard stream a user makes (``ffmpeg -c:v libvvenc -qp Q``: libvvenc's
        defaults, QPA on): plain qp 63..20. The benchmark's VVC baselines use these."""
        return tuple(range(QP_MAX, QP_MIN - 1, -1))

    @property
    def quality_description(self) -> str:
        return f"a qp in {QP_MIN}..{QP_MAX}, or packed settings with such a qp (docs/codecs.md)"

    def writes_quality(self, quality: int) -> bool:
        """A plain qp in QP_MIN..QP_MAX, or packed settings whose qp is in that range."""
        try:
            return QP_MIN <= unpack_quality(int(quality)).qp <= QP_MAX
        except ValueError:
            return False

    def refinements(self, quality: int) -> Sequence[int]:
        """qp with chroma qp offsets -1 .. -12: files between qp and qp - 1 (1-5 % steps)."""
        qp, chroma, qpa = _check_quality(quality, InputError)
        if chroma != 0 or not QP_MIN < qp <= QP_MAX:  # QP_MIN is the top of the list: nothing above
            return ()
        return tuple(pack_quality(Settings(qp, -k, qpa)) for k in CHROMA_STEPS)

    @property
    def refinement_shape(self) -> tuple[float, ...]:
        """Rate control's estimate of where :meth:`refinements` lie: all but the last one, as
        fractions of the way from the quality's size to the last refinement's."""
        return REFINEMENT_SHAPE

    def size_probe(self, rgb: np.ndarray) -> Callable[[int], int]:
        """Payload bytes at a quality, estimated with libvvenc's ``faster`` preset."""
        return self.encoder(rgb).probe

    def encoder(self, rgb: np.ndarray) -> "PreparedImage":
        """``rgb`` converted once for many encodes (rate control): payloads and probes."""
        return PreparedImage(self, rgb)

    def check_available(self) -> None:
        """The ffmpeg binary is there; any other binary than the pinned imageio-ffmpeg's is also
        asked (once per process) for libvvenc and a VVC decoder. The pinned one runs nothing
        here: should it fail anyway, ``_run`` asks it then."""
        check_exe()
        if not is_pinned_package():
            _check_backend()

    def encode(self, rgb: np.ndarray, quality: int, threads: int = THREADS) -> bytes:
        """The payload; the parameter sets the decoder will rebuild are made meanwhile.

        ``threads``: libvvenc threads (the stream is identical for any count, tested).
        """
        _check_quality(quality, InputError)
        return self.encoder(rgb)(quality, threads)

    def encode_file(self, rgb: np.ndarray, quality: int) -> bytes:
        """The plain .266 stream libvvenc writes for the padded image (parameter sets included)."""
        settings = _check_quality(quality, InputError)
        img = check_rgb(rgb)
        h, w = img.shape[:2]
        pw, ph = padded_size(w, h, PAD_MULTIPLE, MIN_SIZE)
        return _encode_stream(rgb_to_yuv420p10(pad_edge(img, pw, ph)), pw, ph, settings, self.preset)

    def annexb_stream(self, rgb: np.ndarray, qp: int) -> bytes:
        """Same as :meth:`encode_file` (kept for sggic.codecs._measure)."""
        return self.encode_file(rgb, qp)

    def compact(self, stream: bytes, width: int, height: int, quality: int) -> bytes:
        """The payload for a stream: drop AUD/SEI, drop parameter sets the decoder rebuilds."""
        _check_quality(quality, InputError)
        pw, ph = padded_size(width, height, PAD_MULTIPLE, MIN_SIZE)
        return self._compact(stream, decoder_parameter_sets(pw, ph, int(quality), self.preset))

    @staticmethod
    def _compact(stream: bytes, rebuilt: tuple[bytes, ...]) -> bytes:
        """Drop AUD/SEI, and the parameter sets when ``rebuilt`` (the decoder's) equals them."""
        nals = [n for n in _nal.split_annexb(stream) if _nal.nal_type(n) not in _nal.DROPPABLE]
        sets = tuple(n for n in nals if _nal.nal_type(n) in _nal.PARAMETER_SETS)
        rest = [n for n in nals if _nal.nal_type(n) not in _nal.PARAMETER_SETS]
        has_sps = any(_nal.nal_type(n) == _nal.SPS for n in sets)
        if has_sps and sets == rebuilt:
            return pack_nals(rest)
        return pack_nals(nals)  # fallback: the decoder could not rebuild them, keep them

    def decode(self, payload: bytes, width: int, height: int, quality: int) -> np.ndarray:
        _check_quality(quality, BitstreamError)
        check_size(width, height)
        nals = unpack_nals(bytes(payload))
        pw, ph = padded_size(width, height, PAD_MULTIPLE, MIN_SIZE)
        try:  # a stored SPS must code the header's size before ffmpeg allocates anything
            _sniff.check_vvc_sps(nals, pw, ph)
        except ValueError as exc:
            raise BitstreamError(f"corrupt VVC payload: {exc}") from None
        if not any(_nal.nal_type(n) == _nal.SPS for n in nals):
            nals = [*decoder_parameter_sets(pw, ph, int(quality), self.preset), *nals]
        return decode_stream(_nal.join_annexb(nals), width, height)

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Pixels of a plain .266 stream (as :meth:`encode_file` writes it)."""
        check_size(width, height)
        return decode_stream(bytes(data), width, height, "VVC decoding failed")
