"""PIQE (Venkatanath et al. 2015) via the PyPI ``pypiqe`` package.

pypiqe imports OpenCV (``cv2``) for a grey conversion and a Gaussian blur; without it the
metric is reported unavailable, not replaced. Lower is better, 0-100.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from ..errors import BackendUnavailable
from ._assets import require
from ._checks import check_image, finite

MIN_SIDE = 16  # one PIQE block


def check(name: str) -> None:
    if importlib.util.find_spec("cv2") is None:
        raise BackendUnavailable(f"{name} unavailable: pypiqe needs OpenCV (cv2); "
                                 "install opencv-python-headless")
    require(name, "pypiqe")


def compute(img: np.ndarray) -> float:
    img = check_image(img, "piqe", MIN_SIDE)
    from pypiqe import piqe

    # pypiqe converts with OpenCV's BGR order; hand it BGR so the grey weights are right.
    bgr = np.ascontiguousarray(img[:, :, ::-1])
    score = piqe(bgr)[0]
    return finite(score, "piqe")
