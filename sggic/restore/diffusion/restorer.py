"""``DiffusionRestorer``: the paper's two diffusion passes behind the ``Restorer`` contract.

* ``restore(base, ctx)`` (pass 1): stage 1 (our offline restorer, default ``fitted``)
  removes the base codec's degradation and upscales 2x; stage 2 samples SD + ControlNet
  conditioned on it, prompted with ``"{description}, Hyper Detail, Masterpiece, 4K"``
  (negative ``"Blurry, Low Quality"``), ``ctx.steps`` steps at guidance ``ctx.guidance``
  (the spec's defaults when the header has no settings, ``ctx.steps == 0``), seeded by
  ``ctx.seed``; then the colour fix against the stage-1 image.
* ``refine(image, objects, ctx)`` (pass 2): *every* object (the reference code did only
  the first) at 1x, prompted with its detail, on the crop around its mask; the result is
  pasted back under the soft mask: ``out = img + m (refined - img)`` where ``m > 0`` and
  exactly ``img`` elsewhere. Objects are processed in order, each on the previous result;
  object ``k`` (from 0) is seeded with ``derive_seed(ctx.seed, k + 1)``.

``stage_times()`` gives per-stage seconds of the last ``restore``/``refine`` for
``decode -v``; ``notes()`` says what was done (e.g. which objects were refined).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from sggic.config import DEFAULT_CONFIG, RunConfig
from sggic.errors import InputError
from sggic.restore.base import RestoreContext, Restorer
from sggic.restore.tiling import as_rgb_u8

from ._deps import require_all
from .colorfix import colour_fix
from .models import DiffusionModels, check_folders, load_models
from .sampler import SampleRequest, sample, vae_decode, vae_encode
from .spec import DiffusionSpec

SEED_MIX = 1_000_003
PAD_MULTIPLE = 64  # image pixels: latents become multiples of 8, as the UNet's 3 downsamplings need


class ObjectLike(Protocol):
    """What ``refine`` reads from each object (``sggic.restore.base.ObjectMask`` has it)."""

    name: str
    detail: str
    mask: np.ndarray


def derive_seed(seed: int, k: int) -> int:
    """Seed of refinement ``k`` (>= 1) from the header's seed; pass 1 uses ``seed`` itself."""
    return (int(seed) + SEED_MIX * int(k)) % (2 ** 63)


