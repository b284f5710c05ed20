"""Running the static ffmpeg that imageio-ffmpeg ships, with timeouts and one-line errors.

Why a helper: every call must (a) never hang (timeout), (b) never leak a subprocess
traceback or ffmpeg's multi-line log to the user, (c) say which error class applies
(a bad payload is a BitstreamError, a missing binary is BackendUnavailable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from ..errors import BackendUnavailable, SggicError

TIMEOUT_S = 120.0
PINNED_IMAGEIO_FFMPEG = "0.8.1"  # pyproject.toml pins it: its parameter sets are part of the format
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")  # ffmpeg's "[vvc @ 0x55...] " context tags


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (looked up once, on first use, without running it).

    ``IMAGEIO_FFMPEG_EXE`` if set, else the static binary imageio-ffmpeg ships. Unlike
    ``imageio_ffmpeg.get_ffmpeg_exe()`` this does not run the binary to validate it (an
    extra process per sggic command): a binary that cannot run shows up as a failing
    call, which the codec then diagnoses (``vvc._check_backend``).
    """
    env = os.environ.get("IMAGEIO_FFMPEG_EXE")
    if env:
        return env
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailable("the vvc codec needs imageio-ffmpeg: pip install imageio-ffmpeg==0.8.1") from exc
    packaged = _packaged_exe()
    if packaged:
        return packaged
    try:  # no packaged binary: imageio-ffmpeg's own search (conda, PATH), which runs candidates
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailable(f"imageio-ffmpeg has no usable ffmpeg binary here ({exc})") from exc


def _packaged_exe() -> str | None:
    """The binary inside the imageio-ffmpeg package, if it is there and executable."""
    try:
        from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform
        from imageio_ffmpeg._utils import _get_bin_dir

        name = FNAME_PER_PLATFORM.get(get_platform(), "")
        exe = os.path.join(_get_bin_dir(), name) if name else ""
    except Exception:  # pragma: no cover - another imageio-ffmpeg layout
        return None
    return exe if exe and os.path.isfile(exe) and os.access(exe, os.X_OK) else None


def is_pinned_package() -> bool:
    """True when the binary is the one the pinned imageio-ffmpeg ships (known to have libvvenc
    and a VVC decoder, tests/test_codecs.py), so a codec need not ask it before use."""
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - depends on the install
        return False
    return imageio_ffmpeg.__version__ == PINNED_IMAGEIO_FFMPEG and ffmpeg_exe() == _packaged_exe()


def check_exe() -> None:
    """BackendUnavailable unless the ffmpeg binary exists and is executable (runs nothing)."""
    exe = ffmpeg_exe()
    found = shutil.which(exe)
    if not found:
        raise BackendUnavailable(f"cannot run ffmpeg ({exe} is missing or not executable); reinstall imageio-ffmpeg")


class FFmpegTimeout(BackendUnavailable):
    """An encode that did not finish in time: the machine is overloaded, not the setting refused."""


def run_ffmpeg(args: list[str], stdin: bytes, error: type[SggicError], what: str) -> bytes:
    """Run ffmpeg with ``args`` feeding ``stdin``; its stdout, or ``error("what: first log line")``."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostats", *args]
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        cls = FFmpegTimeout if issubclass(FFmpegTimeout, error) else error
        raise cls(f"{what}: ffmpeg did not finish within {TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise BackendUnavailable(f"cannot run ffmpeg ({exc.strerror or exc}); reinstall imageio-ffmpeg") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = _PREFIX.sub("", lines[0]) if lines else f"exit status {proc.returncode}"
        raise error(f"{what}: {detail[:200]}")
    return proc.stdout
