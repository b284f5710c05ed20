"""The full profile's model registry: which weights each component loads, from where.

One TOML file names every component. Each component table takes:

* ``path``: a local folder (Hugging Face layout) or checkpoint file, relative to the
  TOML file's folder; tried first.
* ``hub``: a Hugging Face hub id and ``revision``: used from the local hub cache, and
  downloaded only when downloads are allowed (see :func:`downloads_allowed`).
* ``dtype`` (``float32``, ``float16``, ``bfloat16``) and ``device`` (a torch device;
  empty: the :class:`sggic.config.RunConfig` device).

The diffusion restorer's table ``[diffusion]`` (SD folder, ControlNet folder, sampler
knobs) is validated here by :class:`sggic.restore.diffusion.spec.DiffusionSpec` and read
by the restorer itself (docs/full-profile.md).

The base codec ``cheng2020`` instead lists ``levels``: one checkpoint per entry, smallest
files first; the quality number a .sgc header records for this codec is the index into
this list. A level is a local checkpoint (``path``) or one of CompressAI's pretrained
models (``zoo_quality`` 1-6, fetched by URL into torch's hub cache), with its training
``lambda`` for reference.

Built-in defaults (no TOML) are the paper's checkpoints. Nothing here imports torch or
touches the network; reading a TOML only parses it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError

DTYPES = ("float32", "float16", "bfloat16")

# What each component is, for messages and `sggic models check`.
COMPONENTS: dict[str, str] = {
    "clipseg": "decoder-side segmenter (CLIPSeg, transformers CLIPSegForImageSegmentation)",
    "clip": "CLIP ViT-B/16 for the encoder-side 8x8 patch maps (the 'w/o CLIPSeg' ablation)",
    "cheng2020": "base-layer codec (CompressAI Cheng2020Attention)",
}
# The restorer's table: local folders only (SD 2.1-base in diffusers layout, the converted
# IRControlNet or a diffusers tile ControlNet), see sggic/restore/diffusion/spec.py.
DIFFUSION_TABLE = "diffusion"

# CompressAI's stock cheng2020-attn (MSE) lambdas by zoo quality; quality 1-3 use N=128,
# 4-6 use N=192 (CompressAI documentation / compressai.zoo.image.cfgs).
ZOO_LAMBDAS = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483}

ENV_ALLOW_DOWNLOAD = "SGGIC_ALLOW_DOWNLOAD"


@dataclass(frozen=True)
class Level:
    """One Cheng2020 checkpoint: a local file or a CompressAI zoo quality."""

    path: Path | None = None
    zoo_quality: int | None = None
    lmbda: float | None = None

    def describe(self) -> str:
        lam = f", lambda {self.lmbda:g}" if self.lmbda is not None else ""
        if self.path is not None:
            return f"{self.path}{lam}"
        return f"CompressAI zoo cheng2020-attn quality {self.zoo_quality}{lam}"


@dataclass(frozen=True)
class Component:
    """Where one component's weights come from and how it runs."""

    name: str
    path: Path | None = None
    hub: str | None = None
    revision: str | None = None
    dtype: str = "float32"
    device: str | None = None
    levels: tuple[Level, ...] = ()

    def where(self) -> str:
        """The sources in the order they are tried, for messages."""
        parts = []
        if self.path is not None:
            parts.append(f"local {self.path}")
        if self.hub:
            parts.append(f"hub {self.hub}" + (f"@{self.revision}" if self.revision else ""))
        for lv in self.levels:
            parts.append(lv.describe())
        return "; ".join(parts) or "nowhere (no path or hub set)"

    def how_to_get(self) -> str:
        """One sentence: how a user gets these weights onto this machine."""
        if self.levels:
            return ("download CompressAI's pretrained cheng2020-attn by allowing downloads "
                    f"({ENV_ALLOW_DOWNLOAD}=1), fine-tune one with `sggic models finetune-cheng2020`, "
                    "or list local checkpoints under [cheng2020] levels in the models TOML")
        if self.hub:
            rev = f" --revision {self.revision}" if self.revision else ""
            return (f"run `hf download {self.hub}{rev}` (or allow downloads with "
                    f"{ENV_ALLOW_DOWNLOAD}=1), or set path = \"FOLDER\" for [{self.name}] in the models TOML")
        return f"set path = \"FOLDER\" (or hub = \"owner/name\") for [{self.name}] in the models TOML"


