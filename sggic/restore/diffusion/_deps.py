"""Import the full profile's packages, or fail with one actionable line."""

from __future__ import annotations

import importlib
from types import ModuleType

from sggic.errors import BackendUnavailable

INSTALL_HINT = "pip install 'sggic[full]' (diffusers, transformers, accelerate)"


def require(name: str) -> ModuleType:
    """``importlib.import_module(name)``; BackendUnavailable (one line) if it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # includes a module set to None in sys.modules
        raise BackendUnavailable(
            f"the diffusion restorer needs the Python package '{name.split('.')[0]}' "
            f"({type(exc).__name__}); install it with: {INSTALL_HINT}"
        ) from None


def require_all() -> tuple[ModuleType, ModuleType, ModuleType]:
    """(torch, diffusers, transformers), each checked."""
    return require("torch"), require("diffusers"), require("transformers")
