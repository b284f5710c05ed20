"""``adaptive``: the offline profile's content-adaptive settings (the paper's CAD, offline).

For a restorer with a perception/fidelity knob (``Restorer.uses_strength``), one MLP of
the paper's shape predicts the strength from the offline features of the decoded base
(:data:`sggic.adapt.features.OFFLINE_FEATURES`). Models are per restorer: the shipped
file ``sggic/weights/adapt-<restorer>.safetensors`` (``sggic train-adapt`` makes it).
Steps and guidance stay at the fixed values: no offline restorer has them.

Why only one offline MLP: the offline restorers' only setting that changes their output
is the strength (the qp they also read comes from the header, not from a choice).

A restorer with a knob but no model here, or a base too small for the features (NIQE
needs 96x96, i.e. images of at least 192x192), decodes with the fixed settings, and the
choice says so (``source``) and the decoder warns; it is never silently adapted with a
model trained for another restorer or with other features.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MissingWeights
from ..semantics.schema import Semantics
from .base import FIXED_GUIDANCE, FIXED_STEPS, Settings, SettingsPolicy
from .features import OFFLINE_FEATURES, FeatureExtractor, FeatureInput, min_base_side
from .mlp import AdaptModel, load_model

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def model_path(restorer: str) -> Path:
    return WEIGHTS_DIR / f"adapt-{restorer}.safetensors"


@lru_cache(maxsize=8)
def _cached_model(path: str, mtime: float) -> AdaptModel:
    return load_model(path)


def shipped_model(restorer: str) -> AdaptModel | None:
    p = model_path(restorer)
    if not p.is_file():
        return None
    return _cached_model(str(p), p.stat().st_mtime)


class AdaptivePolicy(SettingsPolicy):
    name = "adaptive"

    def __init__(self, models: dict[str, AdaptModel] | None = None) -> None:
        self._models = dict(models or {})  # restorer name -> model (tests; else the shipped files)

    def model_for(self, restorer: str) -> AdaptModel | None:
        return self._models.get(restorer) or shipped_model(restorer)

    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float, restorer: str = "") -> Settings:
        model = self.model_for(restorer)
        if model is None:
            return Settings(FIXED_STEPS, FIXED_GUIDANCE, f"fixed (no adaptive model for '{restorer}')")
        if "strength" not in model.heads:
            raise MissingWeights(f"the adaptive model for '{restorer}' has no strength head")
        side = min_base_side(model.features)
        if min(base.shape[:2]) < side:
            return Settings(FIXED_STEPS, FIXED_GUIDANCE, f"fixed (base smaller than the features' {side}x{side})")
        ext = FeatureExtractor(model.features, self.config)
        feats = ext(FeatureInput(base, bpp, semantics.description))
        pred = model.predict(feats)
        head = model.heads["strength"]  # its range: [0, the restorer's strength ceiling] (train.strength_ceiling)
        s = float(np.clip(pred["strength"], max(0.0, head.lo), min(1.0, head.hi)))
        return Settings(FIXED_STEPS, FIXED_GUIDANCE, self.name, strength=round(s, 4),
                        features=tuple(feats.items()))
