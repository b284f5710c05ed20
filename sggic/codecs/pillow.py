"""AVIF, HEIC, WebP and JPEG base layers through Pillow and pillow-heif.

Why the template patch: each format wraps a few hundred coded bytes in headers that the
decoder can rebuild from (width, height, quality) alone. Every codec here encodes a flat
grey picture of the same padded size and quality as a template and stores the real file
as a patch against it (sggic.codecs._template); see docs/codecs.md for the measured
savings. Encoders run single-threaded so that templates are the same on every machine.
"""

from __future__ import annotations

import io
import struct
import warnings
from abc import abstractmethod
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..errors import BackendUnavailable, BitstreamError, InputError
from . import _sniff
from ._pixels import check_rgb, check_size, pad_edge, padded_size
from ._template import apply_patch, make_patch
from .base import BaseCodec


class _PillowCodec(BaseCodec):
    """Shared encode/decode around one Pillow format; subclasses say how to save and load."""

    quality_range: tuple[int, int] = (0, 100)
    pad_multiple: int = 1
    min_size: int = 1

    def qualities(self) -> Sequence[int]:
        lo, hi = self.quality_range
        return tuple(range(lo, hi + 1))

    @abstractmethod
    def _save(self, rgb: np.ndarray, quality: int) -> bytes:
        """The complete file for an already padded image."""

    @abstractmethod
    def _load(self, data: bytes) -> np.ndarray:
        """Pixels of a complete file; may raise anything on a bad file."""

    def _check_quality(self, quality: int, error: type[Exception]) -> int:
        lo, hi = self.quality_range
        if not isinstance(quality, (int, np.integer)) or not lo <= int(quality) <= hi:
            raise error(f"{self.name} quality must be an integer in {lo}..{hi}, got {quality!r}")
        return int(quality)

    def _padded(self, width: int, height: int) -> tuple[int, int]:
        return padded_size(width, height, self.pad_multiple, self.min_size)

    def encode_file(self, rgb: np.ndarray, quality: int) -> bytes:
        """The standard file (JPEG/JFIF, RIFF WebP, HEIF boxes) of the edge-padded image."""
        q = self._check_quality(quality, InputError)
        img = check_rgb(rgb)
        self.check_available()
        h, w = img.shape[:2]
        pw, ph = self._padded(w, h)
        try:
            return self._save(pad_edge(img, pw, ph), q)
        except (OSError, ValueError, RuntimeError) as exc:  # inputs are valid: the backend failed
            raise BackendUnavailable(f"{self.name} encoder failed: {_first_line(exc)}") from None

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Pixels of a standard file, cropped to ``width x height``."""
        check_size(width, height)
        pixels = self._pixels(bytes(data), "file")
        if pixels.shape[0] < height or pixels.shape[1] < width or pixels.shape[2:] != (3,):
            raise BitstreamError(f"corrupt {self.name} file: decoded {pixels.shape}, expected {width}x{height}")
        return np.ascontiguousarray(pixels[:height, :width], dtype=np.uint8)

    def _pixels(self, data: bytes, what: str) -> np.ndarray:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self._load(data)
        except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, ...
            raise BitstreamError(f"corrupt {self.name} {what}: {_first_line(exc)}") from None

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        data = self.encode_file(rgb, quality)
        h, w = np.asarray(rgb).shape[:2]
        template = _template(type(self), *self._padded(w, h), int(quality))
        patch = make_patch(template, data)
        if apply_patch(template, patch) != data:  # cannot happen; cheap insurance
            raise AssertionError(f"{self.name}: template patch does not round-trip")
        return patch

    def decode(self, payload: bytes, width: int, height: int, quality: int) -> np.ndarray:
        q = self._check_quality(quality, BitstreamError)
        check_size(width, height)
        self.check_available()
        pw, ph = self._padded(width, height)
        try:
            data = apply_patch(_template(type(self), pw, ph, q), bytes(payload))
        except ValueError as exc:
            raise BitstreamError(f"corrupt {self.name} payload: {exc}") from None
        try:  # format and picture size come from the payload's headers, before any decoder allocates
            _sniff.check_payload(self.name, data, pw, ph)
        except (ValueError, struct.error) as exc:
            raise BitstreamError(f"corrupt {self.name} payload: {exc}") from None
        pixels = self._pixels(data, "payload")
        if pixels.shape != (ph, pw, 3):
            raise BitstreamError(f"corrupt {self.name} payload: decoded {pixels.shape}, expected {(ph, pw, 3)}")
        return np.ascontiguousarray(pixels[:height, :width], dtype=np.uint8)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


@lru_cache(maxsize=64)
def _template(cls: type[_PillowCodec], width: int, height: int, quality: int) -> bytes:
    """The file ``cls`` writes for a flat grey picture: everything the decoder can rebuild."""
    return cls()._save(np.full((height, width, 3), 128, np.uint8), quality)


def _pil_save(rgb: np.ndarray, fmt: str, **options: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, fmt, **options)
    return buf.getvalue()


def _pil_load(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


class AVIFCodec(_PillowCodec):
    """AV1 intra in AVIF via Pillow's libavif; tune=ssim reaches far lower rates than default."""

    name = "avif"
    codec_id = 2

    def check_available(self) -> None:
        from PIL import features

        if not features.check("avif"):
            raise BackendUnavailable("this Pillow has no AVIF support: pip install 'pillow>=11.3'")

    def _save(self, rgb: np.ndarray, quality: int) -> bytes:
        return _pil_save(rgb, "AVIF", quality=quality, speed=6, max_threads=1, advanced=[("tune", "ssim")])

    def _load(self, data: bytes) -> np.ndarray:
        return _pil_load(data)


