"""Restorers by name and by the frozen integer id that .sgc headers record.

Ids are written into files, so they are frozen here (and in docs/format.md): never
reuse or renumber one. Implementations are named by ``"module:attribute"`` and imported
only when asked for, so listing restorers or reading a header never loads a network or a
heavy dependency. Adding a restorer is one line in ``_ENTRIES``.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any

from sggic.errors import BackendUnavailable, BitstreamError, InputError
from sggic.restore.base import Restorer


@dataclass(frozen=True)
class RestorerInfo:
    """A registered restorer: public name, frozen header id, where it lives, one-line summary."""

    name: str
    restorer_id: int
    target: str
    summary: str


_ENTRIES: tuple[RestorerInfo, ...] = (
    RestorerInfo("bicubic", 1, "sggic.restore.bicubic:BicubicRestorer", "Pillow bicubic 2x; no weights"),
    RestorerInfo("realesrgan", 2, "sggic.restore.realesrgan:RealESRGANRestorer",
                 "Real-ESRGAN x4plus (ncnn, CPU) then LANCZOS to 2x"),
    RestorerInfo("fitted", 3, "sggic.restore.fitted:FittedRestorer",
                 "compact CNN fitted to the VVC base, qp-conditioned (torch, CPU); bicubic for other codecs"),
    RestorerInfo("generative", 4, "sggic.restore.generative:GenerativeRestorer",
                 "compact CNN distilled from Real-ESRGAN on VVC bases, qp- and strength-conditioned (ncnn, CPU)"),
)

# Ids promised to work that is not in this version yet; never hand them to anything else.
RESERVED_IDS: dict[int, str] = {}

# What header id 0 ("the decoder's default") means.
DEFAULT_RESTORER = "generative"  # fitted's fidelity plus Real-ESRGAN-like texture, fast (docs/restorer-generative.md)

_BY_NAME: dict[str, RestorerInfo] = {e.name: e for e in _ENTRIES}
_BY_ID: dict[int, RestorerInfo] = {e.restorer_id: e for e in _ENTRIES}
if len(_BY_NAME) != len(_ENTRIES) or len(_BY_ID) != len(_ENTRIES) or 0 in _BY_ID:
    raise RuntimeError("restorer registry: duplicate name or id, or id 0 used")  # pragma: no cover

RESTORER_NAMES: tuple[str, ...] = tuple(e.name for e in _ENTRIES)


def restorer_info(name: str) -> RestorerInfo:
    """Look a name up, or raise InputError that suggests the closest known name."""
    info = _BY_NAME.get(name)
    if info is not None:
        return info
    close = difflib.get_close_matches(str(name).lower(), RESTORER_NAMES, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if name in RESERVED_IDS.values():
        hint = " (reserved, not in this version of sggic)"
    raise InputError(f"unknown restorer '{name}'{hint} (known: {', '.join(RESTORER_NAMES)})")


def restorer_id(name: str) -> int:
    """The frozen header id for ``name`` (InputError on an unknown name)."""
    return restorer_info(name).restorer_id


def restorer_name(rid: int) -> str:
    """A display name for a header id; never raises, so ``info`` works on any file."""
    if rid == 0:
        return DEFAULT_RESTORER
    if rid in _BY_ID:
        return _BY_ID[rid].name
    if rid in RESERVED_IDS:
        return RESERVED_IDS[rid]
    return f"unknown-{rid}"


def get_restorer(name: str, **kwargs: Any) -> Restorer:
    """Build the restorer called ``name``; ``kwargs`` go to its constructor.

    Construction is cheap: restorers load their weights lazily on first use.
    """
    info = restorer_info(name)
    module_name, _, attr = info.target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(**kwargs)


def restorer_by_id(rid: int, **kwargs: Any) -> Restorer:
    """Build the restorer a header names: 0 is the default, reserved/unknown ids fail."""
    if rid == 0:
        return get_restorer(DEFAULT_RESTORER, **kwargs)
    if rid in _BY_ID:
        return get_restorer(_BY_ID[rid].name, **kwargs)
    if rid in RESERVED_IDS:
        raise BackendUnavailable(
            f"this file asks for restorer '{RESERVED_IDS[rid]}' (id {rid}), which this version "
            f"of sggic does not have; decode with --restorer {DEFAULT_RESTORER} or bicubic"
        )
    raise BitstreamError(f"unknown restorer id {rid} in the file header")
