"""CLIPSeg at the decoder: one soft mask per object name, nothing stored in the file.

As in the paper: ``CLIPSegForImageSegmentation`` (default checkpoint
``CIDAS/clipseg-rd64-refined``) is prompted with each object name on the decoded image;
the mask is ``sigmoid(logits)`` resized bilinearly to the requested output size, with no
threshold (it is used as a soft alpha). Weights come from the model registry
(:mod:`sggic.models`); nothing is loaded before the first :meth:`segment` or
:meth:`load` call.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import DEFAULT_CONFIG, RunConfig
from ..errors import InputError
from ..models.hub import Loaded, check_source, load_model_and_processor, registry_for, require, torch_threads
from ..models.registry import Registry
from .base import Segmenter

COMPONENT = "clipseg"


def check_image(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or min(a.shape[:2]) < 1:
        raise InputError(f"segmenter input must be an (h, w, 3) uint8 image, got {a.dtype} {a.shape}")
    return a


def check_prompts(prompts: Sequence[str]) -> list[str]:
    out = [p.strip() if isinstance(p, str) else p for p in prompts]
    if any(not isinstance(p, str) or not p for p in out):
        raise InputError("segmenter prompts must be non-empty strings")
    return out


def output_size(image: np.ndarray, size: tuple[int, int] | None) -> tuple[int, int]:
    """``(height, width)`` of the masks: ``size`` or the image's own."""
    if size is None:
        return int(image.shape[0]), int(image.shape[1])
    h, w = size
    if not (isinstance(h, (int, np.integer)) and isinstance(w, (int, np.integer)) and h >= 1 and w >= 1):
        raise InputError(f"mask size must be two positive integers (height, width), got {size!r}")
    return int(h), int(w)


class CLIPSegSegmenter(Segmenter):
    """Text-prompted soft masks from CLIPSeg; deterministic on CPU."""

    name = "clipseg"

    def __init__(self, config: RunConfig | None = None, registry: Registry | None = None):
        self.config = config or DEFAULT_CONFIG
        self._registry = registry
        self._model: Any = None
        self._processor: Any = None
        self.loaded: Loaded | None = None

    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "CLIPSegSegmenter":
        """Built from the RunConfig: its models TOML (``[clipseg]``), device and threads."""
        return cls(config)

    def check_available(self) -> None:
        """Packages importable and the weights on this machine (or downloads allowed); loads nothing."""
        require("torch", COMPONENT)
        require("transformers", COMPONENT)
        reg = self._registry or registry_for(self.config)
        check_source(reg, COMPONENT)

    def describe(self) -> str:
        where = f" from {self.loaded.where}, {self.loaded.dtype} on {self.loaded.device}" if self.loaded else ""
        return f"CLIPSeg (clipseg{where})"

    def load(self) -> Loaded:
        """Load model and processor (once); MissingWeights / BackendUnavailable otherwise."""
        if self.loaded is not None:
            return self.loaded
        transformers = require("transformers", COMPONENT)
        self._model, self._processor, self.loaded = load_model_and_processor(
            COMPONENT, self.config, self._registry,
            transformers.CLIPSegForImageSegmentation, transformers.CLIPSegProcessor)
        return self.loaded

    def segment(self, image: np.ndarray, prompts: Sequence[str],
                size: tuple[int, int] | None = None) -> list[np.ndarray]:
        """One float32 mask in [0, 1] of ``size`` (default: the image's) per prompt."""
        img = check_image(image)
        names = check_prompts(prompts)
        out_h, out_w = output_size(img, size)
        if not names:
            return []
        self.load()
        torch = require("torch", COMPONENT)
        F = torch.nn.functional
        inputs = self._processor(text=names, images=[img] * len(names), padding=True, return_tensors="pt")
        device = self.loaded.device if self.loaded else "cpu"
        dtype = next(self._model.parameters()).dtype
        inputs = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in inputs.items()}
        threads = self.config.threads if self.config else None
        with torch.inference_mode(), torch_threads(threads):
            logits = self._model(**inputs).logits
        logits = logits.float().reshape(len(names), 1, logits.shape[-2], logits.shape[-1])
        probs = torch.sigmoid(logits)
        probs = F.interpolate(probs, size=(out_h, out_w), mode="bilinear", align_corners=False)
        masks = probs.clamp_(0.0, 1.0)[:, 0].cpu().numpy().astype(np.float32, copy=False)
        return [np.ascontiguousarray(m) for m in masks]


def coverage(mask: np.ndarray) -> float:
    """Fraction of the image a soft mask covers (its mean), for ``decode -v``."""
    return float(np.mean(mask)) if mask.size else 0.0
