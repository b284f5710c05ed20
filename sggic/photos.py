"""The project's photo list and the paper's 512-pixel preprocessing: the one owner of both.

The photo list ships with sggic as ``data/photos.tsv`` (columns ``id``, ``split``,
``debian_package``, ``path``, ``license``): 22 ``train`` photos (for fitting the restorer)
and 8 ``dev`` photos (for measuring; never trained on). The photos themselves are Debian
wallpaper packages installed under ``/usr/share`` (``setup.sh`` installs them); when some
are missing, :func:`require_installed` names the ``apt-get install`` line that fixes it.

Preprocessing (the paper's evaluation protocol): resize the short side to 512 with Lanczos
and crop the centre 512x512 (:func:`preprocess`; :func:`resize_crop` is the general form
that training also uses for other short sides and crop positions).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

COLUMNS = ("id", "split", "debian_package", "path", "license")
SPLITS = ("train", "dev")
SIZE = 512  # the paper's test images: 512x512


CHECKOUT_LIST = Path(__file__).resolve().parents[1] / "data" / "photos.tsv"


def installed_lists() -> list[Path]:
    """Where a wheel install puts the list (pyproject.toml data-files: ``share/sggic``)."""
    import site
    import sysconfig

    bases = [Path(sysconfig.get_paths()["data"]), Path(site.getuserbase())]
    return [b / "share" / "sggic" / "photos.tsv" for b in bases]


def default_photos_tsv() -> Path:
    """``data/photos.tsv`` of the checkout this sggic runs from (also an editable install),
    else the copy a wheel installed; ``--photos FILE`` names any other list."""
    for candidate in [CHECKOUT_LIST, *installed_lists()]:
        if candidate.is_file():
            return candidate
    return CHECKOUT_LIST


@dataclass(frozen=True)
class Photo:
    """One row of the photo list."""

    id: str
    split: str
    debian_package: str
    path: str
    license: str

    @property
    def installed(self) -> bool:
        return Path(self.path).is_file()


def read_photos(tsv: str | os.PathLike | None = None, split: str | None = None) -> list[Photo]:
    """The photo list in file order, optionally one split only (no file is opened but the list)."""
    path = Path(tsv) if tsv is not None else default_photos_tsv()
    if not path.is_file():
        raise InputError(f"no photo list at {path}")
    if split is not None and split not in SPLITS:
        raise InputError(f"unknown photo split {split!r}; choose from {', '.join(SPLITS)}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: not a photo list (missing column(s) {', '.join(missing)})")
        rows = [Photo(*(r[c] for c in COLUMNS)) for r in reader]
    return [p for p in rows if split is None or p.split == split]


def apt_hint(photos: list[Photo]) -> str:
    """The one ``apt-get install`` line that installs the packages holding ``photos``."""
    packages = sorted({p.debian_package for p in photos})
    return f"sudo apt-get install {' '.join(packages)}"


def require_installed(photos: list[Photo]) -> list[Photo]:
    """``photos`` unchanged when every file exists; else one InputError naming the apt packages."""
    missing = [p for p in photos if not p.installed]
    if missing:
        raise InputError(f"{len(missing)} of {len(photos)} photos are not installed (first: {missing[0].id} at "
                         f"{missing[0].path}); install them with `{apt_hint(missing)}` (or run ./setup.sh)")
    return photos


def resize_crop(rgb: np.ndarray, short: int = SIZE, size: int = SIZE, xpos: float = 0.5) -> np.ndarray:
    """Resize so the short side is ``short`` (Lanczos), then crop ``size`` x ``size``.

    The crop is centred vertically; ``xpos`` in [0, 1] places it horizontally (0.5: centre,
    offset ``(width - size) // 2``). ``short=size=512, xpos=0.5`` is :func:`preprocess`.
    An image already at the target size is not resampled.
    """
    from PIL import Image

    if short < size:
        raise ValueError(f"short side {short} is smaller than the crop {size}")
    h, w = rgb.shape[:2]
    s = short / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    im = Image.fromarray(rgb)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    x0 = int((nw - size) * xpos)
    y0 = (nh - size) // 2
    return np.ascontiguousarray(np.asarray(im.crop((x0, y0, x0 + size, y0 + size))))


def preprocess(rgb: np.ndarray, size: int | None = SIZE) -> np.ndarray:
    """The paper's test image: short side to ``size`` (Lanczos), centre ``size`` x ``size`` crop.

    ``size=None`` keeps the image as it is.
    """
    if size is None:
        return rgb
    return resize_crop(rgb, size, size, 0.5)


def load_photo(photo: Photo) -> np.ndarray:
    """The photo's full-size RGB pixels (uint8), read with sggic's input policy."""
    from .images import load_image

    if not photo.installed:
        raise InputError(f"photo {photo.id} is not installed at {photo.path}; install it with `{apt_hint([photo])}`")
    return load_image(photo.path).rgb
