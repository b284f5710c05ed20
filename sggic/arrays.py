"""The one check every component applies to an RGB image array it is handed."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError


def check_rgb(img: Any, who: str, min_side: int = 1, what: str = "image") -> np.ndarray:
    """``img`` as a C-contiguous (h, w, 3) uint8 array with both sides >= ``min_side``.

    Raises InputError naming ``who`` (the component) and ``what`` (the argument), so
    codecs, restorers and metrics reject the same inputs with the same kind of message.
    """
    if not isinstance(img, np.ndarray):
        raise InputError(f"{who}: {what} must be a numpy array, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"{who}: {what} must have shape (h, w, 3), got {img.shape}")
    if img.dtype != np.uint8:
        raise InputError(f"{who}: {what} must be uint8 RGB (0-255), got dtype {img.dtype}")
    h, w = img.shape[:2]
    if min(h, w) < max(min_side, 1):
        raise InputError(f"{who}: {what} is {h}x{w}; needs at least {max(min_side, 1)}x{max(min_side, 1)}")
    return np.ascontiguousarray(img)
