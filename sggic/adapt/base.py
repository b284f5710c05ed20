"""Content-adaptive settings: the decoder chooses restorer settings per image.

The paper's DynDiff extracts 11 features from the base reconstruction and lets two
small MLPs pick the diffusion steps and guidance scale. Restorers without such knobs
(bicubic, Real-ESRGAN, fitted) take :class:`FixedSettings`, which is also the
``--fixed`` ablation.
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


class SettingsPolicy(Component, ABC):
    """``choose(base, semantics, bpp) -> Settings`` with steps in STEPS_RANGE and guidance in
    GUIDANCE_RANGE; deterministic. Built as ``Cls.from_config(config)``."""

    name: str = "?"

    @abstractmethod
    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float) -> Settings: ...


class FixedSettings(SettingsPolicy):
    name = "fixed"

    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float) -> Settings:
        return Settings(FIXED_STEPS, FIXED_GUIDANCE, self.name)
