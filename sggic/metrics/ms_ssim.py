"""MS-SSIM (Wang et al. 2003) over RGB, via pytorch-msssim.

Five scales, 11x11 Gaussian window (sigma 1.5), the standard weights; each channel is
scored and the three are averaged (the convention of CompressAI and most compression
papers; IQA-PyTorch's default scores the Y channel only, so its numbers differ slightly).

Images whose shorter side is <= 160 pixels are refused (InputError) rather than padded:
at the fifth scale the 11-tap window would no longer fit, and padding would add flat
area that inflates the score.
"""

from __future__ import annotations

import numpy as np

from ._assets import require
from ._checks import check_pair

MIN_SIDE = 161  # (win_size - 1) * 2**(levels - 1) + 1


def check(name: str) -> None:
    require(name, "torch", "pytorch_msssim")


def compute(ref: np.ndarray, img: np.ndarray) -> float:
    ref, img = check_pair(ref, img, "ms_ssim", MIN_SIDE)
    import torch
    from pytorch_msssim import ms_ssim

    def tensor(a: np.ndarray) -> "torch.Tensor":
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).to(torch.float32)[None]

    with torch.no_grad():
        value = ms_ssim(tensor(ref), tensor(img), data_range=255.0, size_average=True)
    return float(value)
