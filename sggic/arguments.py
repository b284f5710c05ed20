"""Type checks for the public API's arguments, as one-line InputErrors.

Why: ``sggic.encode``/``decode``/``info`` are called from services with values that came
from a form or a JSON body. A wrong type must raise an :class:`~sggic.errors.SggicError`
naming the argument, not a TypeError from deep inside numpy or a RecursionError. ``bool``
is refused where a number is meant (``bpp=True`` is a bug, not 1.0 bpp).
"""

from __future__ import annotations

import math
import os
from typing import Any

from .errors import InputError


def _name(value: object) -> str:
    return type(value).__name__


def check_number(name: str, value: object) -> float:
    """A finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numpy as np

            if isinstance(value, np.floating | np.integer) and not isinstance(value, np.bool_):
                value = float(value)
            else:
                raise InputError(f"{name} must be a number, got {_name(value)}")
        except ImportError:  # pragma: no cover
            raise InputError(f"{name} must be a number, got {_name(value)}") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """An int in [lo, hi) (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, got {_name(value)}")
    if not lo <= value < hi:
        raise InputError(f"{name} must be an integer in [{lo}, {hi}), got {value}")
    return value


def check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {_name(value)}")
    return value


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be True or False, got {_name(value)}")
    return value


def check_semantics(value: object) -> Any:
    """None, a Semantics, or a plain dict in the JSON form (converted)."""
    from .semantics.schema import Semantics

    if value is None or isinstance(value, Semantics):
        return value
    if isinstance(value, dict):
        return Semantics.from_dict(value)
    raise InputError(f"semantics must be a Semantics, a dict or None, got {_name(value)}")


def check_source(value: object) -> None:
    """What ``decode``/``info`` read: bytes-like or a path (str / os.PathLike)."""
    if not isinstance(value, (bytes, bytearray, memoryview, str, os.PathLike)):
        raise InputError(f"data must be the bytes of a .sgc file or a path, got {_name(value)}")


def check_restorer(value: object) -> None:
    """None, a registered name, or an object with a ``restore`` method."""
    if value is None or isinstance(value, str):
        return
    if not callable(getattr(value, "restore", None)):
        raise InputError(f"restorer must be a name, a Restorer or None, got {_name(value)}")
