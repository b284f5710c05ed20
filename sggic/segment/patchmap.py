"""MISC's masks for the paper's "w/o CLIPSeg" ablation: 8x8 CLIP patch maps in the file.

At the encoder, the image is cut into an 8x8 grid of cells; CLIP ViT-B/16 (default
``openai/clip-vit-base-patch16``) embeds every cell and every object name, and a cell
belongs to an object when the cosine similarity of the two embeddings exceeds a
threshold (0.24 in SGGIC's ablation, 0.35 in MISC). Each object's map is stored as 64
bits (8 bytes, rows top to bottom, MSB first): 24 bytes for the paper's three objects,
counted in the file. At the decoder :class:`PatchMapSegmenter` turns the decoded bits
into soft masks at the output size (bilinear between cell centres); no model runs there.

Packing and the decoder side need only numpy; the encoder side needs the full profile.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import RunConfig
from ..errors import BitstreamError, InputError
from ..models.hub import Loaded, check_source, load_model_and_processor, registry_for, require, torch_threads
from ..models.registry import Registry
from .base import Segmenter
from .clipseg import check_image, check_prompts, output_size

GRID = 8
BYTES_PER_OBJECT = GRID * GRID // 8
THRESHOLD_SGGIC = 0.24
THRESHOLD_MISC = 0.35
COMPONENT = "clip"


def pack_maps(maps: Sequence[np.ndarray]) -> bytes:
    """8 bytes per 8x8 boolean map, in object order."""
    out = bytearray()
    for m in maps:
        a = np.asarray(m)
        if a.shape != (GRID, GRID):
            raise InputError(f"a patch map must be {GRID}x{GRID}, got shape {a.shape}")
        out += np.packbits(a.astype(bool).reshape(-1)).tobytes()
    return bytes(out)


def unpack_maps(data: bytes, count: int | None = None) -> list[np.ndarray]:
    """The boolean 8x8 maps in ``data``; BitstreamError if its length does not fit."""
    if len(data) % BYTES_PER_OBJECT or (count is not None and len(data) != count * BYTES_PER_OBJECT):
        want = f"{count * BYTES_PER_OBJECT}" if count is not None else f"a multiple of {BYTES_PER_OBJECT}"
        raise BitstreamError(f"patch-map section has {len(data)} bytes, expected {want}")
    bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
    return [bits[i * 64:(i + 1) * 64].reshape(GRID, GRID).astype(bool) for i in range(len(data) // 8)]


def grid_cells(height: int, width: int, grid: int = GRID) -> list[tuple[int, int, int, int]]:
    """``(top, bottom, left, right)`` of each cell, row-major; edges split as evenly as integers allow."""
    ys = [round(i * height / grid) for i in range(grid + 1)]
    xs = [round(j * width / grid) for j in range(grid + 1)]
    return [(ys[i], max(ys[i + 1], ys[i] + 1), xs[j], max(xs[j + 1], xs[j] + 1))
            for i in range(grid) for j in range(grid)]


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Bilinear weights (align_corners=False, edges clamped): out = M @ in."""
    x = (np.arange(n_out, dtype=np.float64) + 0.5) * n_in / n_out - 0.5
    x = np.clip(x, 0.0, n_in - 1.0)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = x - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1.0 - frac
    m[np.arange(n_out), hi] += frac
    return m


