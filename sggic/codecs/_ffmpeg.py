"""Running the static ffmpeg that imageio-ffmpeg ships, with timeouts and one-line errors.

Why a helper: every call must (a) never hang (timeout), (b) never leak a subprocess
traceback or ffmpeg's multi-line log to the user, (c) say which error class applies
(a bad payload is a BitstreamError, a missing binary is BackendUnavailable).
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache

from ..errors import BackendUnavailable, SggicError

TIMEOUT_S = 120.0
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")  # ffmpeg's "[vvc @ 0x55...] " context tags


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's static binary (looked up once, on first use)."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailable("the vvc codec needs imageio-ffmpeg: pip install imageio-ffmpeg==0.8.1") from exc
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailable(f"imageio-ffmpeg has no usable ffmpeg binary here ({exc})") from exc


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
