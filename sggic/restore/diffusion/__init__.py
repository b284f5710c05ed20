"""The paper's diffusion restorer (DiffBIR-style): stage 1 = our offline restorer, stage 2 =
Stable Diffusion 2.1-base steered by an IRControlNet (or a diffusers "tile" ControlNet).

Modules, one job each (nothing heavy is imported here; torch/diffusers load on use):

* :mod:`.spec`: what to load and how to run it (:class:`DiffusionSpec`, from a TOML table)
* :mod:`._deps`: import diffusers/transformers or raise one-line BackendUnavailable
* :mod:`.ircontrolnet`: DiffBIR's IRControlNet built from diffusers' ``ControlNetModel``
* :mod:`.convert`: DiffBIR v2 stage-2 checkpoint -> the IRControlNet folder we load
* :mod:`.models`: load the components from local folders (no downloads)
* :mod:`.tiles`: overlapping tiles with smooth blending (latents and VAE)
* :mod:`.colorfix`: wavelet / AdaIN colour correction against the stage-1 image
* :mod:`.sampler`: classifier-free-guided, tiled, seeded sampling loop with a progress bar
* :mod:`.restorer`: :class:`DiffusionRestorer`, the ``Restorer`` the decoder calls
"""

from __future__ import annotations

from .spec import DiffusionSpec

__all__ = ["DiffusionSpec"]
