"""The reference restorer: plain 2x bicubic upscaling.

It is the baseline every learned restorer must beat, and the fallback that needs no
weights. Pillow's BICUBIC (Keys kernel, a = -0.5, fixed-point arithmetic) is exact and
platform-independent, and at 256->512 it takes milliseconds, so no own kernel is needed.
Memory is the output image plus Pillow's copy of it; no tiling is needed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from sggic.restore.base import RestoreContext, Restorer
from sggic.restore.tiling import as_rgb_u8


def bicubic_2x(rgb: np.ndarray) -> np.ndarray:
    """Upscale an ``(h, w, 3)`` uint8 array to ``(2h, 2w, 3)`` with Pillow BICUBIC."""
    h, w = rgb.shape[:2]
    img = Image.fromarray(np.ascontiguousarray(rgb))
    return np.asarray(img.resize((2 * w, 2 * h), Image.Resampling.BICUBIC)).copy()


class BicubicRestorer(Restorer):
    """2x bicubic: deterministic, instant, no weights; ignores the context."""

    name = "bicubic"

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        return bicubic_2x(as_rgb_u8(base))
