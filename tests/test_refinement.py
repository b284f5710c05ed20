"""Refinement regression: masks reach the restorer at the output size, in one call.

Before: masks were computed on the half-resolution base (32x48) and handed to a
per-object ``refine`` together with the full-size output (64x96). Here a fake segmenter
returns base-size masks and a fake refining restorer records what it is given.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

import sggic
from sggic.pipeline import decode_detailed
from sggic.restore.base import ObjectMask, RestoreContext, Restorer
from sggic.segment.base import Segmenter
from sggic.semantics.schema import SemanticObject, Semantics

SEM = Semantics((SemanticObject("left thing", "bright"), SemanticObject("top thing", "dark")),
                "two things")


class FakeSegmenter(Segmenter):
    """Masks at the size of the image it is given (the base): left part, top part."""

    name = "fake-seg"

    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def segment(self, image: np.ndarray, prompts: Sequence[str], size=None) -> list[np.ndarray]:
        self.seen.append(image.shape)  # ignores size: the decoder resizes what it gets
        h, w = image.shape[:2]
        left = np.zeros((h, w), np.float32)
        left[:, : w // 3] = 1.0
        top = np.zeros((h, w), np.float32)
        top[: h // 4, :] = 0.5
        return [left, top][: len(prompts)]


class PlainRestorer(Restorer):
    name = "plain"

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        return np.repeat(np.repeat(base, 2, axis=0), 2, axis=1)


class FakeRefiner(PlainRestorer):
    """Paints each object white under its soft mask; records the calls."""

    name = "fake-refiner"
    refines = True

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], list[tuple[int, ...]], list[str]]] = []

    def refine(self, image: np.ndarray, objects: Sequence[ObjectMask], ctx: RestoreContext) -> np.ndarray:
        self.calls.append((image.shape, [o.mask.shape for o in objects], [o.detail for o in objects]))
        out = image.astype(np.float32)
        for o in objects:
            assert o.mask.shape == image.shape[:2]  # would fail with base-size masks
            out = out * (1 - o.mask[..., None]) + 255.0 * o.mask[..., None]
        return np.clip(np.round(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h, w", [(64, 96), (63, 95)])
def test_masks_reach_refine_at_output_size(h: int, w: int) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 200, (h, w, 3), dtype=np.uint8)
    data = sggic.encode(img, bpp=4.0, base="jpeg", semantics=SEM, restorer="bicubic")
    seg, ref = FakeSegmenter(), FakeRefiner()
    r = decode_detailed(data, restorer=ref, segmenter=seg)
    bh, bw = (h + 1) // 2, (w + 1) // 2
    assert seg.seen == [(bh, bw, 3)]  # the paper segments the decoded base layer
    assert len(ref.calls) == 1  # all objects in one call
    shape, mask_shapes, details = ref.calls[0]
    assert shape == (h, w, 3) and mask_shapes == [(h, w), (h, w)] and details == ["bright", "dark"]
    assert [m.shape for m in r.masks] == [(h, w), (h, w)]
    assert all(m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1 for m in r.masks)
    assert r.stages["refinement"] == "applied to 2 objects"
    assert any("fake-seg" in w_ for w_ in r.warnings) and any("fake-refiner" in w_ for w_ in r.warnings)

    plain = np.asarray(decode_detailed(data, restorer=PlainRestorer(), segmenter=FakeSegmenter()).image)
    out = np.asarray(r.image)
    covered = (r.masks[0] > 0) | (r.masks[1] > 0)
    changed = np.any(out != plain, axis=2)
    assert not changed[~covered].any()  # pixels change only where a mask is > 0
    assert changed[r.masks[0] > 0.99].mean() > 0.9  # and they do change under the mask
    # the masks line up with the output: the left mask covers the left third, scaled 2x
    assert r.masks[0][:, : 2 * (bw // 3) - 1].min() == 1.0 and r.masks[0][:, 2 * (bw // 3) + 1 :].max() == 0.0


def test_non_refining_restorer_gets_no_refine_call() -> None:
    img = np.full((20, 30, 3), 100, np.uint8)
    data = sggic.encode(img, bpp=8.0, base="jpeg", semantics=SEM, restorer="bicubic")
    r = decode_detailed(data, segmenter=FakeSegmenter())
    assert r.stages["refinement"] == "skipped (bicubic does not refine)"
    assert [m.shape for m in r.masks] == [(20, 30), (20, 30)]
