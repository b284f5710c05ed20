"""Decoder-side segmentation: object names in, one soft mask per object out.

The paper segments the decoded low-bitrate image (our base layer) with CLIPSeg prompted
by each object name, so no mask is stored in the file; the masks are resized bilinearly
to the output size (:func:`masks_to_output`) and used as soft alphas by the restorer's
refinement. No text-prompted segmenter ships in any package, so the offline profile uses
:class:`NoSegmenter`, which returns no masks and says so; refinement then has nothing to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from ..component import Component
from ..errors import InputError


class Segmenter(Component, ABC):
    """Text-prompted segmentation of the decoded base layer.

    ``segment(image, prompts, size=None)``: ``image`` is ``(h, w, 3)`` uint8; returns
    either no masks (``[]``: this segmenter finds none) or exactly one 2-D float32 mask in
    [0, 1] per prompt, each covering the whole image. The decoder passes ``size`` =
    ``(height, width)``, twice the base size, and model-backed segmenters return masks of
    that size, so the model's own resolution (CLIPSeg's 352x352) is resized once,
    bilinearly; masks of any other resolution are resized by :func:`masks_to_output`. Deterministic. Built as
    ``Cls.from_config(config)``.
    """

    name: str = "?"

    @abstractmethod
    def segment(self, image: np.ndarray, prompts: Sequence[str],
                size: tuple[int, int] | None = None) -> list[np.ndarray]: ...

    def describe(self) -> str:
        """One line for ``decode --verbose``."""
        return self.name


class NoSegmenter(Segmenter):
    """The offline segmenter: no text-prompted model ships offline, so no masks."""

    name = "none"

    def segment(self, image: np.ndarray, prompts: Sequence[str],
                size: tuple[int, int] | None = None) -> list[np.ndarray]:
        return []

    def describe(self) -> str:
        return "none (no text-prompted segmenter ships offline; the full profile uses CLIPSeg)"


# The name the benchmark knew it by.
UnavailableSegmenter = NoSegmenter


def masks_to_output(masks: Sequence[np.ndarray], base_size: tuple[int, int],
                    out_size: tuple[int, int]) -> list[np.ndarray]:
    """Resize masks of the base layer bilinearly to the decoder's output size.

    ``base_size``/``out_size`` are (width, height). Each mask covers the whole base layer;
    it is resized to twice the base size (the restored image before cropping; masks that
    already have that size, as segmenters make them when the decoder passes ``size``, are
    not resampled) and cropped like the image, so output pixel (y, x) reads the mask
    where the restorer put that pixel, also for odd sizes.
    """
    from PIL import Image

    bw, bh = base_size
    w, h = out_size
    out = []
    for m in masks:
        a = np.asarray(m)
        if a.ndim != 2 or a.size == 0 or not np.issubdtype(a.dtype, np.floating):
            raise InputError(f"segmenter returned a mask of shape {a.shape} and type {a.dtype}; "
                             "want a 2-D float array")
        if a.shape == (2 * bh, 2 * bw):
            r = np.asarray(a, dtype=np.float32)[:h, :w]
        else:
            big = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))
            big = big.resize((2 * bw, 2 * bh), Image.Resampling.BILINEAR)
            r = np.asarray(big, dtype=np.float32)[:h, :w]
        out.append(np.clip(r, 0.0, 1.0))
    return out
