"""Encoder and decoder: the paper's stages wired together.

Encode: image -> (semantics) -> 2x antialiased downsample -> base codec under rate
control -> .sgc. Decode: .sgc -> base layer -> segmentation (object names) ->
adaptive settings -> 2x restoration (description) -> per-object refinement (masks).
Each stage is an object behind a small interface, so the full profile's models
replace the offline ones without touching this file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import container
from .adapt.base import FixedSettings, Settings, SettingsPolicy
from .codecs import codec_by_id, get_codec
from .container import Header
from .errors import BitstreamError, InputError
from .images import LoadedImage, from_pil, load_image
from .ratecontrol import budget_bytes, fit_rate
from .restore.base import RestoreContext, Restorer
from .restore.registry import DEFAULT_RESTORER
from .segment.base import Segmenter, UnavailableSegmenter
from .semantics.schema import Semantics

DEFAULT_BPP = 0.03
DEFAULT_BASE = "vvc"

ImageLike = "str | os.PathLike | np.ndarray | PIL.Image.Image"


@dataclass
class EncodeResult:
    data: bytes
    header: Header
    target_bytes: int
    notes: list[str] = field(default_factory=list)


@dataclass
class DecodeResult:
    image: Any  # PIL.Image.Image
    header: Header
    semantics: Semantics
    base: np.ndarray
    masks: list[np.ndarray]
    settings: Settings
    stages: dict[str, str]


def _as_loaded(image: Any) -> LoadedImage:
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    from PIL import Image

    if isinstance(image, Image.Image):
        return from_pil(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise InputError("image array must be (h, w, 3) or (h, w) uint8")
    if arr.size == 0:
        raise InputError("image array is empty")
    return from_pil(Image.fromarray(np.ascontiguousarray(arr)))


def downsample2x(rgb: np.ndarray) -> np.ndarray:
    """Antialiased 2x reduction to ceil(w/2) x ceil(h/2) (Lanczos)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    size = ((w + 1) // 2, (h + 1) // 2)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def encode_detailed(
    image: Any,
    bpp: float = DEFAULT_BPP,
    base: str = DEFAULT_BASE,
    semantics: Semantics | None = None,
    restorer: str = DEFAULT_RESTORER,
    seed: int = 0,
    fixed: bool = False,
) -> EncodeResult:
    """Encode and report what rate control chose."""
    from .restore.registry import restorer_id
    from .semantics.textcoder import encode_semantics

    rid = restorer_id(restorer)
    codec = get_codec(base)
    codec.check_available()
    loaded = _as_loaded(image)
    h, w = loaded.rgb.shape[:2]
    target = budget_bytes(bpp, w, h)
    if not isinstance(seed, int) or not (0 <= seed < 2**32):
        raise InputError("seed must be an integer in [0, 2^32)")
    sem_payload = None
    if semantics is not None and not semantics.is_empty():
        sem_payload = encode_semantics(semantics)
    flags = (container.FLAG_GRAYSCALE if loaded.grayscale else 0) | (container.FLAG_FIXED if fixed else 0)

    def header(quality: int) -> Header:
        return Header(w, h, codec.codec_id, quality, flags, rid, seed)

    def file_size(quality: int, payload: bytes) -> int:
        return len(container.write(header(quality), payload, sem_payload))

    half = downsample2x(loaded.rgb)
    choice = fit_rate(codec, half, target, file_size, w * h)
    data = container.write(header(choice.quality), choice.payload, sem_payload)
    return EncodeResult(data, header(choice.quality), target, loaded.notes)


def encode(image: Any, bpp: float = DEFAULT_BPP, base: str = DEFAULT_BASE,
           semantics: Semantics | None = None, **kwargs: Any) -> bytes:
    """Encode an image (path, PIL image or uint8 array) into the bytes of a .sgc file."""
    return encode_detailed(image, bpp=bpp, base=base, semantics=semantics, **kwargs).data


def _read_bytes(data: bytes | str | os.PathLike) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    p = Path(data)
    try:
        if p.stat().st_size > container.MAX_FILE_BYTES:
            raise BitstreamError(f"{p}: too large to be an .sgc file")
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise InputError(f"{p} is a directory, not an .sgc file") from None
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}") from None


def _parse(data: bytes) -> tuple[container.SgcFile, Semantics]:
    from .semantics.textcoder import decode_semantics

    f = container.read(data)
    sem = decode_semantics(f.semantics) if f.semantics is not None else Semantics()
    return f, sem


