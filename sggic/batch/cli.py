"""Command-line glue for ``sggic encode/decode`` with several inputs or folders."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_options(p: argparse.ArgumentParser) -> None:
    """The options that only matter when several files are converted."""
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="worker processes for several inputs (default: one per core, each single-threaded)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run the files as tasks on a Ray cluster: 'auto', 'ray://HOST:10001', or 'local' "
                        "(pip install 'sggic[cluster]')")
    p.add_argument("--overwrite", action="store_true",
                   help="with several inputs: redo files whose output exists (default: skip them, so a rerun resumes)")


def is_batch(inputs: list[str], output: str) -> bool:
    """Several inputs, a folder input, or an output that names a folder: batch mode."""
    return (len(inputs) > 1 or any(os.path.isdir(i) for i in inputs)
            or output.endswith(("/", os.sep)) or os.path.isdir(output))


def _progress(quiet: bool) -> bool:
    from ..progress import stderr_is_terminal

    return not quiet and stderr_is_terminal()


def _finish(r, quiet: bool) -> None:
    from .run import BatchFailed

    lines = r.summary()
    if not quiet:
        print(lines[0])
    for line in lines[1:]:
        print(f"sggic: {line}", file=sys.stderr)
    if r.failed:
        raise BatchFailed(f"{len(r.failed)} of {len(r.outcomes)} files failed (listed above)")


def _check_out_dir(output: str) -> None:
    from ..errors import InputError

    p = Path(output)
    if p.exists() and not p.is_dir():
        raise InputError(f"with several inputs or a folder, -o must be a folder; {output} is a file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder's parent does not exist: {parent}")


def encode(a: argparse.Namespace) -> None:
    from ..errors import InputError
    from . import encode_many

    if getattr(a, "semantics", None) or getattr(a, "describe", False):
        raise InputError("--semantics and --describe describe one image; encode it on its own")
    _offline_only(a)
    _check_out_dir(a.output)
    r = encode_many(a.input, a.output, bpp=a.bpp, target_bytes=a.bytes, base=a.base, restorer=a.restorer,
                    seed=a.seed, fixed=a.fixed, jobs=a.jobs, ray=a.ray, overwrite=a.overwrite,
                    progress=_progress(a.quiet))
    _finish(r, a.quiet)


def _offline_only(a: argparse.Namespace) -> None:
    """Batches run the offline profile; the full profile's options must not be dropped silently."""
    from ..errors import InputError

    if getattr(a, "profile", "offline") != "offline" or getattr(a, "models", None) or getattr(a, "segmenter", None):
        raise InputError("--profile full, --models and --segmenter work on one file at a time in this version")


def decode(a: argparse.Namespace) -> None:
    from . import decode_many

    _offline_only(a)
    _check_out_dir(a.output)
    r = decode_many(a.input, a.output, restorer=a.restorer, format=a.format, jobs=a.jobs, ray=a.ray,
                    overwrite=a.overwrite, progress=_progress(a.quiet))
    _finish(r, a.quiet)
