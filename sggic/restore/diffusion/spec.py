"""What the diffusion restorer loads and how it runs: one frozen, validated record.

A :class:`DiffusionSpec` is read from a table of the full profile's model registry (TOML):

.. code-block:: toml

    [diffusion]
    base = "sd21-base"            # diffusers folder: unet/ vae/ text_encoder/ tokenizer/ scheduler/
    controlnet = "diffbir-v2-ir"  # made by: python -m sggic.restore.diffusion.convert v2.pth DIR
    control = "ir"                # "ir" (DiffBIR IRControlNet, latent hint) or
                                  # "tile" (a diffusers ControlNetModel fed the image, no conversion)
    stage1 = "fitted"             # our offline restorer removes the base codec's degradation

Relative paths are resolved against the TOML file's folder. Every other key has a default
(below) and is checked here, so a bad registry fails in one line before any model loads.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from sggic.errors import InputError

CONTROL_KINDS = ("ir", "tile")
DTYPES = ("auto", "float32", "float16", "bfloat16")
COLOUR_FIXES = ("wavelet", "adain", "none")
SCHEDULERS = ("ddim", "dpmpp", "euler", "config")

# The paper's prompts (paper-facts.md): "{summary}, Hyper Detail, Masterpiece, 4K" and
# "Blurry, Low Quality"; pass 2 uses each object's detail in place of the summary.
PROMPT_TEMPLATE = "{text}, Hyper Detail, Masterpiece, 4K"
NEGATIVE_PROMPT = "Blurry, Low Quality"


@dataclass(frozen=True)
class DiffusionSpec:
    """Where the weights are and the knobs of the two passes (all validated)."""

    base: Path | None = None
    controlnet: Path | None = None
    control: str = "ir"
    stage1: str = "fitted"
    dtype: str = "auto"  # auto: float16 on CUDA, float32 on CPU
    scheduler: str = "ddim"
    # Latent tiles (latent pixels; x8 for image pixels). DiffBIR's default is 512 px tiles
    # with 256 px stride, i.e. 64 latent px with 32 of overlap.
    latent_tile: int = 64
    latent_overlap: int = 32
    # VAE tiles in latent pixels (decoder output = x8); the overlap is blended and each
    # tile is run with ``vae_context`` latent pixels of real neighbours around it.
    vae_tile: int = 64
    vae_overlap: int = 8
    vae_context: int = 16
    colour_fix: str = "wavelet"
    control_scale: float = 1.0
    # SD 2.1-base works at >= 512 px: a smaller stage-1 image is upscaled for sampling and
    # the result resized back (as DiffBIR does). 0 switches this off (tests, tiny models).
    min_side: int = 512
    # Pass 1's sampler steps, overriding the settings stage (0: the settings stage's). For
    # smoke tests on tiny models and for CPUs; a file's output then differs from the
    # encoder's intent only in this number, which `decode -v` reports.
    steps: int = 0
    # Used when the header carries no adaptive settings (ctx.steps == 0): MISC's global pass.
    default_steps: int = 40
    default_guidance: float = 7.0
    # Pass 2 crops each object's mask box plus this margin (output pixels) before sampling.
    refine_margin: int = 32
    # Pass 2's schedule: 0 / a negative guidance mean "as pass 1" (the header's settings);
    # MISC's local passes used 3 steps at guidance 3.5.
    refine_steps: int = 0
    refine_guidance: float = -1.0
    prompt_template: str = PROMPT_TEMPLATE
    negative_prompt: str = NEGATIVE_PROMPT

    def __post_init__(self) -> None:
        for name, allowed in (("control", CONTROL_KINDS), ("dtype", DTYPES),
                              ("colour_fix", COLOUR_FIXES), ("scheduler", SCHEDULERS)):
            if getattr(self, name) not in allowed:
                raise InputError(f"diffusion: {name} must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, name)!r}")
        for name in ("latent_tile", "vae_tile", "default_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"diffusion: {name} must be a positive integer, got {value!r}")
        for name in ("latent_overlap", "vae_overlap", "vae_context", "min_side", "refine_margin", "refine_steps",
                     "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"diffusion: {name} must be an integer >= 0, got {value!r}")
        for name, tile in (("latent_overlap", self.latent_tile), ("vae_overlap", self.vae_tile)):
            if getattr(self, name) >= tile:
                raise InputError(f"diffusion: {name} must be smaller than its tile ({tile})")
        if "{text}" not in self.prompt_template:
            raise InputError("diffusion: prompt_template must contain '{text}'")
        for name in ("base", "controlnet"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    def with_(self, **changes: Any) -> "DiffusionSpec":
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], root: Path | None = None) -> "DiffusionSpec":
        """Build from a TOML table; relative ``base``/``controlnet`` resolve against ``root``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(f"diffusion: unknown key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        values = dict(table)
        for name in ("base", "controlnet"):
            if values.get(name) is not None:
                path = Path(str(values[name])).expanduser()
                values[name] = path if path.is_absolute() or root is None else root / path
        try:
            return cls(**values)
        except TypeError as exc:  # a wrong value type that the checks above did not catch
            raise InputError(f"diffusion: {exc}") from None

    @classmethod
    def from_toml(cls, path: Path, table: str = "diffusion") -> "DiffusionSpec":
        """Read ``[table]`` from the model registry at ``path``."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read model registry {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"model registry {path} is not valid TOML: {exc}") from None
        section = data.get(table)
        if not isinstance(section, dict):
            raise InputError(f"model registry {path} has no [{table}] table")
        return cls.from_mapping(section, root=path.resolve().parent)
