"""What every stage's component has in common: a name, a configuration, one availability check.

Codecs, segmenters, settings policies and restorers all derive from :class:`Component`
(metrics have the same ``check_available``), so the pipeline, the benchmark and the
contract tests ask every stage "can you run here?" the same way, and every stage is
built from the one :class:`~sggic.config.RunConfig` the CLI or API was given.
"""

from __future__ import annotations

from typing import TypeVar

from .config import DEFAULT_CONFIG, RunConfig

C = TypeVar("C", bound="Component")


class Component:
    """Base of every stage implementation.

    * ``name``: the registry name.
    * ``config``: the :class:`RunConfig` it was built with (device, threads, models).
    * ``weights_version``: which weights it runs, as a small integer recorded by
      non-offline files (0: no weights, or weights pinned by the component's own id).
    * ``check_available()``: return None when it can run here, else raise
      :class:`~sggic.errors.BackendUnavailable` (or :class:`~sggic.errors.MissingWeights`)
      whose one-line message says what to install or pass. Cheap: it may import a backend
      or look for a file, but never runs a model or downloads anything.
    """

    name: str = "?"
    config: RunConfig = DEFAULT_CONFIG
    weights_version: int = 0

    @classmethod
    def from_config(cls: type[C], config: RunConfig | None = None) -> C:
        """Build with ``config`` (None: the defaults). Components that take device,
        threads or a model folder override this; the default calls ``cls()``."""
        obj = cls()
        obj.config = config or DEFAULT_CONFIG
        return obj

    def check_available(self) -> None:
        """None when this component can run here; BackendUnavailable (one line) otherwise."""
        return None
