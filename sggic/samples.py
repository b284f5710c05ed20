"""Sample photos that pip packages install, for demos and tests (none are shipped here)."""

from __future__ import annotations

from importlib import util
from pathlib import Path

from .errors import InputError

# name -> (package, file inside the package)
SAMPLES: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
}


def sample_path(name: str) -> Path:
    """Where an installed package keeps the sample photo ``name``."""
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}")
    package, rel = SAMPLES[name]
    spec = util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"sample {name!r} needs the Python package {package!r} (pip install it)")
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.is_file():
        raise InputError(f"sample {name!r} not found at {path}")
    return path
