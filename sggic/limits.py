"""Bounds on the work a decoder does for a file it did not write.

Why a module of its own: a stranger's file decides how many bytes are read, how many
pixels are allocated and how long the restorer runs. Every such quantity is checked here,
from the header alone, before anything is decoded (docs/format.md, "Decoder limits").
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import BitstreamError, InputError

DEFAULT_MAX_PIXELS = 64_000_000  # decode --max-pixels default: ~25 min of CPU restoration, <2 GB
READ_CHUNK = 1 << 20


def check_path(path: object, what: str = "file") -> Path:
    """A usable filesystem path, or InputError (wrong type, empty, NUL byte)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} must be a path, got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise InputError(f"{what} name is empty")
    if "\x00" in text:
        raise InputError(f"{what} name contains a NUL byte")
    return Path(text)


def read_capped(path: str | os.PathLike, cap: int, what: str = "file",
                too_large: type[Exception] = BitstreamError) -> bytes:
    """At most ``cap`` bytes of ``path``; ``too_large`` (one line) if it holds more.

    Reads ``cap + 1`` bytes at most whatever the file is: ``st_size`` is 0 for devices,
    pipes and /proc files, so it cannot be trusted to bound the read.
    """
    p = check_path(path, what)
    try:
        with open(p, "rb") as f:
            chunks: list[bytes] = []
            total = 0
            while total <= cap:
                chunk = f.read(min(READ_CHUNK, cap + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise InputError(f"{p} is a directory, not a {what}") from None
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror or e}") from None
    if total > cap:
        raise too_large(f"{p}: too large ({what} of more than {cap} bytes)")
    return b"".join(chunks)


def check_max_pixels(max_pixels: object) -> int:
    """The ``max_pixels`` argument as a positive int (InputError otherwise)."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise InputError(f"max_pixels (--max-pixels) must be a positive integer, got {max_pixels!r}")
    return max_pixels


def check_decode_size(width: int, height: int, max_pixels: int) -> None:
    """Refuse a picture above the caller's pixel limit before any decoder runs."""
    if width * height > max_pixels:
        raise BitstreamError(
            f"image is {width}x{height} = {width * height} pixels, above the decode limit of "
            f"{max_pixels} (raise it with --max-pixels / max_pixels= if you trust this file)"
        )


def check_quality(codec: object, quality: int) -> None:
    """The header's quality must be one the codec's encoder writes (``writes_quality``)."""
    if not codec.writes_quality(quality):  # type: ignore[attr-defined]
        name = getattr(codec, "name", "?")
        what = codec.quality_description  # type: ignore[attr-defined]
        raise BitstreamError(f"corrupt .sgc header ({name} quality {quality} is not one this codec writes: {what})")
