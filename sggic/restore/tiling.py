"""Run an integer-factor upscaler tile by tile, without seams and with bounded memory.

Networks such as Real-ESRGAN need tens of kilobytes of activations per input pixel, so a
whole image at once can take gigabytes. The tiler splits the input into a grid of *core*
rectangles, runs the upscaler on each core widened by ``overlap`` input pixels of real
context on every side (clipped at the image border), keeps only the core's part of the
result, and writes it into one preallocated output array. One tile is alive at a time.

Why crop instead of blending: for an operator whose receptive radius is at most
``overlap`` input pixels, every kept output pixel sees exactly the input it would see
untiled, so the tiled result is bit-identical to the untiled one. Blending two
approximations (linear feathering) would only move the seam, never remove it. For a
network whose receptive field is wider than the overlap, the far context has a tiny
effect and the difference stays within a grey level or so (measured per restorer and
written in docs/restorers.md).
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from sggic.arrays import check_rgb
from sggic.errors import InputError

UpscaleFn = Callable[[np.ndarray], np.ndarray]


def as_rgb_u8(base: object) -> np.ndarray:
    """Check a restorer input once, with a one-line message, and make it C-contiguous."""
    return check_rgb(base, "restorer", what="input")


def split_1d(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``[0, length)`` into the fewest cores of at most ``tile``, of near-equal size.

    Balanced cores avoid a sliver tile at the end (257 px with tile 128 gives 86/86/85,
    not 128/128/1): a sliver costs a full overlap of context for almost no output.
    """
    if length < 1 or tile < 1:
        raise InputError(f"cannot split length {length} into tiles of {tile}")
    n = -(-length // tile)
    cuts = [(i * length) // n for i in range(n + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(n)]


def iter_tiles(
    height: int, width: int, tile: int, overlap: int
) -> Iterator[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """Yield ``(core, padded)`` boxes as ``(y0, y1, x0, x1)`` in input pixels, row-major."""
    if overlap < 0:
        raise InputError(f"tile overlap must be >= 0, got {overlap}")
    for y0, y1 in split_1d(height, tile):
        for x0, x1 in split_1d(width, tile):
            padded = (max(0, y0 - overlap), min(height, y1 + overlap),
                      max(0, x0 - overlap), min(width, x1 + overlap))
            yield (y0, y1, x0, x1), padded


def tiled_upscale(
    image: np.ndarray,
    fn: UpscaleFn,
    scale: int,
    tile: int = 128,
    overlap: int = 16,
) -> np.ndarray:
    """Apply ``fn`` (an exact ``scale``-times upscaler) to ``image`` tile by tile.

    ``image`` is ``(h, w)`` or ``(h, w, c)``; ``fn`` must map an ``(th, tw, ...)`` array to
    ``(scale*th, scale*tw, ...)`` with the same trailing shape on every call. The output
    dtype is the dtype of ``fn``'s first result. An image that fits in one tile is passed
    to ``fn`` whole, so small inputs cost nothing extra.
    """
    if scale < 1:
        raise InputError(f"upscale factor must be a positive integer, got {scale}")
    if image.ndim not in (2, 3):
        raise InputError(f"tiler input must be (h, w) or (h, w, c), got shape {image.shape}")
    from sggic.progress import step

    h, w = image.shape[:2]
    out: np.ndarray | None = None
    tiles = list(iter_tiles(h, w, tile, overlap))
    for (y0, y1, x0, x1), (py0, py1, px0, px1) in tiles:
        res = fn(image[py0:py1, px0:px1])
        want = (scale * (py1 - py0), scale * (px1 - px0)) + image.shape[2:]
        if res.shape[:2] != want[:2] or (out is not None and res.shape[2:] != out.shape[2:]):
            raise ValueError(f"upscaler returned shape {res.shape} for a tile that needs {want}")
        if out is None:
            out = np.empty((scale * h, scale * w) + res.shape[2:], dtype=res.dtype)
        cy, cx = scale * (y0 - py0), scale * (x0 - px0)
        out[scale * y0:scale * y1, scale * x0:scale * x1] = \
            res[cy:cy + scale * (y1 - y0), cx:cx + scale * (x1 - x0)]
        del res
        if len(tiles) > 1:
            step(total=len(tiles))  # the command line's progress bar, if one is open
    assert out is not None  # split_1d always yields at least one tile
    return out