class DiffusionRestorer(Restorer):
    """SD 2.1-base + IRControlNet (DiffBIR v2) on top of an offline stage-1 restorer."""

    name = "diffusion"
    uses_settings = True
    refines = True

    def __init__(self, spec: DiffusionSpec | None = None, config: RunConfig | None = None,
                 stage1: Restorer | None = None) -> None:
        self.spec = spec or DiffusionSpec()
        self.config = config or DEFAULT_CONFIG
        if self.spec.stage1 == self.name:
            raise InputError("diffusion: stage1 cannot be the diffusion restorer itself")
        self._stage1 = stage1
        self._models: DiffusionModels | None = None
        self._lock = threading.Lock()
        self._times: list[tuple[str, float]] = []
        self._notes: list[str] = []

    # -- construction and availability -------------------------------------------------
    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "DiffusionRestorer":
        """Read ``[diffusion]`` from ``config.models`` (the full profile's TOML registry)."""
        config = config or DEFAULT_CONFIG
        spec = DiffusionSpec.from_toml(config.models) if config.models is not None else DiffusionSpec()
        return cls(spec, config)

    def check_available(self) -> None:
        """BackendUnavailable / MissingWeights (one line) unless it can run; loads nothing."""
        require_all()
        check_folders(self.spec)
        self.stage1().check_available()

    def stage1(self) -> Restorer:
        if self._stage1 is None:
            from sggic.restore.registry import get_restorer

            self._stage1 = get_restorer(self.spec.stage1, self.config)
        return self._stage1

    def models(self) -> DiffusionModels:
        if self._models is None:
            t0 = time.perf_counter()
            self._models = load_models(self.spec, self.config.device)
            self._times.append(("load models", time.perf_counter() - t0))
        return self._models

    # -- feedback ----------------------------------------------------------------------
    def stage_times(self) -> list[tuple[str, float]]:
        """(stage, seconds) of the last ``restore`` and the ``refine`` after it."""
        return list(self._times)

    def notes(self) -> list[str]:
        return list(self._notes)

    def report_lines(self) -> list[str]:
        """Lines for ``decode -v``: which restorer, what it did, and per-stage seconds."""
        article = "an" if self.spec.control == "ir" else "a"
        head = (f"restorer: diffusion (stage 1 '{self.spec.stage1}' + SD with {article} {self.spec.control} "
                f"ControlNet, on {self.config.device})")
        return [head, *self._notes, *(f"  {name}: {sec:.2f} s" for name, sec in self._times)]

    @contextmanager
    def _timed(self, label: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._times.append((label, time.perf_counter() - t0))

    @contextmanager
    def _threads(self) -> Iterator[None]:
        import torch

        old = torch.get_num_threads()
        if self.config.threads is not None:
            torch.set_num_threads(self.config.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(old)

    # -- the contract ------------------------------------------------------------------
    def _prompt(self, text: str) -> str:
        """The paper's template; with no text, just its quality words (no leading comma)."""
        return self.spec.prompt_template.format(text=text.strip()).strip().lstrip(",").strip()

    def _settings(self, ctx: RestoreContext) -> tuple[int, float]:
        if ctx.steps and ctx.steps > 0:
            steps, guidance = int(ctx.steps), float(ctx.guidance)
        else:
            steps, guidance = self.spec.default_steps, self.spec.default_guidance
        return (self.spec.steps or steps), guidance

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        base = as_rgb_u8(base)
        with self._lock:
            self._times, self._notes = [], []
            require_all()
            with self._timed(f"stage 1 ({self.spec.stage1})"):
                first = self.stage1().restore(base, ctx)
            steps, guidance = self._settings(ctx)
            req = SampleRequest(self._prompt(ctx.prompt), self.spec.negative_prompt, steps, guidance, ctx.seed)
            with self._threads():
                out = self._run_pass(first, req, "pass 1")
            override = (f" (steps = {self.spec.steps} in [diffusion] overrides the settings' {ctx.steps})"
                        if self.spec.steps and ctx.steps and ctx.steps != self.spec.steps else "")
            self._notes.append(f"diffusion pass 1: {steps} steps{override}, guidance {guidance:g}, "
                               f"{self.spec.control} ControlNet, colour fix {self.spec.colour_fix}, "
                               f"prompt {req.prompt!r}, negative {req.negative!r}")
            return out

    def refine(self, image: np.ndarray, objects: Sequence[ObjectLike], ctx: RestoreContext) -> np.ndarray:
        image = as_rgb_u8(image)
        height, width = image.shape[:2]
        masks = []
        for obj in objects:
            m = np.asarray(obj.mask, dtype=np.float32)
            if m.shape != (height, width) or not np.all(np.isfinite(m)):
                raise InputError(f"mask of '{obj.name}' is {m.shape}, expected finite ({height}, {width})")
            masks.append(np.clip(m, 0.0, 1.0))
        steps, guidance = self._settings(ctx)
        if self.spec.refine_steps > 0:
            steps = self.spec.refine_steps
        if self.spec.refine_guidance >= 0:
            guidance = self.spec.refine_guidance
        out = image.copy()
        with self._lock:
            require_all()
            done = []
            with self._threads():
                for k, (obj, m) in enumerate(zip(objects, masks)):
                    if not np.any(m > 0):
                        self._notes.append(f"refine '{obj.name}': empty mask, skipped")
                        continue
                    req = SampleRequest(self._prompt(obj.detail.strip() or obj.name), self.spec.negative_prompt,
                                        steps, guidance, derive_seed(ctx.seed, k + 1))
                    out = self._refine_one(out, m, req, f"refine {k + 1} ({obj.name})")
                    done.append(obj.name)
            self._notes.append(f"per-object refinement applied to {len(done)} of {len(objects)} objects"
                               + (f": {', '.join(done)}" if done else ""))
        return out

    # -- internals ---------------------------------------------------------------------
    def _refine_one(self, image: np.ndarray, mask: np.ndarray, req: SampleRequest, label: str) -> np.ndarray:
        ys, xs = np.nonzero(mask > 0)
        r = self.spec.refine_margin
        y0, y1 = max(0, int(ys.min()) - r), min(image.shape[0], int(ys.max()) + 1 + r)
        x0, x1 = max(0, int(xs.min()) - r), min(image.shape[1], int(xs.max()) + 1 + r)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        refined = self._run_pass(crop, req, label).astype(np.float32)
        m = mask[y0:y1, x0:x1, None]
        src = crop.astype(np.float32)
        blended = np.clip(np.rint(src + m * (refined - src)), 0, 255).astype(np.uint8)
        out = image.copy()
        out[y0:y1, x0:x1] = np.where(m > 0, blended, crop)
        return out

    def _run_pass(self, image: np.ndarray, req: SampleRequest, label: str) -> np.ndarray:
        """One stage-2 run on ``image`` (uint8, any size) -> same size, colour-fixed."""
        import torch
        import torch.nn.functional as F

        spec = self.spec
        models = self.models()
        height, width = image.shape[:2]
        ref = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
        x = ref
        short = min(height, width)
        if spec.min_side and short < spec.min_side:
            s = spec.min_side / short
            x = F.interpolate(x, size=(round(height * s), round(width * s)), mode="bicubic",
                              align_corners=False, antialias=True).clamp(0, 1)
        h1, w1 = x.shape[2:]
        ph, pw = (-h1) % PAD_MULTIPLE, (-w1) % PAD_MULTIPLE
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        if models.control == "ir":  # DiffBIR: the hint is the stage-1 image's latent
            with self._timed(f"{label}: VAE encode"):
                hint = vae_encode(models, x, spec.vae_tile, spec.vae_overlap, spec.vae_context)
        else:  # a tile ControlNet reads the image itself, in [0, 1]
            hint = x
        with self._timed(f"{label}: sampling ({req.steps} steps)"):
            z = sample(models, hint, req, tile=spec.latent_tile, overlap=spec.latent_overlap,
                       control_scale=spec.control_scale, desc=f"diffusion {label}")
        with self._timed(f"{label}: VAE decode"):
            y = vae_decode(models, z, spec.vae_tile, spec.vae_overlap, spec.vae_context)[:, :, :h1, :w1]
        with self._timed(f"{label}: colour fix"):
            if (h1, w1) != (height, width):
                y = F.interpolate(y, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
            y = colour_fix(spec.colour_fix, y.clamp(0, 1), ref)
        return (y[0].permute(1, 2, 0) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()


def restorer_from_spec(spec: Any, config: RunConfig | None = None) -> DiffusionRestorer:
    """Convenience for scripts: a spec object or a TOML path."""
    if not isinstance(spec, DiffusionSpec):
        spec = DiffusionSpec.from_toml(spec)
    return DiffusionRestorer(spec, config)
