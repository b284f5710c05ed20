"""Codecs as the benchmark drives them: hit a byte budget, count real bytes, decode.

Byte counting (the same rule for everyone: the bytes a user would store):
* ``sggic*``: the whole .sgc file (header, base layer, coded semantics).
* baselines: the codec's standard file, as its own tools write it: JPEG/JFIF, WebP (RIFF),
  AVIF and HEIC (HEIF boxes), a raw JPEG XL codestream, a raw JPEG 2000 codestream
  (.j2k), and a raw H.266 Annex-B stream (.266, with its parameter sets). The container
  stripping that sggic's own base layer does is part of sggic, so baselines do not get it.

Rate rule: sggic's own search (``sggic.ratecontrol.search``): the largest file whose size
is <= floor(bpp * w * h / 8) bytes over the codec's quality settings (interpolation and
bisection, then a check of the next two settings, since sizes are only nearly monotone).
When even the smallest file is over the budget, the "smallest" policy returns the
smallest file, marked ``above_target``: the report shows it at its real rate and says
so. sggic uses the "raise" policy (it never writes an over-budget file); that point is
recorded as ``unreachable``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BackendUnavailable, InputError
from .data import BenchImage


@dataclass
class Coded:
    """One encoded point: ``data`` is exactly what is counted."""

    data: bytes
    setting: str
    above_target: bool = False
    tries: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


class Unreachable(Exception):
    """The codec refuses to make a file within the budget (sggic's rate control)."""


def budget_for(bpp: float, width: int, height: int) -> int:
    return int(math.floor(bpp * width * height / 8.0))


def search(encode: Callable[[Any], bytes], qualities: Sequence[Any], budget: int) -> tuple[Any, bytes, bool, int]:
    """Largest file <= budget over ``qualities`` (ordered smallest file first), by
    :func:`sggic.ratecontrol.search` with the "smallest" policy.

    Returns (quality, data, above_target, number of encodes).
    """
    from ..ratecontrol import search as rate_search

    r = rate_search(encode, qualities, budget, unreachable="smallest")
    return r.quality, r.payload, r.above_target, r.tries


class BenchCodec:
    """A codec under test. Subclasses implement ``encode``, ``decode``, ``encode_once``."""

    name = "?"
    description = ""
    counted = ""

    def check(self) -> None:
        """Raise BackendUnavailable when it cannot run here."""

    def encode(self, img: BenchImage, bpp: float, budget: int) -> Coded:
        raise NotImplementedError

    def encode_once(self, img: BenchImage, coded: Coded) -> None:
        """Encode again at the chosen setting only (timed by the runner)."""
        raise NotImplementedError

    def decode(self, coded: Coded, width: int, height: int) -> np.ndarray:
        raise NotImplementedError


class FileCodec(BenchCodec):
    """A baseline that writes a standard file at a quality setting."""

    qualities: Sequence[Any] = ()

    def encode_file(self, rgb: np.ndarray, q: Any) -> bytes:
        raise NotImplementedError

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        raise NotImplementedError

    def encode(self, img: BenchImage, bpp: float, budget: int) -> Coded:
        q, data, above, tries = search(lambda q: self.encode_file(img.rgb, q), self.qualities, budget)
        return Coded(data, f"{q:g}" if isinstance(q, float) else str(q), above, tries, {"q": q})

    def encode_once(self, img: BenchImage, coded: Coded) -> None:
        self.encode_file(img.rgb, coded.state["q"])

    def decode(self, coded: Coded, width: int, height: int) -> np.ndarray:
        return self.decode_file(coded.data, width, height)


class StandardFile(FileCodec):
    """One of sggic's base codecs writing its standard file (``BaseCodec.encode_file``):
    JPEG / WebP / AVIF / HEIC / VVC with exactly the encoder settings of sggic's base layer.
    """

    def __init__(self, name: str, description: str, counted: str) -> None:
        from ..codecs import get_codec

        self.name, self.description, self.counted = name, description, counted
        self._codec = get_codec(name)
        # the standard file a user makes (VVC: plain qp, libvvenc's defaults), not sggic's own steps
        self.qualities = tuple(self._codec.file_qualities())

    def check(self) -> None:
        self._codec.check_available()

    def encode_file(self, rgb: np.ndarray, q: Any) -> bytes:
        return self._codec.encode_file(rgb, q)

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        return self._codec.decode_file(data, width, height)


class JXLFile(FileCodec):
    """JPEG XL (libjxl via imagecodecs), effort 7, distance 25 (smallest) .. 0.5."""

    name = "jxl"
    description = "JPEG XL, libjxl via imagecodecs, effort 7, Butteraugli distance 25..0.5"
    counted = "raw JPEG XL codestream (.jxl, no ISO-BMFF container)"
    qualities = tuple(round(25.0 - 0.5 * i, 1) for i in range(50))

    def check(self) -> None:
        try:
            import imagecodecs
        except ImportError:
            raise BackendUnavailable("jxl needs imagecodecs: pip install imagecodecs") from None
        if not imagecodecs.JPEGXL.available:
            raise BackendUnavailable("this imagecodecs has no JPEG XL")

    def encode_file(self, rgb: np.ndarray, q: Any) -> bytes:
        import imagecodecs

        return bytes(imagecodecs.jpegxl_encode(rgb, distance=float(q), effort=7, numthreads=1))

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        import imagecodecs

        return np.ascontiguousarray(imagecodecs.jpegxl_decode(data, numthreads=1)[:height, :width, :3])


class J2KFile(FileCodec):
    """JPEG 2000 (OpenJPEG via imagecodecs); quality = target PSNR in dB (15..60)."""

    name = "j2k"
    description = "JPEG 2000, OpenJPEG via imagecodecs, fixed-quality layer at 15..60 dB"
    counted = "raw JPEG 2000 codestream (.j2k)"
    qualities = tuple(15.0 + 0.5 * i for i in range(91))

    def check(self) -> None:
        try:
            import imagecodecs
        except ImportError:
            raise BackendUnavailable("j2k needs imagecodecs: pip install imagecodecs") from None
        if not imagecodecs.JPEG2K.available:
            raise BackendUnavailable("this imagecodecs has no JPEG 2000")

    def encode_file(self, rgb: np.ndarray, q: Any) -> bytes:
        import imagecodecs

        return bytes(imagecodecs.jpeg2k_encode(rgb, level=float(q), codecformat="J2K", numthreads=1))

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        import imagecodecs

        return np.ascontiguousarray(imagecodecs.jpeg2k_decode(data, numthreads=1)[:height, :width, :3])


class HalfResFile(FileCodec):
    """A baseline coded at half resolution (sggic's downsample) and upscaled 2x bicubically.

    It gets the same whole-file budget as sggic and stores its standard file, so it
    answers: what does sggic add over the plain base codec at the same file size?
    """

    def __init__(self, inner: FileCodec) -> None:
        self.inner = inner
        self.name = f"{inner.name}-half+bicubic"
        self.description = f"{inner.name} at half resolution (Lanczos 2x down), bicubic 2x up"
        self.counted = inner.counted + " of the half-resolution image"
        self.qualities = inner.qualities

    def check(self) -> None:
        self.inner.check()

    def encode_file(self, rgb: np.ndarray, q: Any) -> bytes:
        from ..pipeline import downsample2x

        return self.inner.encode_file(downsample2x(rgb), q)

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        from ..restore.bicubic import bicubic_2x

        half = self.inner.decode_file(data, (width + 1) // 2, (height + 1) // 2)
        return np.ascontiguousarray(bicubic_2x(half)[:height, :width])


class SggicCodec(BenchCodec):
    """sggic through its public pipeline API: the whole .sgc file is counted.

    ``restorer`` None means the registry's default at run time. ``fixed`` records fixed
    decoder settings (differs from plain sggic only with a restorer that has a strength
    knob); ``no_segmentation`` decodes without a segmenter (offline, no segmenter ships,
    so it gives the same pixels as plain sggic; the report says so).
    """

    counted = "whole .sgc file (header + base layer + coded semantics)"

    def __init__(self, name: str, restorer: str | None = None, fixed: bool = False,
                 no_segmentation: bool = False) -> None:
        from ..restore.registry import DEFAULT_RESTORER, restorer_info

        self.restorer = restorer or DEFAULT_RESTORER
        restorer_info(self.restorer)  # InputError on an unknown name
        self.name, self.fixed, self.no_segmentation = name, fixed, no_segmentation
        what = f"restorer {self.restorer}" + (" (registry default)" if restorer is None else "")
        if fixed:
            what += ", --fixed"
        if no_segmentation:
            what += ", no segmentation"
        self.description = f"sggic: VVC base at half resolution + coded semantics, {what}"

    def check(self) -> None:
        from ..codecs import get_codec
        from ..restore.registry import get_restorer

        get_codec("vvc").check_available()
        get_restorer(self.restorer).check_available()  # e.g. MissingWeights

    @staticmethod
    def _semantics(img: BenchImage):
        from ..semantics.schema import Semantics

        return Semantics.load(img.semantics) if img.semantics else None

    def encode(self, img: BenchImage, bpp: float, budget: int) -> Coded:
        from ..errors import RateError
        from ..pipeline import encode_detailed

        try:
            r = encode_detailed(img.rgb, bpp=bpp, semantics=self._semantics(img), restorer=self.restorer,
                                fixed=self.fixed)
        except RateError as exc:
            raise Unreachable(str(exc)) from None
        if len(r.data) > budget:  # cannot happen: rate control's contract
            raise AssertionError(f"sggic wrote {len(r.data)} bytes for a {budget}-byte budget")
        notes = {"semantics": "yes" if img.semantics else "none"}
        # tries=0: sggic's own rate control searched; the number of its encodes is not exposed
        return Coded(r.data, f"vvc qp {r.header.quality}", False, 0, {"q": r.header.quality}, notes)

    def encode_once(self, img: BenchImage, coded: Coded) -> None:
        from ..codecs import get_codec
        from ..pipeline import downsample2x
        from ..semantics.textcoder import encode_semantics

        get_codec("vvc").encode(downsample2x(img.rgb), coded.state["q"])
        sem = self._semantics(img)
        if sem is not None and not sem.is_empty():
            encode_semantics(sem)

    def decode(self, coded: Coded, width: int, height: int) -> np.ndarray:
        from ..pipeline import decode_detailed
        from ..segment.base import UnavailableSegmenter

        r = decode_detailed(coded.data, segmenter=UnavailableSegmenter() if self.no_segmentation else None)
        coded.notes.update({f"stage_{k}": v for k, v in r.stages.items()})
        return np.ascontiguousarray(np.asarray(r.image.convert("RGB")))


_STANDARD = {
    "jpeg": ("baseline JPEG, libjpeg-turbo via Pillow, 4:2:0, optimised Huffman tables, q 1..95",
             "standard .jpeg file"),
    "webp": ("lossy WebP (VP8 intra), libwebp via Pillow, method 6, q 0..100", "standard .webp file"),
    "avif": ("AVIF (AV1 intra), libavif via Pillow, speed 6, tune=ssim, q 0..100", "standard .avif file"),
    "heic": ("HEIC (HEVC intra, x265 via pillow-heif), q 0..100; stands in for BPG", "standard .heic file"),
    "vvc": ("H.266/VVC intra, libvvenc preset medium via ffmpeg, full resolution, qp 63..20",
            "raw .266 Annex-B stream (parameter sets included)"),
}
BASELINES = ("jpeg", "webp", "avif", "heic", "jxl", "j2k", "vvc", "vvc-half+bicubic", "avif-half+bicubic",
             "webp-half+bicubic")  # any FileCodec also runs as NAME-half+bicubic (HalfResFile)
ABLATIONS = ("sggic-fixed", "sggic-noseg")


def sggic_names() -> list[str]:
    """``sggic`` (the registry's default restorer) and ``sggic:<r>`` for every other restorer."""
    from ..restore.registry import DEFAULT_RESTORER, RESTORER_NAMES

    return ["sggic"] + [f"sggic:{r}" for r in RESTORER_NAMES if r != DEFAULT_RESTORER]


def default_codec_names() -> list[str]:
    return sggic_names() + list(BASELINES)


def known_codec_names() -> list[str]:
    return default_codec_names() + list(ABLATIONS)


def get_bench_codec(name: str) -> BenchCodec:
    """The codec called ``name`` (see known_codec_names); InputError otherwise."""
    if name in _STANDARD:
        return StandardFile(name, *_STANDARD[name])
    if name == "jxl":
        return JXLFile()
    if name == "j2k":
        return J2KFile()
    if name.endswith("-half+bicubic"):
        inner = get_bench_codec(name[: -len("-half+bicubic")])
        if isinstance(inner, FileCodec) and not isinstance(inner, HalfResFile):
            return HalfResFile(inner)
    if name == "sggic":
        return SggicCodec("sggic")
    if name.startswith("sggic:"):
        return SggicCodec(name, restorer=name.split(":", 1)[1])
    if name == "sggic-fixed":
        return SggicCodec(name, fixed=True)
    if name == "sggic-noseg":
        return SggicCodec(name, no_segmentation=True)
    raise InputError(f"unknown bench codec {name!r}; choose from: {', '.join(known_codec_names())} "
                     "(any baseline also as NAME-half+bicubic, any restorer as sggic:NAME)")
