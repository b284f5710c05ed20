"""Segmenters by name and by the frozen id that full-profile files record (docs/format.md)."""

from __future__ import annotations

from ..config import RunConfig
from ..registry import Entry, Registry
from .base import Segmenter

SEGMENTERS: Registry[Entry] = Registry("segmenter", (
    Entry("none", 1, "sggic.segment.base:NoSegmenter", "no segmentation (offline: no masks, no refinement)"),
    Entry("clipseg", 2, None, "CLIPSeg rd64-refined prompted by each object name"),
))


def get_segmenter(name: str, config: RunConfig | None = None) -> Segmenter:
    """Build the segmenter called ``name`` (InputError with a suggestion if unknown)."""
    seg: Segmenter = SEGMENTERS.load(name).from_config(config)
    return seg
