"""The stand-in for a restorer with a strength knob: ``fitted + s * (realesrgan - fitted)``.

The offline generative restorer (restorer id 4) distils exactly this per-pixel blend
(docs/restorer-generative.md; the frontier measurement that motivated it is in the
offline-assets notes). Until its weights are final, content-adaptive decoding is trained
and measured on the blend itself. It is **not** registered (it has no header id and no
file can name it): it exists for ``sggic train-adapt --restorer standin-blend``,
``scripts/eval_adapt.py`` and tests, and it is passed to the decoder as an instance.
Cost: both restorers run (Real-ESRGAN dominates: seconds per 512x512 image).
"""

from __future__ import annotations

import numpy as np

from ..config import DEFAULT_CONFIG, RunConfig
from ..restore.base import RestoreContext, Restorer

NAME = "standin-blend"
DEFAULT_STRENGTH = 0.5


def blend(faithful: np.ndarray, generative: np.ndarray, strength: float) -> np.ndarray:
    """``faithful + strength * (generative - faithful)``, rounded to uint8 (the one formula)."""
    a = faithful.astype(np.float32)
    out = a + np.float32(strength) * (generative.astype(np.float32) - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class BlendStandIn(Restorer):
    """Per-pixel blend of ``fitted`` (s = 0) and ``realesrgan`` (s = 1); ``ctx.strength``
    None means :data:`DEFAULT_STRENGTH`."""

    name = NAME
    uses_strength = True

    def __init__(self, config: RunConfig | None = None) -> None:
        from ..restore.registry import get_restorer

        self.config = config or DEFAULT_CONFIG
        self.faithful = get_restorer("fitted", config)
        self.generative = get_restorer("realesrgan", config)

    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "BlendStandIn":
        return cls(config)

    def check_available(self) -> None:
        self.faithful.check_available()
        self.generative.check_available()

    def ends(self, base: np.ndarray, ctx: RestoreContext) -> tuple[np.ndarray, np.ndarray]:
        """Both ends at once (label computation blends them for any strength)."""
        return self.faithful.restore(base, ctx), self.generative.restore(base, ctx)

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        s = DEFAULT_STRENGTH if ctx.strength is None else float(ctx.strength)
        a, b = self.ends(base, ctx)
        return blend(a, b, s)
