"""PSNR over all three RGB channels at 8 bits (peak 255).

RGB rather than luma, as in compression papers and IQA-PyTorch's ``psnr`` (its Y-only
variant is ``psnry``). Identical images give ``math.inf``: capping at an arbitrary
"100 dB" would invent a number; :func:`sggic.metrics.normalise` maps inf to 1.0.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_pair


def check(name: str) -> None:
    """Always runnable (numpy only)."""


def compute(ref: np.ndarray, img: np.ndarray) -> float:
    ref, img = check_pair(ref, img, "psnr")
    diff = ref.astype(np.float64) - img.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0 * 255.0 / mse)
