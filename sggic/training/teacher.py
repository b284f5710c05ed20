"""Real-ESRGAN teacher outputs on our own VVC bases, computed once and cached as PNG.

The generative restorer (``sggic/restore/generative.py``) learns to reproduce, at a
fraction of the cost, the texture that Real-ESRGAN x4plus (``--restorer realesrgan``:
4x, then Lanczos to 2x) paints on a 2x-downsampled VVC base. The teacher costs ~10 s
per 256x256 base on 2 idle cores (and several times that on the shared machine), so it
runs on one ``CROP`` x ``CROP`` crop of each (photo, qp) base at a position drawn from a
seeded generator, and only the inner part (``MARGIN`` base pixels from each edge
dropped, where the crop border changes what Real-ESRGAN sees) is used as a target. Each
result is cached under an ignored folder (``runs/``) as one lossless PNG with the crop's
position in its name.

Order of work: every photo at the first qp, then every photo at the next one, so an
interrupted run still covers all photos (resume skips what exists).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

VIEW = "s512"
CROP = 128  # base pixels per teacher crop (a quarter of a 256x256 base's cost)
MARGIN = 16  # base pixels dropped at each crop edge before training


def crop_origin(photo_id: str, qp: int, size: int = 256, crop: int = CROP, k: int = 0) -> tuple[int, int]:
    """A reproducible position of crop ``k`` of (photo, qp): seeded by the names, not by run order.

    Crop 0 is the one crop of v1 (same seed); crops k > 0 draw from ``photo|qp|k``.
    """
    import zlib

    key = f"{photo_id}|{qp}" if k == 0 else f"{photo_id}|{qp}|{k}"
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return int(rng.integers(size - crop + 1)), int(rng.integers(size - crop + 1))


def teacher_path(cache_dir: str | os.PathLike, photo_id: str, qp: int, k: int = 0) -> Path:
    y, x = crop_origin(photo_id, qp, k=k)
    return Path(cache_dir) / f"{photo_id}.{VIEW}.q{qp}.y{y}x{x}.c{CROP}.png"


def base_at(view: dict[str, np.ndarray], qp: int) -> np.ndarray:
    """The decoded base of a cached view at ``qp`` (KeyError if that qp was not coded)."""
    idx = np.nonzero(view["qps"] == qp)[0]
    if not len(idx):
        raise KeyError(f"qp {qp} not in the cached view (has {view['qps'].min()}-{view['qps'].max()})")
    return view["bases"][int(idx[0])]


def prepare_teacher(views: dict[str, dict[str, np.ndarray]], qps: tuple[int, ...], cache_dir: str | os.PathLike,
                    threads: int = 2, log: Callable[[str], None] = print, crops: int = 1) -> list[Path]:
    """Run Real-ESRGAN (2x restorer) on ``crops`` crops of every (photo, qp) not cached yet; return all paths.

    Order: crop 0 of every (qp, photo), then crop 1, ...: an interrupted run covers all pairs first.
    """
    from sggic.restore.base import RestoreContext
    from sggic.restore.realesrgan import RealESRGANRestorer

    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    teacher = RealESRGANRestorer(threads=threads)
    out, t0, done = [], time.time(), 0
    for k, qp in ((k, qp) for k in range(crops) for qp in qps):
        for pid, v in sorted(views.items()):
            path = teacher_path(cache_dir, pid, qp, k)
            out.append(path)
            if path.exists():
                continue
            y, x = crop_origin(pid, qp, v["bases"].shape[1], k=k)
            img = teacher.restore(base_at(v, qp)[y:y + CROP, x:x + CROP], RestoreContext(1, qp))
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(img).save(tmp, compress_level=1)
            os.replace(tmp, path)
            done += 1
            log(f"teacher {pid} qp {qp} crop {k}: {time.time() - t0:.0f}s ({done} new)")
    return out


def load_teacher(cache_dir: str | os.PathLike, photo_id: str, qp: int, k: int = 0) -> np.ndarray:
    with Image.open(teacher_path(cache_dir, photo_id, qp, k)) as im:
        return np.asarray(im.convert("RGB")).copy()
