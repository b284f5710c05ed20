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

SLOTS = ("sd21", "controlnet")  # issue 9 loads these; here only their presence is checked


@dataclass(frozen=True)
class Row:
    component: str
    status: str  # "ok", "missing"; slots of issue 9: "present" (found, not loaded), "slot" (not found)
    detail: str

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "present", "slot")


def _slot(reg: Registry, name: str) -> Row:
    comp = reg.get(name)
    if comp.path is not None and comp.path.exists():
        return Row(name, "present", f"local {comp.path} (slot for the diffusion restorer; not loaded here)")
    if comp.hub:
        try:
            from huggingface_hub import snapshot_download

            path = snapshot_download(comp.hub, revision=comp.revision, local_files_only=True)
            return Row(name, "present", f"hub cache {comp.hub} at {path} (slot; not loaded here)")
        except ImportError:
            return Row(name, "slot", "huggingface_hub is not installed; install the full profile")
        except Exception:  # noqa: BLE001 - any cache miss
            pass
    return Row(name, "slot", f"not here ({comp.where()}); {comp.how_to_get()}")


def check(config: RunConfig, registry: Registry) -> list[Row]:
    """One row per component (per level for cheng2020)."""
    reg = replace(registry, allow_download=False)
    rows: list[Row] = []
    for name in COMPONENTS:
        if name in SLOTS:
            rows.append(_slot(reg, name))
            continue
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
    return rows


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