def _default_components() -> dict[str, Component]:
    return {
        "clipseg": Component("clipseg", hub="CIDAS/clipseg-rd64-refined"),
        "clip": Component("clip", hub="openai/clip-vit-base-patch16"),
        "cheng2020": Component("cheng2020", levels=tuple(
            Level(zoo_quality=q, lmbda=lam) for q, lam in sorted(ZOO_LAMBDAS.items()))),
    }


@dataclass(frozen=True)
class Registry:
    """Every component of the full profile; ``source`` says which TOML (or the defaults)."""

    components: Mapping[str, Component]
    allow_download: bool = False
    source: Path | None = None
    diffusion: Mapping[str, Any] | None = None  # the [diffusion] table as written (None: absent)

    def get(self, name: str) -> Component:
        if name not in self.components:
            raise InputError(f"unknown model component {name!r}; known: {', '.join(COMPONENTS)}")
        return self.components[name]

    def downloads_allowed(self) -> bool:
        return downloads_allowed(self.allow_download)

    def label(self) -> str:
        return str(self.source) if self.source else "built-in defaults"


def downloads_allowed(setting: bool = False) -> bool:
    """Hub ids and zoo URLs may be fetched only when the user asked for it.

    Asked = ``allow_download = true`` in the TOML or ``SGGIC_ALLOW_DOWNLOAD=1``; both are
    overridden by ``HF_HUB_OFFLINE=1`` (the Hugging Face convention), so an offline
    machine never waits on the network.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    env = os.environ.get(ENV_ALLOW_DOWNLOAD, "").strip().lower()
    return setting or env in ("1", "true", "yes", "on")


def default_registry() -> Registry:
    return Registry(_default_components())


def load_registry(path: Path | str | None) -> Registry:
    """The registry in ``path`` (a TOML file), or the built-in defaults for ``None``.

    Components the file leaves out keep their defaults; unknown tables or keys are an
    :class:`InputError` (a typo must not silently fall back to a download).
    """
    if path is None:
        return default_registry()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"models file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read models file {p}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"models file {p} is not valid TOML: {e}") from None
    return parse_registry(data, base=p.resolve().parent, source=p)


def parse_registry(data: Mapping[str, Any], base: Path, source: Path | None = None) -> Registry:
    comps = _default_components()
    allow = False
    diffusion = None
    for key, value in data.items():
        if key == "settings":
            allow = _settings(value, source)
        elif key == DIFFUSION_TABLE:
            from ..restore.diffusion.spec import DiffusionSpec

            if not isinstance(value, Mapping):
                raise InputError(f"{_where(source)}[{key}] must be a table")
            try:
                DiffusionSpec.from_mapping(value, root=base)
            except InputError as e:
                raise InputError(f"{_where(source)}{e}") from None
            diffusion = dict(value)
        elif key in COMPONENTS:
            if not isinstance(value, Mapping):
                raise InputError(f"{_where(source)}[{key}] must be a table")
            comps[key] = _component(key, value, base, source)
        else:
            raise InputError(f"{_where(source)}unknown table [{key}]; known: settings, "
                             f"{', '.join(COMPONENTS)}, {DIFFUSION_TABLE}")
    return Registry(comps, allow_download=allow, source=source, diffusion=diffusion)


def _where(source: Path | None) -> str:
    return f"{source}: " if source else ""


def _settings(value: Any, source: Path | None) -> bool:
    if not isinstance(value, Mapping) or set(value) - {"allow_download"}:
        raise InputError(f"{_where(source)}[settings] takes only allow_download = true|false")
    allow = value.get("allow_download", False)
    if not isinstance(allow, bool):
        raise InputError(f"{_where(source)}allow_download must be true or false")
    return allow


def _str(value: Any, what: str, source: Path | None) -> str:
    if not isinstance(value, str):
        raise InputError(f"{_where(source)}{what} must be a string")
    return value


def _local(value: Any, what: str, base: Path, source: Path | None) -> Path:
    text = _str(value, what, source)
    if not text:
        raise InputError(f"{_where(source)}{what} is empty")
    p = Path(os.path.expanduser(text))
    return p if p.is_absolute() else base / p


def _component(name: str, table: Mapping[str, Any], base: Path, source: Path | None) -> Component:
    allowed = {"path", "hub", "revision", "dtype", "device"} | ({"levels"} if name == "cheng2020" else set())
    extra = set(table) - allowed
    if extra:
        raise InputError(f"{_where(source)}[{name}] has unknown key(s) {', '.join(sorted(extra))}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    c = Component(name)
    if name == "cheng2020" and ("path" in table or "hub" in table):
        raise InputError(f"{_where(source)}[cheng2020] lists its checkpoints under levels, not path/hub")
    if "path" in table:
        c = replace(c, path=_local(table["path"], f"[{name}] path", base, source))
    if "hub" in table:
        hub = _str(table["hub"], f"[{name}] hub", source)
        if hub and hub.count("/") != 1:
            raise InputError(f"{_where(source)}[{name}] hub must look like 'owner/name', got {hub!r}")
        c = replace(c, hub=hub or None)
    if "revision" in table:
        c = replace(c, revision=_str(table["revision"], f"[{name}] revision", source) or None)
    if "dtype" in table:
        dtype = _str(table["dtype"], f"[{name}] dtype", source)
        if dtype not in DTYPES:
            raise InputError(f"{_where(source)}[{name}] dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        c = replace(c, dtype=dtype)
    if "device" in table:
        c = replace(c, device=_str(table["device"], f"[{name}] device", source) or None)
    if name == "cheng2020":
        if c.dtype != "float32":
            raise InputError(f"{_where(source)}[cheng2020] must run in float32 (entropy coding needs "
                             "bit-exact probabilities)")
        c = replace(c, levels=_levels(table.get("levels"), base, source) if "levels" in table
                    else _default_components()["cheng2020"].levels)
    return c


def _levels(value: Any, base: Path, source: Path | None) -> tuple[Level, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{_where(source)}[cheng2020] levels must be a non-empty list of tables")
    out = []
    for i, item in enumerate(value):
        what = f"[cheng2020] levels[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"path", "zoo_quality", "lambda"}:
            raise InputError(f"{_where(source)}{what} must be a table with path or zoo_quality (and lambda)")
        if ("path" in item) == ("zoo_quality" in item):
            raise InputError(f"{_where(source)}{what} needs exactly one of path, zoo_quality")
        lam = item.get("lambda")
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or lam <= 0):
            raise InputError(f"{_where(source)}{what} lambda must be a positive number")
        if "path" in item:
            out.append(Level(path=_local(item["path"], f"{what} path", base, source),
                             lmbda=None if lam is None else float(lam)))
        else:
            q = item["zoo_quality"]
            if isinstance(q, bool) or q not in ZOO_LAMBDAS:
                raise InputError(f"{_where(source)}{what} zoo_quality must be 1..6, got {q!r}")
            out.append(Level(zoo_quality=q, lmbda=ZOO_LAMBDAS[q] if lam is None else float(lam)))
    if len(out) > 64:
        raise InputError(f"{_where(source)}[cheng2020] has more than 64 levels")
    return tuple(out)


def render_toml(reg: Registry, base: Path) -> str:
    """The registry as TOML text, paths relative to ``base`` where they lie inside it."""

    def rel(p: Path) -> str:
        try:
            return p.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# sggic model registry (docs/full-profile.md)",
             "[settings]", f"allow_download = {'true' if reg.allow_download else 'false'}", ""]
    for name in COMPONENTS:
        c = reg.components[name]
        lines.append(f"[{name}]")
        if c.path is not None:
            lines.append(f"path = {q(rel(c.path))}")
        if c.hub:
            lines.append(f"hub = {q(c.hub)}")
        if c.revision:
            lines.append(f"revision = {q(c.revision)}")
        if name != "cheng2020":
            lines.append(f"dtype = {q(c.dtype)}")
        if c.device:
            lines.append(f"device = {q(c.device)}")
        if c.levels:
            lines.append("levels = [")
            for lv in c.levels:
                src = f"path = {q(rel(lv.path))}" if lv.path is not None else f"zoo_quality = {lv.zoo_quality}"
                lam = f", lambda = {lv.lmbda!r}" if lv.lmbda is not None else ""
                lines.append(f"  {{ {src}{lam} }},")
            lines.append("]")
        lines.append("")
    if reg.diffusion is not None:
        lines.append(f"[{DIFFUSION_TABLE}]  # the diffusion restorer (sggic/restore/diffusion/spec.py)")
        for key, value in reg.diffusion.items():
            if isinstance(value, Path):
                value = rel(value)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, float)):
                text = repr(value)
            else:
                text = q(str(value))
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)


__all__ = ["COMPONENTS", "Component", "Level", "Registry", "default_registry", "downloads_allowed",
           "load_registry", "parse_registry", "render_toml", "ZOO_LAMBDAS"]
