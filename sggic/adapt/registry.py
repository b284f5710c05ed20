"""Settings policies by name and by the frozen id that full-profile files record."""

from __future__ import annotations

from ..config import RunConfig
from ..registry import Entry, Registry
from .base import SettingsPolicy

POLICIES: Registry[Entry] = Registry("settings policy", (
    Entry("fixed", 1, "sggic.adapt.base:FixedSettings", "fixed 40 steps, guidance 4 (the 'w/o CAD' ablation)"),
    Entry("dyndiff", 2, "sggic.adapt.dyndiff:DynDiffPolicy",
          "DynDiff: two small MLPs on 11 image features pick steps and guidance"),
    Entry("adaptive", 3, "sggic.adapt.adaptive:AdaptivePolicy",
          "offline CAD: an MLP on 5 base-layer features picks the restorer's strength"),
))


def get_policy(name: str, config: RunConfig | None = None) -> SettingsPolicy:
    """Build the settings policy called ``name`` (InputError with a suggestion if unknown)."""
    pol: SettingsPolicy = POLICIES.load(name).from_config(config)
    return pol
