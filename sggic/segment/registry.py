"""Segmenters by name and by the frozen id that full-profile files record (docs/format.md)."""

from __future__ import annotations

from ..config import RunConfig
from ..registry import Entry, Registry
from .base import Segmenter

SEGMENTERS: Registry[Entry] = Registry("segmenter", (
    Entry("none", 1, "sggic.segment.base:NoSegmenter", "no segmentation (offline: no masks, no refinement)"),
    Entry("clipseg", 2, "sggic.segment.clipseg:CLIPSegSegmenter",
          "CLIPSeg rd64-refined prompted by each object name, at the decoder (full profile)"),
    Entry("patchmap", 3, "sggic.segment.patchmap:PatchMapSegmenter",
          "8x8 CLIP ViT-B/16 patch maps made at the encoder and stored in the file (MISC's 'w/o CLIPSeg')"),
))


def get_segmenter(name: str, config: RunConfig | None = None) -> Segmenter:
    """Build the segmenter called ``name`` (InputError with a suggestion if unknown)."""
    seg: Segmenter = SEGMENTERS.load(name).from_config(config)
    return seg
