"""``sggic models check``: does each component load here, from where, how to get it.

The check never downloads: it loads what is on this machine (local paths, the hub and
torch caches) and says for the rest where it would come from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..config import RunConfig
from ..errors import SggicError
from .registry import COMPONENTS, Registry


@dataclass(frozen=True)
class Row:
    component: str
    status: str  # "ok" (loads here) or "missing"
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check(config: RunConfig, registry: Registry) -> list[Row]:
    """One row per component (per level for cheng2020)."""
    reg = replace(registry, allow_download=False)
    rows: list[Row] = []
    for name in COMPONENTS:
        try:
            if name == "clipseg":
                from ..segment.clipseg import CLIPSegSegmenter

                info = CLIPSegSegmenter(config, registry=reg).load()
                rows.append(Row(name, "ok", f"{info.where} ({info.dtype} on {info.device})"))
            elif name == "clip":
                from ..segment.patchmap import CLIPPatchMapper

                info = CLIPPatchMapper(config, registry=reg).load()
                rows.append(Row(name, "ok", f"{info.where} ({info.dtype} on {info.device})"))
            elif name == "cheng2020":
                rows.extend(_check_levels(reg))
        except SggicError as e:
            rows.append(Row(name, "missing", str(e)))
    rows.append(_check_diffusion(config, reg))
    return rows


def _check_diffusion(config: RunConfig, reg: Registry) -> Row:
    """The restorer's folders load (SD parts and ControlNet) and its stage 1 can run."""
    name = "diffusion"
    try:
        from ..restore.diffusion.models import load_models
        from ..restore.diffusion.restorer import DiffusionRestorer
        from ..restore.diffusion.spec import DiffusionSpec
    except ImportError as e:
        return Row(name, "missing", f"Python package {e.name!r} is missing; install the full profile")
    if reg.diffusion is None:
        return Row(name, "missing", "no [diffusion] table: set base = SD 2.1-base folder and controlnet = "
                                    "folder (docs/full-profile.md)")
    try:
        root = reg.source.resolve().parent if reg.source is not None else None
        spec = DiffusionSpec.from_mapping(reg.diffusion, root=root)
        DiffusionRestorer(spec, config).check_available()
        models = load_models(spec, config.device)
        return Row(name, "ok", f"SD {spec.base}, {models.control} ControlNet {spec.controlnet}, "
                               f"stage 1 {spec.stage1} ({str(models.dtype).replace('torch.', '')} on {config.device})")
    except SggicError as e:
        return Row(name, "missing", str(e))


def _check_levels(reg: Registry) -> list[Row]:
    from ..codecs.cheng2020 import fingerprint, load_level

    rows = []
    for i, level in enumerate(reg.get("cheng2020").levels):
        label = f"cheng2020[{i}]"
        try:
            model, where = load_level(level, reg)
        except SggicError as e:
            rows.append(Row(label, "missing", str(e)))
            continue
        n = model.g_a[0].conv1.weight.shape[0] if hasattr(model.g_a[0], "conv1") else "?"
        lam = f", lambda {level.lmbda:g}" if level.lmbda is not None else ""
        rows.append(Row(label, "ok", f"{where} (N={n}{lam}, fingerprint {fingerprint(model)})"))
    return rows


def format_rows(rows: list[Row], source: str, models: Path | None) -> str:
    lines = [f"models: {source}" + ("" if models else " (pass --models FILE.toml to check another registry)")]
    width = max(len(r.component) for r in rows)
    for r in rows:
        lines.append(f"  {r.component:<{width}}  {r.status:<11} {r.detail}")
    return "\n".join(lines)
