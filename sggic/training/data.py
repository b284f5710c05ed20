"""Training pairs for the fitted restorer: originals and their VVC-coded half-resolution bases.

A *view* of a photo is a 512x512 crop after resizing the short side to some length
(:func:`sggic.photos.resize_crop`); the benchmark measures the ``s512`` view (short side
512, centre crop: the paper's preprocessing), ``s1024`` (short side 1024, centre crop)
adds finer detail at every 4th qp. Each view is downsampled 2x exactly as the encoder
does (``codecs._pixels.downsample2x``) and coded by the VVC base codec at every qp in
its list; decoded bases are cached per view as one ``.npz`` so that the
slow part (one libvvenc run per qp, 0.2-0.7 s) happens once.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ..photos import SIZE as CROP
from ..photos import Photo, load_photo, resize_crop

# view name -> (short side after resize, horizontal crop position in [0, 1], qps)
VIEWS: dict[str, tuple[int, float, tuple[int, ...]]] = {
    "s512": (512, 0.5, tuple(range(28, 64))),
    "s1024": (1024, 0.5, tuple(range(30, 64, 4))),
}


def code_bases(half: np.ndarray, qps: tuple[int, ...] | list[int]) -> tuple[np.ndarray, np.ndarray]:
    """VVC-code a half-resolution view at each qp: (decoded bases stacked, payload sizes as int32)."""
    from ..codecs import get_codec

    codec = get_codec("vvc")
    bases, nbytes = [], []
    for qp in qps:
        payload = codec.encode(half, qp)
        bases.append(codec.decode(payload, half.shape[1], half.shape[0], qp))
        nbytes.append(len(payload))
    return np.stack(bases), np.array(nbytes, np.int32)


def code_view(photo: Photo, short: int, xpos: float,
              qualities: tuple[int, ...] | list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A view's original (short side ``short``, ``CROP`` square at ``xpos``) and its half-resolution
    base coded at each VVC quality: (orig, decoded bases stacked, payload sizes)."""
    from ..codecs._pixels import downsample2x

    orig = resize_crop(load_photo(photo), short, CROP, xpos)
    bases, nbytes = code_bases(downsample2x(orig), qualities)
    return orig, bases, nbytes


def prepare_view(photo: Photo, view: str, cache_dir: str | os.PathLike) -> Path:
    """Code one view at all its qps and cache ``orig``, ``qps``, ``bases``, ``nbytes``."""
    out = Path(cache_dir) / f"{photo.id}.{view}.npz"
    if out.exists():
        return out
    short, xpos, qps = VIEWS[view]
    orig, bases, nbytes = code_view(photo, short, xpos, qps)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, orig=orig, qps=np.array(qps, np.int16), bases=bases, nbytes=nbytes)
    os.replace(tmp, out)
    return out


def prepare(photos: list[Photo], cache_dir: str | os.PathLike, views: tuple[str, ...] = tuple(VIEWS),
            workers: int = 2, log=print) -> list[Path]:
    """Prepare every (photo, view), ``workers`` processes, logging progress; returns the npz paths."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(p, v) for v in views for p in photos]  # s512 first: the most useful view
    t0 = time.time()
    paths: list[Path] = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = {ex.submit(prepare_view, p, v, cache_dir): (p.id, v) for p, v in jobs}
        for i, fut in enumerate(as_completed(futs), 1):
            paths.append(fut.result())
            log(f"prep {i}/{len(jobs)} {futs[fut][0]}.{futs[fut][1]} {time.time() - t0:.0f}s")
    return sorted(paths)


def load_views(paths: list[Path]) -> list[dict[str, np.ndarray]]:
    """Load cached views into memory (~8 MB each)."""
    out = []
    for p in paths:
        with np.load(p) as z:
            out.append({k: z[k] for k in ("orig", "qps", "bases", "nbytes")})
    return out


def write_manifest(path: str | os.PathLike, **info) -> None:
    Path(path).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
