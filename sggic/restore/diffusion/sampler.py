"""Stage 2's sampling loop: text encoding, tiled VAE, classifier-free-guided ControlNet
sampling over tiled latents, seeded and with a progress bar.

Determinism: the only random draw is the initial latent noise, taken from a
``torch.Generator`` on the sampling device seeded with the header's seed (DDIM with
eta = 0 and DPM-Solver++ add no noise afterwards; the scheduler's ``step`` gets the same
generator for those that do). On the CPU, float32 kernels give the same bytes in every
process at a fixed thread count; on CUDA, cuDNN/cuBLAS kernel choice and float16
reductions can differ between GPU models, drivers and library versions, so a file
decodes to the same pixels on the same machine and software, not across GPUs.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from typing import Any

from .groupnorm import shared_groupnorm_stats
from .models import DiffusionModels
from .tiles import blend_tiles, iter_boxes


@dataclass(frozen=True)
class SampleRequest:
    """One sampling run: prompts, schedule length, guidance scale, seed."""

    prompt: str
    negative: str
    steps: int
    guidance: float
    seed: int


def progress(iterable: Any, total: int, desc: str) -> Any:
    """tqdm on stderr when stderr is a terminal; the bare iterable otherwise."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, unit="step")


def encode_text(models: DiffusionModels, texts: list[str]) -> Any:
    """CLIP text embeddings ``(len(texts), 77, width)`` (the encoder's last hidden state:
    for SD 2.1's folder, which has 23 of OpenCLIP's 24 layers, that is DiffBIR's
    "penultimate" layer after the final layer norm)."""
    import torch

    length = min(int(models.tokenizer.model_max_length),
                 int(models.text_encoder.config.max_position_embeddings))
    tok = models.tokenizer(texts, padding="max_length", max_length=length, truncation=True,
                           return_tensors="pt")
    with torch.inference_mode():
        return models.text_encoder(tok.input_ids.to(models.device))[0]


def vae_encode(models: DiffusionModels, image: Any, tile: int, overlap: int, context: int = 0) -> Any:
    """Latent ``(1, 4, H/f, W/f)`` (posterior mode x scaling factor) of ``image`` in [0, 1]
    ``(1, 3, H, W)`` on the CPU. Larger than one tile (latent pixels): encoded tile by tile
    with ``context`` of real neighbours, blended over ``overlap``, GroupNorm statistics
    shared by all tiles (:mod:`.groupnorm`)."""
    import torch

    f = models.vae_factor
    h, w = image.shape[2] // f, image.shape[3] // f

    def one(box: tuple[int, int, int, int]) -> Any:
        y0, y1, x0, x1 = box
        crop = image[:, :, y0 * f:y1 * f, x0 * f:x1 * f].to(models.device, models.dtype)
        with torch.inference_mode():
            return models.vae.encode(crop * 2 - 1).latent_dist.mode() * models.latent_scale

    if len(list(iter_boxes(h, w, tile, overlap))) == 1:
        return one((0, h, 0, w)).float()
    proxy = _shrink(image, (tile + 2 * context) * f)
    with shared_groupnorm_stats(models.vae.encoder, lambda: models.vae.encode(
            proxy.to(models.device, models.dtype) * 2 - 1)):
        return blend_tiles(one, h, w, tile, overlap, context=context).to(models.device, torch.float32)


def _shrink(x: Any, limit: int) -> Any:
    """``x`` area-averaged so that its longer side is at most ``limit`` (the proxy pass)."""
    import torch.nn.functional as F

    s = limit / max(x.shape[2], x.shape[3])
    if s >= 1:
        return x
    return F.interpolate(x.float(), size=(max(1, round(x.shape[2] * s)), max(1, round(x.shape[3] * s))),
                         mode="area")


def vae_decode(models: DiffusionModels, latent: Any, tile: int, overlap: int, context: int = 0) -> Any:
    """Image in [0, 1] ``(1, 3, H, W)`` float32 on the CPU; tiled as :func:`vae_encode`."""
    import torch

    f = models.vae_factor

    def one(box: tuple[int, int, int, int]) -> Any:
        y0, y1, x0, x1 = box
        z = latent[:, :, y0:y1, x0:x1].to(models.device, models.dtype) / models.latent_scale
        with torch.inference_mode():
            return ((models.vae.decode(z).sample.float() + 1) / 2).cpu()

    h, w = latent.shape[2], latent.shape[3]
    if len(list(iter_boxes(h, w, tile, overlap))) == 1:
        return one((0, h, 0, w)).float()
    proxy = _shrink(latent, tile + 2 * context).to(models.device, models.dtype) / models.latent_scale
    with shared_groupnorm_stats(models.vae.decoder, lambda: models.vae.decode(proxy)):
        return blend_tiles(one, h, w, tile, overlap, unit=f, out_device="cpu", context=context).float()


def sample(models: DiffusionModels, hint: Any, request: SampleRequest, *, tile: int, overlap: int,
           control_scale: float = 1.0, desc: str = "diffusion") -> Any:
    """Denoise from seeded noise to a latent ``(1, 4, h, w)`` under the ControlNet's hint.

    ``hint``: for ``ir`` the stage-1 latent ``(1, 4, h, w)``; for ``tile`` the stage-1
    image in [0, 1] ``(1, 3, h*f, w*f)``. The noise prediction of each step is computed
    on overlapping latent tiles and blended (:mod:`.tiles`), so memory does not grow with
    the image. Guidance ``g``: ``eps = eps_neg + g (eps_pos - eps_neg)``; ``g == 1`` needs
    only the prompt, ``g == 0`` only the negative prompt.
    """
    import torch

    if request.steps < 1:
        raise ValueError("steps must be >= 1")
    device, dtype = models.device, models.dtype
    f = 1 if models.control == "ir" else models.vae_factor
    h, w = (hint.shape[2] // f, hint.shape[3] // f)
    g = float(request.guidance)
    if g == 1.0:
        texts = [request.prompt]
    elif g == 0.0:
        texts = [request.negative]
    else:
        texts = [request.negative, request.prompt]
    emb = encode_text(models, texts).to(dtype)
    n = len(texts)

    scheduler = copy.deepcopy(models.scheduler)
    scheduler.set_timesteps(request.steps, device=device)
    gen = torch.Generator(device=device).manual_seed(int(request.seed))
    x = torch.randn((1, 4, h, w), generator=gen, device=device, dtype=torch.float32)
    x = x * float(scheduler.init_noise_sigma)

    for t in progress(scheduler.timesteps, len(scheduler.timesteps), desc):
        xin = scheduler.scale_model_input(x, t)

        def eps_tile(box: tuple[int, int, int, int], xin: Any = xin, t: Any = t) -> Any:
            y0, y1, x0, x1 = box
            xs = xin[:, :, y0:y1, x0:x1].to(dtype).expand(n, -1, -1, -1)
            hs = hint[:, :, y0 * f:y1 * f, x0 * f:x1 * f].to(device, dtype).expand(n, -1, -1, -1)
            with torch.inference_mode():
                down, mid = models.controlnet(xs, t, encoder_hidden_states=emb, controlnet_cond=hs,
                                              conditioning_scale=control_scale, return_dict=False)
                eps = models.unet(xs, t, encoder_hidden_states=emb, down_block_additional_residuals=down,
                                  mid_block_additional_residual=mid).sample.float()
            if n == 2:
                neg, pos = eps.chunk(2)
                eps = neg + g * (pos - neg)
            return eps

        eps = blend_tiles(eps_tile, h, w, tile, overlap)
        x = scheduler.step(eps, t, x, generator=gen).prev_sample.float()
    return x
