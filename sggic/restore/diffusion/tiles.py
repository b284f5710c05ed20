"""Overlapping tiles blended with smooth weights: bounded memory, no seams.

Diffusion networks see their whole input (self-attention, GroupNorm statistics), so
cropping tiles with context (what :mod:`sggic.restore.tiling` does for local CNNs) would
leave visible edges. Here tiles overlap by at least ``overlap`` grid units and each output
pixel is the weighted mean of every tile covering it, with weights that ramp linearly
from ~0 to 1 across the overlap on the sides shared with another tile (1 on the image
border). Two tiles' predictions therefore hand over gradually: a difference between
them turns into a smooth blend over the overlap instead of a step. Applied at every
sampler step to the noise prediction (DiffBIR's tiled sampling does the same with
Gaussian weights) and to the VAE's encoder and decoder.

An image no larger than one tile is processed whole, so tiling is exact there.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1) in grid units


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``[0, size)`` with >= ``overlap``.

    Tiles are spread evenly (the last one ends at ``size``), so every overlap is at least
    ``overlap`` and none degenerates into a sliver.
    """
    if size <= tile:
        return [0]
    stride = tile - overlap
    if stride < 1:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    n = math.ceil((size - tile) / stride) + 1
    return [round(i * (size - tile) / (n - 1)) for i in range(n)]


def iter_boxes(height: int, width: int, tile: int, overlap: int) -> Iterator[Box]:
    """Row-major tile boxes over a ``height x width`` grid."""
    for y0 in tile_starts(height, tile, overlap):
        for x0 in tile_starts(width, tile, overlap):
            yield y0, min(height, y0 + tile), x0, min(width, x0 + tile)


def _ramp_1d(torch: Any, length: int, start: int, end: int, total: int, ramp: int) -> Any:
    """1 inside; (i + 0.5) / ramp rising from each side that is not the image border."""
    w = torch.ones(length, dtype=torch.float32)
    if ramp <= 0:
        return w
    idx = torch.arange(length, dtype=torch.float32)
    if start > 0:
        w = torch.minimum(w, (idx + 0.5) / ramp)
    if end < total:
        w = torch.minimum(w, (length - idx - 0.5) / ramp)
    return w


def tile_weights(box: Box, height: int, width: int, overlap: int, unit: int = 1) -> Any:
    """``(1, 1, h*unit, w*unit)`` blending weights of ``box`` (grid units) in output pixels."""
    import torch

    y0, y1, x0, x1 = box
    wy = _ramp_1d(torch, (y1 - y0) * unit, y0, y1, height, overlap * unit)
    wx = _ramp_1d(torch, (x1 - x0) * unit, x0, x1, width, overlap * unit)
    return (wy[:, None] * wx[None, :])[None, None]


def blend_tiles(
    fn: Callable[[Box], Any],
    height: int,
    width: int,
    tile: int,
    overlap: int,
    unit: int = 1,
    out_device: Any = None,
    context: int = 0,
) -> Any:
    """Run ``fn`` on every tile box of a ``height x width`` grid and blend the results.

    ``fn(box)`` returns a tensor ``(N, C, (y1-y0)*unit, (x1-x0)*unit)`` (``unit`` output
    pixels per grid unit: 8 for a VAE decoder fed latents, 1 for a noise prediction).
    The blended float32 result is accumulated on ``out_device`` (default: the first
    tile's device); only one tile's activations are alive at a time.

    ``context`` > 0 widens every box by that many grid units of real input on each side
    (clipped at the border) before ``fn`` runs, and keeps only the box's part of the
    result: a convolutional network then sees real neighbours instead of zero padding at
    the tile's edge (the VAE's receptive field is far wider than any useful overlap).
    """
    boxes = list(iter_boxes(height, width, tile, overlap))
    if len(boxes) == 1:
        return fn(boxes[0])
    import torch

    acc = wsum = None
    for box in boxes:
        if context > 0:
            y0, y1, x0, x1 = box
            py0, py1 = max(0, y0 - context), min(height, y1 + context)
            px0, px1 = max(0, x0 - context), min(width, x1 + context)
            out = fn((py0, py1, px0, px1))
            out = out[:, :, (y0 - py0) * unit:(y1 - py0) * unit, (x0 - px0) * unit:(x1 - px0) * unit]
        else:
            out = fn(box)
        device = out_device if out_device is not None else out.device
        if acc is None:
            acc = torch.zeros((out.shape[0], out.shape[1], height * unit, width * unit),
                              dtype=torch.float32, device=device)
            wsum = torch.zeros((1, 1, height * unit, width * unit), dtype=torch.float32, device=device)
        w = tile_weights(box, height, width, overlap, unit).to(device)
        y0, y1, x0, x1 = (v * unit for v in box)
        acc[:, :, y0:y1, x0:x1] += out.to(device=device, dtype=torch.float32) * w
        wsum[:, :, y0:y1, x0:x1] += w
        del out
    return acc / wsum
