"""Loading a Hugging Face component: local folder first, then the hub cache, then the hub.

The network is used only when :meth:`Registry.downloads_allowed` says so; otherwise the
hub is asked with ``local_files_only=True``, which never opens a connection. Whatever
goes wrong ends as one :class:`MissingWeights` (weights absent) or
:class:`BackendUnavailable` (packages absent, files broken) line naming the component.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

from ..config import DEFAULT_CONFIG, RunConfig
from ..errors import BackendUnavailable, MissingWeights
from .registry import Component, Registry, load_registry

T = TypeVar("T")

FULL_EXTRA_HINT = "install the full profile: pip install 'sggic[full]' (docs/full-profile.md)"


@dataclass(frozen=True)
class Loaded:
    """What a loader returns besides the objects: where they came from, on which device."""

    where: str
    device: str
    dtype: str


def require(module: str, component: str) -> Any:
    """Import an optional package of the full profile, or one actionable line."""
    try:
        with warnings.catch_warnings():  # e.g. compressai's torch.jit deprecation notice
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(f"{component}: Python package {module!r} is missing ({e.msg}); "
                                 f"{FULL_EXTRA_HINT}") from None


def registry_for(config: RunConfig | None) -> Registry:
    return load_registry((config or DEFAULT_CONFIG).models)


def device_for(comp: Component, config: RunConfig | None) -> str:
    return comp.device or (config or DEFAULT_CONFIG).device


def torch_dtype(name: str) -> Any:
    torch = require("torch", "torch")
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or info chatter from transformers while loading."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:  # pragma: no cover - require() ran before
        yield
        return
    level = tlog.get_verbosity()
    bars = tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch intra-op threads set to ``n`` for the block (unchanged for ``None``), then restored."""
    if n is None:
        yield
        return
    torch = require("torch", "torch")
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def load_pretrained(comp: Component, reg: Registry, load: Callable[[str, dict[str, Any]], T]) -> tuple[T, str]:
    """``load(name_or_path, kwargs)`` from the first source that has the weights.

    Returns the loaded object and where it came from. ``load`` is e.g.
    ``lambda src, kw: Model.from_pretrained(src, **kw)``.
    """
    if comp.path is not None:
        if comp.path.exists():
            try:
                return load(str(comp.path), {"local_files_only": True}), f"local {comp.path}"
            except (OSError, ValueError, KeyError, RuntimeError) as e:
                raise MissingWeights(f"{comp.name}: {comp.path} does not hold a loadable model "
                                     f"({_first_line(e)}); {comp.how_to_get()}") from None
        if not comp.hub:
            raise MissingWeights(f"{comp.name}: {comp.path} does not exist; {comp.how_to_get()}")
    if not comp.hub:
        raise MissingWeights(f"{comp.name}: no weights configured; {comp.how_to_get()}")
    kw: dict[str, Any] = {"revision": comp.revision} if comp.revision else {}
    try:
        return load(comp.hub, {**kw, "local_files_only": True}), f"hub cache {comp.hub}"
    except (OSError, ValueError) as e:
        cache_error = e
    if not reg.downloads_allowed():
        raise MissingWeights(f"{comp.name}: {comp.hub} is not in the local hub cache and downloads are off; "
                             f"{comp.how_to_get()}") from None
    try:
        return load(comp.hub, kw), f"downloaded {comp.hub}"
    except (OSError, ValueError) as e:
        raise MissingWeights(f"{comp.name}: could not get {comp.hub} ({_first_line(e)}; cache: "
                             f"{_first_line(cache_error)}); {comp.how_to_get()}") from None


def load_model_and_processor(name: str, config: RunConfig | None, registry: Registry | None,
                             model_class: Any, processor_class: Any) -> tuple[Any, Any, Loaded]:
    """A transformers model (eval mode, on its device, in its dtype) and its processor, both
    from component ``name``'s weights (:func:`load_pretrained`'s order of sources)."""
    reg = registry or registry_for(config)
    comp = reg.get(name)
    device = device_for(comp, config)
    dtype = torch_dtype(comp.dtype)
    with quiet_transformers():
        model, where = load_pretrained(comp, reg, lambda src, kw: model_class.from_pretrained(src, dtype=dtype, **kw))
        processor, _ = load_pretrained(comp, reg, lambda src, kw: processor_class.from_pretrained(src, **kw))
    return model.to(device).eval(), processor, Loaded(where=where, device=device, dtype=comp.dtype)


def check_source(reg: Registry, name: str) -> None:
    """MissingWeights (one line naming the component) unless a local folder, the hub cache
    or an allowed download can provide ``name``'s weights; loads nothing."""
    comp = reg.get(name)
    if comp.path is not None:
        if comp.path.exists():
            return
        if not comp.hub:
            raise MissingWeights(f"{name}: {comp.path} does not exist; {comp.how_to_get()}")
    if not comp.hub:
        raise MissingWeights(f"{name}: no weights configured; {comp.how_to_get()}")
    if reg.downloads_allowed():
        return
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return
    found = try_to_load_from_cache(comp.hub, "config.json", revision=comp.revision)
    if not isinstance(found, str):
        raise MissingWeights(f"{name}: {comp.hub} is not in the local hub cache and downloads are off; "
                             f"{comp.how_to_get()}")
