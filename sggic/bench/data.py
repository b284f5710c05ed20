"""Benchmark images: the project's dev photos or any folder, with the paper's preprocessing.

The photo list and the preprocessing (short side to 512 with Lanczos, centre 512x512
crop) belong to :mod:`sggic.photos`; ``size=None`` keeps images at full size (slow for
large photos). Semantics travel with an image when a ``<id>.json`` exists
(``data/semantics`` for the dev photos, next to the image or in ``--semantics-dir`` for a
folder); sggic files include them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..photos import load_photo, preprocess, read_photos, require_installed

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".heic", ".avif"}
DEFAULT_SEMANTICS_DIR = Path(__file__).resolve().parents[2] / "data" / "semantics"


@dataclass
class BenchImage:
    """One test image after preprocessing; ``semantics`` is a path to its JSON or None."""

    id: str
    rgb: np.ndarray
    source: str
    semantics: Path | None = None

    @property
    def fingerprint(self) -> str:
        """Hash of the pixels the codecs see: a cache entry is reused only for these."""
        h = hashlib.sha256(self.rgb.tobytes())
        h.update(repr(self.rgb.shape).encode())
        return h.hexdigest()[:16]


def _load(path: Path) -> np.ndarray:
    from ..images import load_image

    return load_image(path).rgb


def _semantics_for(image_id: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        p = d / f"{image_id}.json"
        if p.is_file():
            return p
    return None


def dataset_images(name: str = "dev", tsv: Path | None = None, size: int | None = 512,
                   semantics_dir: Path | None = None) -> list[BenchImage]:
    """The photos of one split of the photo list (``dev`` is for measuring; never ``train``)."""
    photos = read_photos(tsv, split=name)
    if not photos:
        raise InputError(f"no photos in split {name!r} of the photo list")
    require_installed(photos)
    sem_dirs = [Path(semantics_dir or DEFAULT_SEMANTICS_DIR)]
    return [BenchImage(p.id, preprocess(load_photo(p), size), p.path, _semantics_for(p.id, sem_dirs))
            for p in photos]


def folder_images(folder: Path, size: int | None = 512, semantics_dir: Path | None = None) -> list[BenchImage]:
    """Every image file directly in ``folder``, sorted by name; id = file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--images: {folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise InputError(f"--images: no image files in {folder}")
    sem_dirs = [folder] + ([Path(semantics_dir)] if semantics_dir else [])
    ids = [p.stem for p in paths]
    if len(set(ids)) != len(ids):
        raise InputError(f"--images: two files in {folder} share a name stem; ids must be unique")
    return [BenchImage(p.stem, preprocess(_load(p), size), str(p), _semantics_for(p.stem, sem_dirs))
            for p in paths]
