"""Benchmark images: the project's dev photos or any folder, with the paper's preprocessing.

The paper evaluates 512x512 images: the short side is resized to 512 (Lanczos) and the
centre 512x512 is cropped. ``size=None`` keeps images at full size (slow for large photos).
Semantics travel with an image when a ``<id>.json`` exists (``data/semantics`` for the dev
photos, next to the image or in ``--semantics-dir`` for a folder); sggic files include them.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".heic", ".avif"}
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PHOTOS_TSV = REPO_ROOT.parent / "shared" / "data" / "photos.tsv"
DEFAULT_SEMANTICS_DIR = REPO_ROOT / "data" / "semantics"


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


def preprocess(rgb: np.ndarray, size: int | None = 512) -> np.ndarray:
    """Resize the short side to ``size`` (Lanczos) and centre-crop ``size`` x ``size``."""
    if size is None:
        return rgb
    from PIL import Image

    h, w = rgb.shape[:2]
    s = size / min(h, w)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    im = Image.fromarray(rgb)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.ascontiguousarray(np.asarray(im.crop((left, top, left + size, top + size))))


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
    """The photos of one split of photos.tsv (``dev`` is for measuring; never ``train``)."""
    tsv = Path(tsv or DEFAULT_PHOTOS_TSV)
    if not tsv.is_file():
        raise InputError(f"no photo list at {tsv}")
    sem_dirs = [Path(semantics_dir or DEFAULT_SEMANTICS_DIR)]
    out: list[BenchImage] = []
    with open(tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["split"] != name:
                continue
            path = Path(row["path"])
            if not path.is_file():
                raise InputError(f"photo {row['id']} missing at {path} (see the notes on installing it)")
            out.append(BenchImage(row["id"], preprocess(_load(path), size), str(path),
                                  _semantics_for(row["id"], sem_dirs)))
    if not out:
        raise InputError(f"no photos in split {name!r} of {tsv}")
    return out


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
