"""The 2x restorer interface: base-layer pixels in, twice-as-large pixels out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RestoreContext:
    """What the decoder knows when it restores.

    codec_id/quality come from the .sgc header (the base codec and the quality rate
    control picked), prompt is the global description (may be empty), steps/guidance
    are the adaptive settings (diffusion restorers use them; others may ignore them),
    seed makes any sampling reproducible. strength is the perception/fidelity knob in
    [0, 1] for restorers that have one (None: the restorer's own default); a decode-time
    choice, never stored in the file.
    """

    codec_id: int = 0
    quality: int = 0
    prompt: str = ""
    steps: int = 0
    guidance: float = 0.0
    seed: int = 0
    strength: float | None = None


class Restorer(ABC):
    """Upscales a decoded base layer by exactly 2x.

    ``restore`` takes an ``(h, w, 3)`` uint8 RGB array and returns ``(2h, 2w, 3)`` uint8.
    Implementations must be deterministic and must bound their memory (tile large input).
    """

    name: str = "?"
    #: whether ``restore`` reads ``ctx.steps``/``ctx.guidance`` (diffusion restorers do)
    uses_settings: bool = False

    @abstractmethod
    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray: ...
