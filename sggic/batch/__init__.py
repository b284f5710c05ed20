"""Many files in one call: folders (recursive) in, a mirrored folder of outputs out.

    import sggic
    r = sggic.encode_many(["photos/"], "photos-sgc/", bpp=0.03)     # every core
    r = sggic.decode_many(["photos-sgc/"], "photos-out/", ray="auto")  # a Ray cluster
    print("\\n".join(r.summary()))

Work is spread over the local cores (one single-threaded worker process per core) or,
with ``ray=ADDRESS``, over a Ray cluster (``pip install 'sggic[cluster]'``). Outputs
that already exist are skipped, so an interrupted batch resumes where it stopped (writes
are atomic, so a present output is a complete one). A file that fails is reported in the
result and the others go on; nothing is raised for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .jobs import DECODE_FORMATS, Job, plan_jobs
    from .run import BatchFailed, BatchResult, Outcome, run_batch

__all__ = ["encode_many", "decode_many", "BatchResult", "Outcome", "BatchFailed", "Job", "plan_jobs"]

# Loaded on first use, so that ``sggic encode`` of one file, which reads only
# ``sggic.batch.cli``, does not import the worker machinery (~10 ms).
_LAZY = {"DECODE_FORMATS": "jobs", "Job": "jobs", "plan_jobs": "jobs",
         "BatchFailed": "run", "BatchResult": "run", "Outcome": "run", "run_batch": "run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

Paths = Sequence["str | os.PathLike[str]"]


def encode_many(inputs: Paths, output_dir: str | os.PathLike, *, bpp: float | None = None,
                target_bytes: int | None = None, base: str | None = None, restorer: str | None = None,
                seed: int = 0, fixed: bool = False, jobs: int | None = None, ray: str | None = None,
                overwrite: bool = False, progress: bool = False) -> BatchResult:
    """Encode image files and folders (recursively) into ``output_dir``, mirroring folders.

    ``bpp`` / ``target_bytes`` / ``base`` / ``restorer`` / ``seed`` / ``fixed`` are
    :func:`sggic.encode`'s, applied to every image (``target_bytes`` is per file).
    ``jobs``: local worker processes (default: one per core). ``ray``: a Ray address
    (``"auto"``, ``"ray://host:10001"``, ``"local"``) to run the files as Ray tasks instead.
    ``overwrite``: redo files whose output exists. ``progress``: a tqdm bar on stderr.
    """
    from ..codecs import get_codec
    from ..pipeline import DEFAULT_BASE, DEFAULT_BPP
    from ..restore.registry import DEFAULT_RESTORER, restorer_info
    from .jobs import plan_jobs
    from .run import run_batch

    options = {"bpp": DEFAULT_BPP if bpp is None else bpp, "target_bytes": target_bytes,
               "base": base or DEFAULT_BASE, "restorer": restorer or DEFAULT_RESTORER,
               "seed": seed, "fixed": fixed}
    restorer_info(options["restorer"])  # bad names fail once, before any work
    get_codec(options["base"]).check_available()
    _check_rate(options)
    planned = plan_jobs(inputs, output_dir, "encode")
    return run_batch("encode", planned, options, ".sgc", jobs, ray, overwrite, progress)


def decode_many(inputs: Paths, output_dir: str | os.PathLike, *, restorer: str | None = None,
                format: str = "png", jobs: int | None = None, ray: str | None = None,
                overwrite: bool = False, progress: bool = False) -> BatchResult:
    """Decode .sgc files and folders (recursively) into ``output_dir`` as ``format`` images.

    ``restorer`` overrides the one each file records. Other arguments as in :func:`encode_many`.
    """
    from ..errors import InputError
    from ..restore.registry import restorer_info
    from .jobs import DECODE_FORMATS, plan_jobs
    from .run import run_batch

    if restorer is not None:
        restorer_info(restorer)
    fmt = str(format).lower().lstrip(".")
    if fmt not in DECODE_FORMATS:
        raise InputError(f"unknown output format {format!r}; choose one of: {', '.join(DECODE_FORMATS)}")
    planned = plan_jobs(inputs, output_dir, "decode", "." + fmt)
    return run_batch("decode", planned, {"restorer": restorer}, "." + fmt, jobs, ray, overwrite, progress)


def _check_rate(options: dict) -> None:
    from ..budgets import check_target_bytes
    from ..ratecontrol import budget_bytes

    if options["target_bytes"] is not None:
        check_target_bytes(options["target_bytes"])
    else:
        budget_bytes(options["bpp"], 1, 1)  # validates the number