class HEICCodec(_PillowCodec):
    """HEVC intra in HEIF via pillow-heif (x265 / libde265): the BPG stand-in."""

    name = "heic"
    codec_id = 3
    pad_multiple = 2  # 4:2:0 chroma; odd sizes are padded and cropped
    min_size = 2

    def check_available(self) -> None:
        try:
            import pillow_heif
        except ImportError:
            raise BackendUnavailable("the heic codec needs pillow-heif: pip install pillow-heif") from None
        if not pillow_heif.libheif_info().get("encoders", {}).get("x265"):
            raise BackendUnavailable("pillow-heif was built without the x265 HEVC encoder")

    def _save(self, rgb: np.ndarray, quality: int) -> bytes:
        import pillow_heif

        heif = pillow_heif.from_bytes("RGB", (rgb.shape[1], rgb.shape[0]), rgb.tobytes())
        buf = io.BytesIO()
        heif.save(buf, quality=quality, save_nclx_profile=False)
        return buf.getvalue()

    def _load(self, data: bytes) -> np.ndarray:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        return np.asarray(heif.to_pillow().convert("RGB"))


class WebPCodec(_PillowCodec):
    """Lossy WebP (VP8 intra) via Pillow; method=6 is the smallest output."""

    name = "webp"
    codec_id = 4

    def check_available(self) -> None:
        from PIL import features

        if not features.check("webp"):
            raise BackendUnavailable("this Pillow has no WebP support: reinstall pillow from PyPI")

    def _save(self, rgb: np.ndarray, quality: int) -> bytes:
        return _pil_save(rgb, "WEBP", quality=quality, method=6)

    def _load(self, data: bytes) -> np.ndarray:
        return _pil_load(data)


class JPEGCodec(_PillowCodec):
    """Baseline JPEG via Pillow (libjpeg-turbo); optimized Huffman tables halve the file at q=1."""

    name = "jpeg"
    codec_id = 5
    quality_range = (1, 95)

    def check_available(self) -> None:
        from PIL import features

        if not features.check("jpg"):
            raise BackendUnavailable("this Pillow has no JPEG support: reinstall pillow from PyPI")

    def _save(self, rgb: np.ndarray, quality: int) -> bytes:
        return _pil_save(rgb, "JPEG", quality=quality, subsampling="4:2:0", optimize=True)

    def _load(self, data: bytes) -> np.ndarray:
        return _pil_load(data)
