"""``dyndiff``: the full profile's settings policy (the paper's DynDiff).

Two MLPs of the paper's shape over the paper's 11 features
(:data:`sggic.adapt.features.FULL_FEATURES`: CLIP text-image similarity, Canny density,
Laplacian variance, BRISQUE, NIQE, CLIPIQA+, MUSIQ, DBCNN, HyperIQA, LIQE, bpp) predict
the diffusion restorer's steps in [2, 80] and guidance in [0, 10]. Both heads live in one
model file (:mod:`sggic.adapt.mlp`), trained by :func:`sggic.adapt.train.train_heads`
(steps: lr 1e-3 and the paper's lambda; guidance: lr 2e-3, lambda 0).

Weights come from the model registry (``--models``); this version has no registry
reader yet, so ``DynDiffPolicy.from_config`` reports MissingWeights in one line, and the
mechanics run with a model handed over directly (``DynDiffPolicy(model)``; tests use tiny
synthetic models). The network features need IQA-PyTorch (``pyiqa``), which is not a
dependency: a model over them is BackendUnavailable here, never run on fewer features.
"""

from __future__ import annotations

import numpy as np

from ..config import RunConfig
from ..errors import MissingWeights
from ..semantics.schema import Semantics
from .base import GUIDANCE_RANGE, STEPS_RANGE, Settings, SettingsPolicy
from .features import FeatureExtractor, FeatureInput, check_features
from .mlp import AdaptModel


class DynDiffPolicy(SettingsPolicy):
    name = "dyndiff"

    def __init__(self, model: AdaptModel | None = None, config: RunConfig | None = None) -> None:
        self.model = model
        if config is not None:
            self.config = config
        if model is not None:
            self.weights_version = int(model.meta.get("weights_version", 1))
            for head in ("steps", "guidance"):
                if head not in model.heads:
                    raise MissingWeights(f"the DynDiff model has no {head} head")

    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "DynDiffPolicy":
        return cls(None, config)

    def check_available(self) -> None:
        if self.model is None:
            raise MissingWeights("the DynDiff MLP weights come from the model registry (--models), "
                                 "which this version cannot read yet")
        check_features(self.model.features)

    def choose(self, base: np.ndarray, semantics: Semantics, bpp: float, restorer: str = "") -> Settings:
        self.check_available()
        assert self.model is not None
        feats = FeatureExtractor(self.model.features, self.config)(FeatureInput(base, bpp, semantics.description))
        pred = self.model.predict(feats)
        steps = int(np.clip(round(pred["steps"]), *STEPS_RANGE))
        guidance = float(np.clip(round(pred["guidance"], 2), *GUIDANCE_RANGE))
        return Settings(steps, guidance, self.name, features=tuple(feats.items()))
