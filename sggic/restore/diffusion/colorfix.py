"""Colour correction of the generated image against the stage-1 image.

Diffusion in SD's latent space drifts in colour (a known complaint of DiffBIR users).
Both fixes keep the generated *detail* and take the *colour* from the faithful stage-1
restoration, as DiffBIR and MISC do:

* ``wavelet``: split both images into high frequencies (the sum of differences between
  successive dilated 3x3 binomial blurs, 5 levels, dilations 1..16) and the low-frequency
  residual; output = high(generated) + low(stage 1).
* ``adain``: match each channel's mean and standard deviation to the stage-1 image.

Tensors are ``(N, 3, H, W)`` float in [0, 1]; both run in float32 on whatever device the
tensors are on (the restorer uses the CPU so GPU memory stays bounded).
"""

from __future__ import annotations

from typing import Any

WAVELET_LEVELS = 5


def _blur(torch: Any, x: Any, dilation: int) -> Any:
    import torch.nn.functional as F

    k1 = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device) / 4.0
    kernel = (k1[:, None] * k1[None, :]).expand(x.shape[1], 1, 3, 3).contiguous()
    padded = F.pad(x, (dilation,) * 4, mode="replicate")
    return F.conv2d(padded, kernel, groups=x.shape[1], dilation=dilation)


def wavelet_split(x: Any, levels: int = WAVELET_LEVELS) -> tuple[Any, Any]:
    """(high, low) with ``high + low == x`` up to rounding."""
    import torch

    high = torch.zeros_like(x)
    low = x
    for i in range(levels):
        blurred = _blur(torch, low, 2 ** i)
        high = high + (low - blurred)
        low = blurred
    return high, low


def wavelet_colour_fix(generated: Any, reference: Any, levels: int = WAVELET_LEVELS) -> Any:
    high, _ = wavelet_split(generated.float(), levels)
    _, low = wavelet_split(reference.float(), levels)
    return (high + low).clamp(0.0, 1.0)


def adain_colour_fix(generated: Any, reference: Any, eps: float = 1e-5) -> Any:
    g, r = generated.float(), reference.float()
    g_mean, g_std = g.mean(dim=(2, 3), keepdim=True), g.std(dim=(2, 3), keepdim=True)
    r_mean, r_std = r.mean(dim=(2, 3), keepdim=True), r.std(dim=(2, 3), keepdim=True)
    return ((g - g_mean) / (g_std + eps) * r_std + r_mean).clamp(0.0, 1.0)


def colour_fix(kind: str, generated: Any, reference: Any) -> Any:
    """Apply the fix named ``kind`` (``wavelet``, ``adain`` or ``none``)."""
    if kind == "wavelet":
        return wavelet_colour_fix(generated, reference)
    if kind == "adain":
        return adain_colour_fix(generated, reference)
    if kind == "none":
        return generated.float().clamp(0.0, 1.0)
    raise ValueError(f"unknown colour fix {kind!r}")
