"""Decoder-side segmentation: object names in, one soft mask per object out.

The paper segments the decoded base layer with CLIPSeg prompted by each object name, so
no mask is stored in the file. Offline no text-prompted segmenter ships in any package,
so the offline profile uses :class:`UnavailableSegmenter`, which returns no masks and
says so; the per-object refinement stage then has nothing to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np


class Segmenter(ABC):
    name: str = "?"

    @abstractmethod
    def segment(self, image: np.ndarray, prompts: Sequence[str]) -> list[np.ndarray]:
        """One float32 soft mask in [0, 1] of the image's (h, w) per prompt."""

    @property
    def available(self) -> bool:
        return True


class UnavailableSegmenter(Segmenter):
    """The offline stand-in: no segmentation model can be had, so no masks."""

    name = "unavailable"

    def __init__(self, reason: str = "no text-prompted segmenter ships offline (full profile: CLIPSeg)"):
        self.reason = reason

    def segment(self, image: np.ndarray, prompts: Sequence[str]) -> list[np.ndarray]:
        return []

    @property
    def available(self) -> bool:
        return False
