"""One small configuration object that flows from the CLI / API to every stage.

A stage's constructor takes a :class:`RunConfig` (or nothing, meaning the default): the
profile (which pinned set of components decodes a file), the device and thread count
models run with, and where the full profile's model registry (a TOML file) lives.
Nothing here reads the environment or touches the disk at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .errors import InputError

PROFILES = ("offline", "full")
DEFAULT_PROFILE = "offline"


@dataclass(frozen=True)
class RunConfig:
    """How the stages should run.

    * ``profile``: ``"offline"`` (CPU, models that ship in packages) or ``"full"`` (the
      paper's large models from the registry in ``models``).
    * ``device``: a torch device string for model-backed stages (``"cpu"``, ``"cuda"``,
      ``"cuda:1"``); stages without models ignore it.
    * ``threads``: intra-op threads for CPU inference; ``None`` lets each stage choose
      (the offline restorers use every core, capped at what the machine has).
    * ``models``: the model registry TOML of the full profile (``None``: built-in defaults).
    """

    profile: str = DEFAULT_PROFILE
    device: str = "cpu"
    threads: int | None = None
    models: Path | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise InputError(f"unknown profile {self.profile!r}; choose one of: {', '.join(PROFILES)}")
        if self.threads is not None and (not isinstance(self.threads, int) or isinstance(self.threads, bool)
                                         or self.threads < 1):
            raise InputError("threads must be a positive integer")
        if not isinstance(self.device, str) or not self.device:
            raise InputError("device must be a non-empty string such as 'cpu' or 'cuda'")
        if self.models is not None and not isinstance(self.models, Path):
            object.__setattr__(self, "models", Path(self.models))

    def with_(self, **changes: object) -> "RunConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


DEFAULT_CONFIG = RunConfig()
