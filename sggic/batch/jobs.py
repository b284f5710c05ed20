"""Which files a batch command works on, and where each output goes.

Inputs are files and folders; a folder is searched recursively and its relative paths are
mirrored under the output folder (``photos/2024/a.jpg`` -> ``OUT/2024/a.sgc``). A file given
by name goes to the top of the output folder. Hidden files (``.name``, which includes the
``.name.*.part`` temporaries of an interrupted atomic write) are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".pgm", ".gif",
                  ".heic", ".heif", ".avif")
SGC_SUFFIX = ".sgc"
DECODE_FORMATS = ("png", "jpg", "webp", "tif", "bmp")


@dataclass(frozen=True)
class Job:
    """One file to convert: ``src`` -> ``dst``; ``rel`` is how the summary names it."""

    src: Path
    dst: Path
    rel: str


def _walk(folder: Path, suffixes: Sequence[str]) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in suffixes:
                yield Path(root) / name


def plan_jobs(inputs: Sequence[str | os.PathLike], output_dir: str | os.PathLike, kind: str,
              out_suffix: str | None = None) -> list[Job]:
    """The jobs for ``kind`` ("encode" or "decode"), in a stable order; InputError on a clash."""
    if kind not in ("encode", "decode"):
        raise ValueError(kind)
    if not inputs:
        raise InputError("no input files or folders given")
    suffixes = IMAGE_SUFFIXES if kind == "encode" else (SGC_SUFFIX,)
    new_suffix = SGC_SUFFIX if kind == "encode" else (out_suffix or ".png")
    out = Path(output_dir)
    jobs: list[Job] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = list(_walk(p, suffixes))
            if not found:
                what = "images" if kind == "encode" else ".sgc files"
                raise InputError(f"{p}: folder contains no {what}")
            for f in found:
                rel = f.relative_to(p)
                jobs.append(Job(f, out / rel.with_suffix(new_suffix), str(rel)))
        elif p.exists():
            jobs.append(Job(p, out / (p.stem + new_suffix), p.name))
        else:
            raise InputError(f"no such file or folder: {p}")
    seen: dict[Path, Job] = {}
    for j in jobs:
        if j.dst in seen:
            raise InputError(f"{seen[j.dst].src} and {j.src} would both be written to {j.dst}; "
                             "convert them in separate commands")
        seen[j.dst] = j
    return jobs
