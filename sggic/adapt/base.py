"""Content-adaptive settings: the decoder chooses restorer settings per image.

The paper's DynDiff extracts 11 features from the base reconstruction and lets two
small MLPs pick the diffusion steps and guidance scale (``dyndiff``, the full
profile's); offline, ``adaptive`` picks the strength of a restorer with a
perception/fidelity knob the same way. Restorers without knobs (bicubic, Real-ESRGAN,
fitted) are never given adapted settings; :class:`FixedSettings` is also the
``--fixed`` ablation ("w/o CAD": 40 steps, guidance 4, the restorer's default strength).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..component import Component
from ..semantics.schema import Semantics

# The paper's reference-code ranges: steps in [2, 80], guidance in [0, 10]; the ablation
# baseline without adaptation ("w/o CAD") uses 40 steps.
STEPS_RANGE = (2, 80)
GUIDANCE_RANGE = (0.0, 10.0)
FIXED_STEPS = 40
FIXED_GUIDANCE = 4.0


@dataclass(frozen=True)
class Settings:
    steps: int
    guidance: float
    source: str  # which policy chose them, for `decode --verbose` and the bench report
    strength: float | None = None  # perception/fidelity knob in [0, 1]; None: the restorer's default
    features: tuple[tuple[str, float], ...] = ()  # the features behind an adaptive choice

    def describe(self, restorer: str = "") -> str:
        """One line for ``decode -v`` and the bench report."""
        parts = [f"steps {self.steps}", f"guidance {self.guidance:g}"]
        parts.append("strength " + ("default" if self.strength is None else f"{self.strength:.3f}"))
        text = f"{self.source} ({', '.join(parts)})"
        if self.features:
            text += "; features " + ", ".join(f"{n} {v:.4g}" for n, v in self.features)
        return text


class SettingsPolicy(Component, ABC):
    """``choose(base, semantics, bpp) -> Settings`` with steps in STEPS_RANGE and guidance in
    GUIDANCE_RANGE; deterministic. Built as ``Cls.from_config(config)``."""

    name: str = "?"

    @abstractmethod
    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float, restorer: str = "") -> Settings:
        """``restorer``: the name of the restorer the settings are for (a policy may hold
        one model per restorer)."""


class FixedSettings(SettingsPolicy):
    name = "fixed"

    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float, restorer: str = "") -> Settings:
        return Settings(FIXED_STEPS, FIXED_GUIDANCE, self.name)
