"""The restorer contract: 2x restoration of the base layer, then per-object refinement.

A restorer does the decoder's last two stages (the paper's DiffBIR passes):

1. ``restore(base, ctx)``: the whole image, base-layer pixels in, twice-as-large out,
   guided by the global description (``ctx.prompt``).
2. ``refine(image, objects, ctx)``: every object at once, each with its detail text and
   its soft mask *at the size of* ``image`` (the decoder resizes the segmenter's masks
   bilinearly to the output size before calling). A restorer that cannot refine says so
   with ``refines = False`` and returns ``image`` unchanged, so the pipeline never probes
   for methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence, TypeVar

import numpy as np

from ..component import Component
from ..config import DEFAULT_CONFIG, RunConfig


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


@dataclass(frozen=True)
class ObjectMask:
    """One object to refine: its name, its detail text and its soft mask.

    ``mask`` is float32 in [0, 1] with exactly the (height, width) of the image being
    refined; it is used as a soft alpha (no threshold), as in the paper.
    """

    name: str
    detail: str
    mask: np.ndarray


class Restorer(Component, ABC):
    """Upscales a decoded base layer by exactly 2x, then optionally refines objects.

    ``restore`` takes an ``(h, w, 3)`` uint8 RGB array and returns ``(2h, 2w, 3)`` uint8.
    ``refine`` takes the (cropped) output, ``(H, W, 3)`` uint8, and every object with its
    ``(H, W)`` mask, and returns ``(H, W, 3)`` uint8 that may differ from the input only
    where some mask is > 0. Implementations must be deterministic and bound their memory
    (tile large input). Built by the registry as ``Cls.from_config(config)``.
    """

    name: str = "?"
    #: whether ``restore`` reads ``ctx.steps``/``ctx.guidance`` (diffusion restorers do)
    uses_settings: bool = False
    #: whether ``restore`` reads ``ctx.strength`` (a perception/fidelity knob in [0, 1])
    uses_strength: bool = False
    #: whether ``refine`` does anything (text-conditioned restorers do)
    refines: bool = False

    @abstractmethod
    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray: ...

    def refine(self, image: np.ndarray, objects: Sequence[ObjectMask], ctx: RestoreContext) -> np.ndarray:
        """Per-object refinement under soft masks; the default (``refines = False``) is none."""
        return image

    def report_lines(self) -> list[str]:
        """Extra lines for ``decode -v`` about the last restore/refine (what it did, per-stage
        times); none by default."""
        return []


T = TypeVar("T", bound="CPUThreadsRestorer")


class CPUThreadsRestorer(Restorer):
    """A restorer that always runs on the CPU and takes ``threads`` in its constructor:
    built with ``config.threads`` (default 2)."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = int(threads)

    @classmethod
    def from_config(cls: type[T], config: RunConfig | None = None) -> T:
        cfg = config or DEFAULT_CONFIG
        r = cls(threads=cfg.threads or 2)
        r.config = cfg
        return r