def upsample_map(grid_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A soft float32 mask of ``size`` (h, w) from a coarse map, bilinear between cell centres."""
    g = np.asarray(grid_map, dtype=np.float64)
    h, w = size
    out = _interp_matrix(h, g.shape[0]) @ g @ _interp_matrix(w, g.shape[1]).T
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class PatchMapSegmenter(Segmenter):
    """Decoder side: the masks the encoder stored, in the order of the semantics' objects."""

    name = "patchmap"

    def __init__(self, maps: Sequence[np.ndarray] = ()):
        self.maps = [np.asarray(m, dtype=bool) for m in maps]
        for m in self.maps:
            if m.shape != (GRID, GRID):
                raise InputError(f"a patch map must be {GRID}x{GRID}, got shape {m.shape}")

    @classmethod
    def from_bytes(cls, data: bytes, count: int | None = None) -> "PatchMapSegmenter":
        return cls(unpack_maps(data, count))

    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "PatchMapSegmenter":
        """Without a file: no maps, so no masks (``segment`` returns ``[]``); the decoder
        builds it with :meth:`from_file` instead."""
        obj = cls()
        obj.from_a_file = False
        if config is not None:
            obj.config = config
        return obj

    @classmethod
    def from_file(cls, data: bytes | None, config: RunConfig | None = None) -> "PatchMapSegmenter":
        """The maps of a file's patch-mask section (None: the file has none, and then
        ``segment`` refuses a file that names objects)."""
        obj = cls.from_bytes(data) if data else cls()
        if config is not None:
            obj.config = config
        return obj

    from_a_file = True  # False only for the registry's map-less instance

    def describe(self) -> str:
        return (f"patchmap ({len(self.maps)} 8x8 CLIP patch maps stored in the file, "
                f"{len(self.maps) * BYTES_PER_OBJECT} bytes)")

    def segment(self, image: np.ndarray, prompts: Sequence[str],
                size: tuple[int, int] | None = None) -> list[np.ndarray]:
        img = check_image(image)
        names = check_prompts(prompts)
        if not self.from_a_file and not self.maps:
            return []
        if len(names) != len(self.maps):
            raise BitstreamError(f"file has {len(self.maps)} patch maps for {len(names)} objects")
        hw = output_size(img, size)
        return [upsample_map(m, hw) for m in self.maps]


class CLIPPatchMapper:
    """Encoder side: CLIP ViT-B/16 similarity of each grid cell to each object name."""

    def __init__(self, config: RunConfig | None = None, registry: Registry | None = None):
        self.config = config
        self._registry = registry
        self._model: Any = None
        self._processor: Any = None
        self.loaded: Loaded | None = None

    def load(self) -> Loaded:
        if self.loaded is not None:
            return self.loaded
        transformers = require("transformers", COMPONENT)
        self._model, self._processor, self.loaded = load_model_and_processor(
            COMPONENT, self.config, self._registry, transformers.CLIPModel, transformers.CLIPProcessor)
        return self.loaded

    def similarity(self, image: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """``(len(names), 8, 8)`` float32 cosine similarities of cell and name embeddings."""
        img = check_image(image)
        names = check_prompts(names)
        if not names:
            return np.zeros((0, GRID, GRID), np.float32)
        self.load()
        torch = require("torch", COMPONENT)
        cells = [np.ascontiguousarray(img[t:b, l:r]) for t, b, l, r in grid_cells(*img.shape[:2])]
        device = self.loaded.device if self.loaded else "cpu"
        dtype = next(self._model.parameters()).dtype
        pix = self._processor(images=cells, return_tensors="pt")["pixel_values"].to(device, dtype)
        txt = self._processor(text=names, padding=True, return_tensors="pt")
        txt = {k: v.to(device) for k, v in txt.items()}
        threads = self.config.threads if self.config else None
        with torch.inference_mode(), torch_threads(threads):
            im = _features(self._model.get_image_features(pixel_values=pix)).float()
            tx = _features(self._model.get_text_features(**txt)).float()
        im = im / im.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        tx = tx / tx.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        sim = (tx @ im.T).reshape(len(names), GRID, GRID)
        return sim.cpu().numpy().astype(np.float32)

    def maps(self, image: np.ndarray, names: Sequence[str], threshold: float = THRESHOLD_SGGIC) -> list[np.ndarray]:
        """Boolean 8x8 maps: cells whose similarity exceeds ``threshold``."""
        return [s > threshold for s in self.similarity(image, names)]


def encode_maps(image: np.ndarray, names: Sequence[str], config: RunConfig | None = None,
                threshold: float = THRESHOLD_SGGIC) -> bytes:
    """The patch-mask section for ``names`` on the original image (8 bytes per name)."""
    if not names:
        return b""
    return pack_maps(CLIPPatchMapper(config).maps(image, names, threshold))


def check_mapper_available(config: RunConfig | None = None) -> None:
    """The encoder side can run: packages and the ``[clip]`` weights are here (loads nothing)."""
    require("torch", COMPONENT)
    require("transformers", COMPONENT)
    check_source(registry_for(config), COMPONENT)


def _features(out: Any) -> Any:
    """transformers 5 may return a model output instead of a tensor from get_*_features."""
    if hasattr(out, "pooler_output") and not hasattr(out, "shape"):
        return out.pooler_output
    return out
