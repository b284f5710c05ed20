"""Reading the images users really have, and writing outputs atomically.

Input policy (docs/format.md, "Input images"):
* EXIF orientation is applied, so the stored image is upright.
* An embedded ICC profile is converted to sRGB; untagged images are taken as sRGB.
* Grayscale stays grayscale (flagged in the header; decodes to a 1-channel image).
* 16-bit samples are reduced to 8 bits (rounding), since the base codecs are 8-bit here.
* Alpha is not stored: transparent pixels are composited over white, and a note says so.
* Images above MAX_PIXELS are refused before their pixels are decoded.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .container import MAX_PIXELS, MAX_SIDE
from .errors import InputError


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (h, w, 3) uint8, sRGB
    grayscale: bool
    notes: list[str] = field(default_factory=list)


def _register_heif() -> bool:
    """Register pillow_heif's HEIC/HEIF opener with Pillow; False when it is not installed."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # HEIC input then simply is not recognised
        return False
    return True


def _open(src):
    """``Image.open``; HEIF's opener is registered only for files Pillow's own openers do not
    know (importing pillow_heif costs every other input ~5 ms of start-up)."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(src)
    except UnidentifiedImageError:
        if not _register_heif():
            raise
        if isinstance(src, io.BytesIO):
            src.seek(0)
        return Image.open(src)


MAX_STREAM_BYTES = 1 << 28  # an image read from a pipe or device is buffered, so it is capped

_SRGB_NAMES = {"sRGB IEC61966-2.1", "sRGB IEC61966-2-1", "sRGB built-in", "sRGB"}


def _to_srgb(im, notes: list[str]):
    icc = im.info.get("icc_profile")
    if not icc:
        return im
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(src) or "").strip()
        if desc in _SRGB_NAMES:  # skip the no-op transform (and its rounding)
            return im
        if im.mode not in ("RGB", "L", "CMYK"):
            im = im.convert("RGB")
        # gray and CMYK sources convert to RGB; a neutral gray stays neutral
        im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        notes.append(f"converted ICC profile '{desc or 'unnamed'}' to sRGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as e:
        notes.append(f"ignored an unusable ICC profile ({e})")
    return im


def _flatten(im, notes: list[str]):
    from PIL import Image

    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if not has_alpha:
        return im
    rgba = im.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    if alpha.min() < 255:
        notes.append("alpha channel not stored: transparent pixels composited over white")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = im.mode in ("LA", "La")
    out = Image.alpha_composite(white, rgba).convert("RGB")
    return out.convert("L") if gray else out


def _pixels(im) -> tuple[np.ndarray, bool]:
    """8-bit RGB pixels and whether the source is grayscale."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        a = np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2), True
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all():
            raise InputError("floating-point image holds NaN or infinite samples")
        scale = 255.0 if a.max() <= 1.0 else 1.0
        a = np.clip(np.round(a * scale), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2), True
    if im.mode in ("1", "L"):
        a = np.asarray(im.convert("L"))
        return np.repeat(a[..., None], 3, axis=2), True
    if im.mode != "RGB":
        im = im.convert("RGB")
    a = np.asarray(im)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a), False


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read an image file into sRGB 8-bit pixels, or raise InputError in one line."""
    from PIL import Image, UnidentifiedImageError

    from .limits import check_path, read_capped

    p = check_path(path, "image file")
    if not p.exists():
        raise InputError(f"no such file: {p}")
    if p.is_dir():
        raise InputError(f"{p} is a directory, not an image")
    notes: list[str] = []
    src: object = p
    if not p.is_file():  # a pipe or device: Pillow would read it whole to be able to seek
        src = io.BytesIO(read_capped(p, MAX_STREAM_BYTES, "image from a pipe or device", InputError))
    try:
        # our own limit (checked below) is the one that applies; Pillow's bomb *warning*
        # (89-179 MP) would be a second, stray line on stderr
        bomb = warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning)
        with bomb, _open(src) as im:
            w, h = im.size
            if w < 1 or h < 1:
                raise InputError(f"{p}: empty image")
            if w > MAX_SIDE or h > MAX_SIDE or w * h > max_pixels:
                raise InputError(
                    f"{p}: {w}x{h} is too large (limit {max_pixels} pixels, {MAX_SIDE} per side); downscale or crop it first"
                )
            if getattr(im, "n_frames", 1) > 1:
                notes.append("multi-frame image: only the first frame is coded")
            im.load()
            loaded = from_pil(im, notes)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{p}: not an image file sggic can read") from None
    except Image.DecompressionBombError:
        raise InputError(f"{p}: image too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InputError(f"{p}: cannot read image ({_first_line(e)})") from None
    return loaded


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def from_pil(im, notes: list[str] | None = None) -> LoadedImage:
    """Apply the input policy to an already opened PIL image."""
    from PIL import ImageOps

    notes = [] if notes is None else notes
    w, h = im.size
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE) or w * h > MAX_PIXELS:
        raise InputError(f"image size {w}x{h} out of range (limit {MAX_PIXELS} pixels, {MAX_SIDE} per side)")
    im = ImageOps.exif_transpose(im)
    if im.mode == "CMYK" and not im.info.get("icc_profile"):
        im = im.convert("RGB")
    im = _to_srgb(im, notes)
    im = _flatten(im, notes)
    rgb, gray = _pixels(im)
    if gray:
        notes.append("grayscale image: stored and decoded as grayscale")
    return LoadedImage(rgb, gray, notes)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes so that a failure never leaves a partial file at ``path``."""
    from .outputs import check_output

    p = check_output(path)  # never replace a device, FIFO or directory
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=parent)
    except OSError as e:
        raise InputError(f"cannot write in {parent}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is not what a user expects
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {p}: {exc.strerror or exc}") from None
        raise


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
            ".tiff": "TIFF", ".bmp": "BMP", ".ppm": "PPM"}


def output_format(path: str | os.PathLike) -> str:
    """Pillow's format name for an output path's extension; InputError if unsupported."""
    suffix = Path(path).suffix
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        raise InputError(f"unsupported output extension {suffix!r}; use one of {', '.join(sorted(_FORMATS))}")
    return fmt


def save_image(image, path: str | os.PathLike) -> None:
    """Save a PIL image atomically; the format follows the extension (PNG if none). Plain RGB
    PNGs (every decoded picture) are written by :mod:`sggic.pngwrite`, others by Pillow."""
    p = Path(path)
    fmt = output_format(p)
    if fmt == "PNG" and image.mode == "RGB" and not image.info:  # what decoding writes: on two cores
        from .pngwrite import encode_png

        atomic_write(p, encode_png(image))
        return
    buf = io.BytesIO()
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    image.save(buf, fmt, **kwargs)
    atomic_write(p, buf.getvalue())
