"""SSIMULACRA 2 via the PyPI ``ssimulacra2`` package (pure Python port of libjxl's tool).

The package's entry point only opens files (``PIL.Image.open``), so the arrays are
handed over as in-memory PNGs (lossless, no temporary files). 100 means identical;
about 90 is visually lossless, 30 low quality, and scores go negative at the rates this
project works at. Slow: about a second or more per 512x512 pair (pure numpy/scipy).
"""

from __future__ import annotations

import io

import numpy as np

from ._assets import require
from ._checks import check_pair

MIN_SIDE = 8  # the package stops adding scales below 8 pixels; below that it has none


def check(name: str) -> None:
    require(name, "ssimulacra2", "PIL")


def _png(a: np.ndarray) -> io.BytesIO:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a, "RGB").save(buf, format="PNG", compress_level=0)
    buf.seek(0)
    return buf


def compute(ref: np.ndarray, img: np.ndarray) -> float:
    ref, img = check_pair(ref, img, "ssimulacra2", MIN_SIDE)
    from ssimulacra2 import compute_ssimulacra2

    return float(compute_ssimulacra2(_png(ref), _png(img)))
