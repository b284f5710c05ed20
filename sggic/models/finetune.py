"""Fine-tune Cheng2020 at a low lambda on a folder of images (the paper's base layer).

The paper starts from CompressAI's ``cheng2020-attn`` quality 6 (N=192) and fine-tunes
it at lambda 0.0045 (about 0.022 bpp) and 0.018 (about 0.048 bpp) on images that were
downsampled 2x, as the base layer is. Loss: CompressAI's rate-distortion objective
``lambda * 255^2 * MSE + bpp`` (bpp from the likelihoods), plus the auxiliary loss that
fits the entropy bottleneck's quantiles with its own optimiser. At the end the CDF
tables are computed (``update``) and saved with the weights, so every decoder uses the
same tables. The output is a safetensors file to list under ``[cheng2020] levels``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from .hub import require
from .registry import Level, Registry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".avif")


@dataclass(frozen=True)
class FinetuneResult:
    path: Path
    steps: int
    lmbda: float
    last_loss: float
    last_bpp: float
    last_mse: float
    seconds: float

    def toml_line(self) -> str:
        return f'  {{ path = "{self.path.as_posix()}", lambda = {self.lmbda!r} }},'


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"not a folder of images: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def prepare_images(files: list[Path], downsample: int, crop: int) -> list[np.ndarray]:
    """Each image downsampled ``downsample``x (Lanczos), at least ``crop`` on its short side."""
    from PIL import Image

    from ..images import load_image

    out = []
    for f in files:
        rgb = load_image(f).rgb
        im = Image.fromarray(rgb)
        w, h = im.size
        scale = max(1.0 / downsample, crop / min(w, h))
        size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
        out.append(np.asarray(im.resize(size, Image.Resampling.LANCZOS)))
    return out


def _init_model(init: str, reg: Registry) -> tuple[Any, str]:
    from ..codecs.cheng2020 import load_level, model_from_state_dict, read_state_dict

    if init.startswith("zoo:"):
        try:
            q = int(init[4:])
        except ValueError:
            raise InputError(f"--init zoo:Q needs Q in 1..6, got {init!r}") from None
        if q not in range(1, 7):
            raise InputError(f"--init zoo:Q needs Q in 1..6, got {init!r}")
        return load_level(Level(zoo_quality=q), reg)
    path = Path(init)
    return model_from_state_dict(read_state_dict(path), str(path)), f"local {path}"


def finetune_cheng2020(images: Path, output: Path, lmbda: float, registry: Registry, init: str = "zoo:6",
                       steps: int = 20000, batch: int = 8, crop: int = 256, lr: float = 1e-4,
                       downsample: int = 2, seed: int = 0, device: str = "cpu",
                       log: Callable[[str], None] = lambda m: None, log_every: int = 100) -> FinetuneResult:
    """Fine-tune and write ``output`` (.safetensors); returns the last losses."""
    if not (lmbda > 0 and math.isfinite(lmbda)):
        raise InputError(f"lambda must be a positive number, got {lmbda}")
    if steps < 1 or batch < 1 or crop < 64 or crop % 64 or downsample < 1 or not lr > 0:
        raise InputError("need steps >= 1, batch >= 1, crop a multiple of 64, downsample >= 1, lr > 0")
    if output.suffix != ".safetensors":
        raise InputError(f"the output must be a .safetensors file, got {output}")
    torch = require("torch", "cheng2020")
    require("compressai", "cheng2020")
    from safetensors.torch import save_file

    pics = prepare_images(list_images(images), downsample, crop)
    model, where = _init_model(init, registry)
    log(f"fine-tuning from {where} on {len(pics)} images, lambda {lmbda:g}, {steps} steps of {batch}x{crop}^2")
    model = model.to(device).train()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    t0 = time.perf_counter()
    loss_v = bpp_v = mse_v = float("nan")
    for step in range(1, steps + 1):
        crops = []
        for _ in range(batch):
            pic = pics[rng.integers(len(pics))]
            y = rng.integers(pic.shape[0] - crop + 1)
            x = rng.integers(pic.shape[1] - crop + 1)
            c = pic[y:y + crop, x:x + crop]
            crops.append(c[:, ::-1] if rng.random() < 0.5 else c)
        # contiguous NCHW: a channels-last batch (what permute gives) corrupts the heap in the
        # backward pass of torch 2.14.1's CPU convolutions here ("corrupted double-linked list")
        x = torch.from_numpy(np.ascontiguousarray(np.stack(crops))).permute(0, 3, 1, 2).float().div(255)
        x = x.contiguous().to(device)
        out = model(x)
        n_pix = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(torch.log(lk).sum() for lk in out["likelihoods"].values()) / (-math.log(2) * n_pix)
        mse = torch.mean((out["x_hat"] - x) ** 2)
        loss = lmbda * 255 ** 2 * mse + bpp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
        aux = model.aux_loss()
        aux_opt.zero_grad()
        aux.backward()
        aux_opt.step()
        loss_v, bpp_v, mse_v = loss.item(), bpp.item(), mse.item()
        if step % log_every == 0 or step == steps:
            psnr = 10 * math.log10(1 / max(mse_v, 1e-12))
            log(f"step {step}/{steps}: loss {loss_v:.4f}, {bpp_v:.4f} bpp (likelihood), {psnr:.2f} dB, "
                f"{time.perf_counter() - t0:.0f} s")
    model = model.cpu().eval()
    model.update(force=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    n = model.g_a[0].conv1.weight.shape[0]
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp),
              metadata={"architecture": "cheng2020-attn", "N": str(n), "lambda": repr(lmbda), "steps": str(steps),
                        "init": init, "crop": str(crop), "downsample": str(downsample)})
    tmp.replace(output)
    return FinetuneResult(output, steps, lmbda, loss_v, bpp_v, mse_v, time.perf_counter() - t0)
