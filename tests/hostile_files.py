"""Builders for crafted .sgc files (issue 15): valid framing and CRCs around hostile content."""

from __future__ import annotations

import io

import numpy as np

from sggic import container, varint
from sggic.container import MAGIC, SEC_BASE, SEC_HEADER, SEC_SEMANTICS, VERSION, Header


def frame(header_payload: bytes, base: bytes, semantics: bytes | None = None) -> bytes:
    """A file with correct CRCs whatever the payloads hold (no header validation)."""
    out = MAGIC + bytes([VERSION]) + container._section(SEC_HEADER, header_payload)
    out += container._section(SEC_BASE, base)
    if semantics is not None:
        out += container._section(SEC_SEMANTICS, semantics)
    return out


def literal_patch(data: bytes) -> bytes:
    """A template patch that ignores the template and spells out ``data``."""
    return varint.encode(0) + varint.encode(0) + varint.encode(len(data)) + data


def pil_bytes(size: tuple[int, int], fmt: str, **options) -> bytes:
    from PIL import Image

    img = Image.new("RGB", size, (120, 130, 140))
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def heic_bytes(size: tuple[int, int]) -> bytes:
    import pillow_heif

    rgb = np.full((size[1], size[0], 3), 128, np.uint8)
    heif = pillow_heif.from_bytes("RGB", size, rgb.tobytes())
    buf = io.BytesIO()
    heif.save(buf, quality=10, save_nclx_profile=False)
    return buf.getvalue()


def file_with_base(codec_id: int, quality: int, base: bytes, width: int = 64, height: int = 64,
                   **header) -> bytes:
    """A well-framed file whose header says ``width x height`` and whose base is ``base``."""
    h = Header(width, height, codec_id, quality, **header)
    return frame(container.encode_header(h), base)


def small_image(w: int = 48, h: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth picture with some texture: codecs code it in a few hundred bytes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
