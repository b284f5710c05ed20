"""Input checks shared by every metric.

Metrics take (h, w, 3) uint8 RGB arrays only: accepting floats or other layouts would
leave the value range (0-1 or 0-255?) to guesswork, and a silently wrong range gives
plausible but wrong scores. Failures raise :class:`~sggic.errors.InputError` (never
``assert``) so the command line can print them in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import check_rgb
from ..errors import InputError


def check_image(img: Any, name: str, min_side: int = 1, what: str = "image") -> np.ndarray:
    """Return ``img`` if it is an (h, w, 3) uint8 array with both sides >= ``min_side``."""
    return check_rgb(img, name, min_side, what)


def check_pair(ref: Any, img: Any, name: str, min_side: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Check a reference/distorted pair: both valid images of the same shape."""
    ref = check_image(ref, name, min_side, "reference")
    img = check_image(img, name, min_side, "image")
    if ref.shape != img.shape:
        raise InputError(f"{name}: reference {ref.shape} and image {img.shape} differ in shape")
    return ref, img


def finite(value: float, name: str) -> float:
    """Return ``value`` as float, or raise when the metric is undefined for this input.

    NaN arises on degenerate inputs (a flat image has no natural-scene statistics);
    returning it would poison means in the benchmark without anyone noticing.
    """
    v = float(value)
    if np.isnan(v):
        raise InputError(f"{name}: score is undefined for this image (flat or degenerate content)")
    return v