def decode_detailed(
    data: bytes | str | os.PathLike,
    restorer: str | Restorer | None = None,
    segmenter: Segmenter | None = None,
    policy: SettingsPolicy | None = None,
    strength: float | None = None,
) -> DecodeResult:
    """Run every decoder stage and keep the intermediate results.

    ``strength`` (0 faithful .. 1 generative) overrides the restorer's default for
    restorers with a perception/fidelity knob; others ignore it. Not stored in files.
    """
    from PIL import Image

    from .restore.registry import get_restorer, restorer_by_id

    if strength is not None:
        try:
            strength = float(strength)
        except (TypeError, ValueError):
            raise InputError(f"strength must be a number in [0, 1], got {strength!r}") from None
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be in [0, 1], got {strength}")
    raw = _read_bytes(data)
    f, sem = _parse(raw)
    h = f.header
    if restorer is None:
        rest = restorer_by_id(h.restorer_id)
    elif isinstance(restorer, str):
        rest = get_restorer(restorer)
    else:
        rest = restorer
    seg = segmenter or UnavailableSegmenter()
    pol = policy or FixedSettings()
    bw, bh = h.base_size

    # 1. base layer
    codec = codec_by_id(h.codec_id)
    base = codec.decode(f.base, bw, bh, h.quality)
    if base.shape != (bh, bw, 3) or base.dtype != np.uint8:
        raise BitstreamError("base layer decoded to the wrong size")
    # 2. segmentation from the object names (no masks are stored)
    masks = seg.segment(base, [o.name for o in sem.objects]) if sem.objects else []
    # 3. adaptive settings
    bpp = len(raw) * 8 / (h.width * h.height)
    settings = FixedSettings().choose(base, sem, bpp) if h.fixed else pol.choose(base, sem, bpp)
    # 4. 2x restoration guided by the description
    ctx = RestoreContext(h.codec_id, h.quality, sem.description, settings.steps, settings.guidance, h.seed,
                         strength=strength)
    up = rest.restore(base, ctx)
    out = up[: h.height, : h.width]
    # 5. per-object refinement under soft masks: needs a text-conditioned restorer
    refine = getattr(rest, "refine", None)
    if refine is not None and masks:
        for obj, mask in zip(sem.objects, masks):
            out = refine(out, mask, obj, ctx)
    stages = {
        "base": codec.name,
        "segmentation": seg.name if seg.available else f"unavailable ({getattr(seg, 'reason', '')})",
        "settings": (f"{settings.source} (steps {settings.steps}, guidance {settings.guidance:g})"
                     if rest.uses_settings else f"{settings.source} policy; not used by {rest.name}"),
        "restoration": rest.name,
        "refinement": "applied" if (refine is not None and masks) else "skipped (no masks or restorer cannot refine)",
    }
    img = Image.fromarray(np.ascontiguousarray(out))
    if h.grayscale:
        img = img.convert("L")
    return DecodeResult(img, h, sem, base, masks, settings, stages)


def decode(data: bytes | str | os.PathLike, restorer: str | None = None, strength: float | None = None) -> Any:
    """Decode a .sgc file (bytes or path) into a PIL image of the original size.

    ``strength`` in [0, 1]: the generative restorer's perception/fidelity knob (None: its default).
    """
    return decode_detailed(data, restorer=restorer, strength=strength).image


def info(data: bytes | str | os.PathLike) -> dict:
    """Header, semantics and the byte size of every section."""
    from .restore.registry import restorer_name

    raw = _read_bytes(data)
    f, sem = _parse(raw)
    h = f.header
    codec = codec_by_id(h.codec_id)
    return {
        "format_version": container.VERSION,
        "width": h.width,
        "height": h.height,
        "bytes": len(raw),
        "bpp": round(len(raw) * 8 / (h.width * h.height), 6),
        "base_codec": {"id": h.codec_id, "name": codec.name, "quality": h.quality},
        "base_size": list(h.base_size),
        "restorer": {"id": h.restorer_id, "name": restorer_name(h.restorer_id)},
        "grayscale": h.grayscale,
        "fixed_settings": h.fixed,
        "seed": h.seed,
        "sections": f.section_sizes,
        "semantics": sem.to_dict() if f.semantics is not None else None,
    }
