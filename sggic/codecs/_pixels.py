"""Pixel plumbing shared by the base codecs: input checks, padding, YCbCr 4:2:0.

Why our own colour conversion instead of ffmpeg's swscale: swscale picks SIMD paths by
CPU, so the same VVC payload could decode to pixels that differ by one level on another
machine. The VVC decoder itself is bit-exact by specification; doing the YCbCr -> RGB step
in integer numpy keeps the whole decode bit-exact everywhere.
"""

from __future__ import annotations

import numpy as np

from ..arrays import check_rgb as _check_rgb

# Full-range BT.601 (JPEG) matrix; 8-bit values are scaled by 4 into 10 bits.
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB
_FRAC = 14  # fixed-point fraction bits of the inverse transform
_CR_R = round(2 * (1 - _KR) * (1 << _FRAC))
_CB_B = round(2 * (1 - _KB) * (1 << _FRAC))
_CB_G = round(2 * (1 - _KB) * _KB / _KG * (1 << _FRAC))
_CR_G = round(2 * (1 - _KR) * _KR / _KG * (1 << _FRAC))


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """The image as a C-contiguous (h, w, 3) uint8 array; InputError otherwise."""
    return _check_rgb(rgb, "base codec", what="input")


def check_size(width: int, height: int) -> None:
    """Refuse nonsense dimensions before any backend sees them."""
    from ..errors import BitstreamError

    if not (1 <= width <= 1 << 16 and 1 <= height <= 1 << 16):
        raise BitstreamError(f"invalid base-layer size {width}x{height}")


def padded_size(width: int, height: int, multiple: int, minimum: int) -> tuple[int, int]:
    """(w, h) rounded up to ``multiple`` and at least ``minimum``: what the encoder sees."""

    def up(n: int) -> int:
        return max(minimum, -(-n // multiple) * multiple)

    return up(width), up(height)


def pad_edge(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Replicate the last row/column to reach (height, width): cheap to code, cropped later."""
    h, w = rgb.shape[:2]
    if (h, w) == (height, width):
        return rgb
    return np.pad(rgb, ((0, height - h), (0, width - w), (0, 0)), mode="edge")


def rgb_to_yuv420p10(rgb: np.ndarray) -> bytes:
    """Planar 10-bit little-endian Y, Cb, Cr (chroma: 2x2 means, centred siting).

    Height and width must be even. Encode-side only, so float arithmetic is fine here.
    """
    x = rgb.astype(np.float64) * 4.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = _KR * r + _KG * g + _KB * b
    cb = (b - y) / (2 * (1 - _KB)) + 512.0
    cr = (r - y) / (2 * (1 - _KR)) + 512.0

    def half(c: np.ndarray) -> np.ndarray:
        return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4.0

    planes = [y, half(cb), half(cr)]
    out = [np.clip(np.rint(p), 0, 1023).astype("<u2").tobytes() for p in planes]
    return b"".join(out)


def _upsample2(c: np.ndarray) -> np.ndarray:
    """Integer bilinear 2x upsampling for centred chroma; the result is scaled by 16."""
    c = c.astype(np.int64)
    h, w = c.shape
    p = np.pad(c, 1, mode="edge")
    # columns: output 2k takes 3*c[k] + c[k-1], output 2k+1 takes 3*c[k] + c[k+1]
    rows = np.empty((h + 2, 2 * w), np.int64)
    rows[:, 0::2] = 3 * p[:, 1:-1] + p[:, :-2]
    rows[:, 1::2] = 3 * p[:, 1:-1] + p[:, 2:]
    out = np.empty((2 * h, 2 * w), np.int64)
    out[0::2] = 3 * rows[1:-1] + rows[:-2]
    out[1::2] = 3 * rows[1:-1] + rows[2:]
    return out


def yuv420p10_to_rgb(data: bytes, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`rgb_to_yuv420p10` in exact integer arithmetic (bit-exact anywhere)."""
    n_y = width * height
    n_c = (width // 2) * (height // 2)
    planes = np.frombuffer(data, dtype="<u2", count=n_y + 2 * n_c).astype(np.int64)
    y = planes[:n_y].reshape(height, width)
    cb = _upsample2(planes[n_y : n_y + n_c].reshape(height // 2, width // 2)) - 512 * 16
    cr = _upsample2(planes[n_y + n_c :].reshape(height // 2, width // 2)) - 512 * 16
    y16 = (y * 16) << _FRAC
    shift = _FRAC + 6  # 16 (chroma upsampling) * 4 (10 -> 8 bits) = 2**6
    half = 1 << (shift - 1)
    r = (y16 + _CR_R * cr + half) >> shift
    g = (y16 - _CB_G * cb - _CR_G * cr + half) >> shift
    b = (y16 + _CB_B * cb + half) >> shift
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def downsample2x(rgb: np.ndarray) -> np.ndarray:
    """The base layer's pixels: antialiased 2x reduction to ceil(w/2) x ceil(h/2) (Lanczos)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    size = ((w + 1) // 2, (h + 1) // 2)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
