"""One batch job, as a plain function of picklable arguments.

The same function runs in-process, in a local process pool, or as a Ray task. A job gets
either a path (local runs: the worker reads the file) or the file's bytes (Ray: the
cluster's nodes need not share a filesystem with the driver), and returns the output's
bytes; the driver writes them atomically, so an interrupted batch never leaves a partial
output and a rerun skips exactly the finished files.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SggicError

_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class WorkResult:
    """What a worker sends back: output bytes or a one-line error, and the numbers for the summary."""

    data: bytes | None
    pixels: int = 0
    in_bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def single_thread_worker() -> None:
    """Process-pool initializer: one thread per worker, so N workers use N cores, not N^2."""
    os.environ.update(_SINGLE_THREAD_ENV)


def _save_bytes(image: Any, suffix: str) -> bytes:
    from PIL import Image

    fmt = Image.registered_extensions().get(suffix.lower())
    if fmt is None:
        raise SggicError(f"unsupported output extension {suffix!r}")
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


def _encode(src: Path, options: dict[str, Any]) -> tuple[bytes, int, list[str]]:
    from ..pipeline import encode_detailed

    r = encode_detailed(src, **options)
    return r.data, r.header.width * r.header.height, list(r.notes)


def _decode(raw: bytes, out_suffix: str, options: dict[str, Any], threads: int | None) -> tuple[bytes, int]:
    from ..config import RunConfig
    from ..pipeline import decode_detailed

    # the thread count reaches every stage through RunConfig (torch, ncnn), so nothing
    # model-specific is imported here
    r = decode_detailed(raw, restorer=options.get("restorer"), config=RunConfig(threads=threads))
    return _save_bytes(r.image, out_suffix), r.header.width * r.header.height


def run_job(kind: str, src: str, payload: bytes | None, options: dict[str, Any],
            out_suffix: str = ".sgc", threads: int | None = None) -> WorkResult:
    """Encode or decode one file; never raises for a bad input (the error comes back as text)."""
    t0 = time.perf_counter()
    path = Path(src)
    try:
        if kind == "encode":
            if payload is None:
                in_bytes = path.stat().st_size
                data, pixels, notes = _encode(path, options)
            else:  # bytes shipped to a cluster node: give the reader a file with the same suffix
                in_bytes = len(payload)
                with tempfile.TemporaryDirectory(prefix="sggic-") as d:
                    tmp = Path(d) / ("input" + path.suffix)
                    tmp.write_bytes(payload)
                    try:
                        data, pixels, notes = _encode(tmp, options)
                    except SggicError as e:  # name the user's file, not the temporary one
                        raise type(e)(str(e).replace(str(tmp), src)) from None
        else:
            raw = path.read_bytes() if payload is None else payload
            in_bytes = len(raw)
            data, pixels = _decode(raw, out_suffix, options, threads)
            notes = []
    except SggicError as e:
        return WorkResult(None, seconds=time.perf_counter() - t0, error=str(e))
    except MemoryError:
        return WorkResult(None, seconds=time.perf_counter() - t0, error="out of memory")
    except Exception as e:  # an sggic bug: reported for this file, the batch goes on
        return WorkResult(None, seconds=time.perf_counter() - t0,
                          error=f"internal error: {type(e).__name__}: {e}")
    return WorkResult(data, pixels, in_bytes, time.perf_counter() - t0, None, notes)
