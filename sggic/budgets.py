"""Byte budgets given by the user: ``--bytes N``, and rates printed so they can be reused."""

from __future__ import annotations

import math

from .errors import InputError


def check_target_bytes(n: object) -> int:
    """A whole-file byte budget given directly (``--bytes`` / ``target_bytes=``)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"--bytes must be a positive integer, got {n!r}")
    return n


def bpp_at_least(size: int, pixels: int) -> str:
    """``size`` bytes as a bpp text rounded UP, so that ``--bpp TEXT`` gives a budget >= ``size``.

    Rounding to nearest (``0.0123`` for 0.01234) would print a rate whose budget is one
    byte short of the smallest file: copying the number from the error message back into
    ``--bpp`` would fail again.
    """
    for digits in (4, 5, 6, 8):
        text = f"{math.ceil(size * 8 / pixels * 10**digits) / 10**digits:.{digits}f}"
        if math.floor(float(text) * pixels / 8.0) >= size:  # the rule of ratecontrol.budget_bytes
            return text
    return repr(size * 8 / pixels)  # pragma: no cover
