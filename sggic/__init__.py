"""sggic: semantics-guided generative image compression.

The public API is lazy so that importing :mod:`sggic` loads no model and starts no
process::

    import sggic
    data = sggic.encode("photo.jpg", bpp=0.03)      # -> bytes of a .sgc file
    image = sggic.decode(data)                       # -> PIL.Image.Image
    sem = sggic.describe("photo.jpg")                # -> Semantics, from the SGGIC_VLM_* VLM
    cfg = sggic.RunConfig(threads=1)                 # how the stages run (device, threads, ...)
    image = sggic.decode(data, config=cfg)
    sggic.encode_many(["photos/"], "photos-sgc/")    # a folder, over every core (or ray=ADDRESS)
    sggic.decode_many(["photos-sgc/"], "out/")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["encode", "decode", "info", "describe", "encode_many", "decode_many", "RunConfig", "Semantics",
           "SggicError", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .config import RunConfig
    from .errors import SggicError
    from .pipeline import decode, encode, info
    from .semantics.vlm import describe
    from .semantics.schema import Semantics
    from .batch import decode_many, encode_many


def __getattr__(name: str) -> Any:
    if name in ("encode", "decode", "info"):
        from . import pipeline

        return getattr(pipeline, name)
    if name in ("encode_many", "decode_many"):
        from . import batch

        return getattr(batch, name)
    if name == "describe":
        from .semantics.vlm import describe

        return describe
    if name == "Semantics":
        from .semantics.schema import Semantics

        return Semantics
    if name == "RunConfig":
        from .config import RunConfig

        return RunConfig
    if name == "SggicError":
        from .errors import SggicError

        return SggicError
    raise AttributeError(f"module 'sggic' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (what ``__all__`` lists), so ``dir(sggic)`` shows it without importing it."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
