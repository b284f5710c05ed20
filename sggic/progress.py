"""Progress feedback on stderr for operations that take seconds.

Library code never prints: it calls :func:`step` at natural checkpoints (one rate-control
try, one restoration tile). Those calls do nothing unless a caller, normally the command
line, opened an :func:`activity` around the work; the activity shows a tqdm bar on stderr
only when stderr is a terminal (and the caller did not ask for quiet). The current
activity lives in a :class:`contextvars.ContextVar`, so threads and batch workers that did
not open one stay silent.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from typing import Any, Iterator

_current: contextvars.ContextVar["_Activity | None"] = contextvars.ContextVar("sggic_progress", default=None)


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Activity:
    """A tqdm bar whose elapsed time keeps ticking between steps (a 0.5 s refresher thread)."""

    def __init__(self, desc: str, unit: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.refresh()

    def step(self, n: int = 1, total: int | None = None, what: str | None = None) -> None:
        if total is not None and self.bar.total != total:
            self.bar.total = total
        if what is not None:
            self.bar.set_description_str(what, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.bar.close()


@contextlib.contextmanager
def activity(desc: str, unit: str = "step", enabled: bool | None = None) -> Iterator[Any]:
    """Show a progress bar for the work inside the block.

    ``enabled`` None means "when stderr is a terminal"; False turns it off (``-q``).
    """
    on = stderr_is_terminal() if enabled is None else enabled
    if not on:
        yield None
        return
    act = _Activity(desc, unit)
    token = _current.set(act)
    try:
        yield act
    finally:
        _current.reset(token)
        act.close()


def step(n: int = 1, total: int | None = None, what: str | None = None) -> None:
    """Report progress to the open activity, if any (otherwise nothing happens)."""
    act = _current.get()
    if act is not None:
        act.step(n, total, what)
