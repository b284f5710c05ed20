"""Training loop for the fitted restorer: L1 + SSIM + light patch-GAN, qp-conditioned.

Why these choices (see docs/restorer-fitted.md for measurements): L1 alone smooths
(BRISQUE worse than bicubic); a light adversarial term restores texture at a small
fidelity cost; the SSIM term keeps local structure, which SSIMULACRA2 rewards. No
pretrained VGG exists offline, so there is no perceptual loss. The generator starts as
exact bicubic (zero-initialised output conv) and trains on fidelity alone for the first
``gan_start`` steps before the discriminator joins.

Checkpoints (generator only, safetensors) are written every ``ckpt_every`` steps and
scored on held-out *train* photos against bicubic on the same bases; the best by
``selection_score`` is exported (only checkpoints after ``gan_start`` are scored). Dev photos are never seen here.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sggic.restore.fitted import DEFAULT_CONFIG, build_net, normalise_qp

VAL_QPS = (38, 48, 58)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM with an 11-tap Gaussian window (sigma 1.5), per channel, images in [0, 1]."""
    g = torch.exp(-((torch.arange(11, dtype=x.dtype, device=x.device) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    c = x.shape[1]
    kx = g.reshape(1, 1, 1, 11).repeat(c, 1, 1, 1)
    ky = g.reshape(1, 1, 11, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def build_discriminator(ch: int = 32) -> nn.Module:
    """A small spectral-normalised patch discriminator on 2x-resolution crops.

    Strided from the first layer (cheap on CPU); each logit sees a ~46 px patch.
    """
    sn = nn.utils.spectral_norm
    return nn.Sequential(
        sn(nn.Conv2d(3, ch, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(ch, 2 * ch, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(2 * ch, 4 * ch, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(4 * ch, 1, 3, padding=1)),
    )  # fmt: skip


class PairSampler:
    """Random aligned (base crop, original crop, qp) batches with flips and 90-degree turns."""

    def __init__(self, views: list[dict[str, np.ndarray]], crop: int, rng: np.random.Generator,
                 weights: list[float] | None = None) -> None:
        self.views, self.crop, self.rng = views, crop, rng
        w = np.ones(len(views)) if weights is None else np.asarray(weights, float)
        self.p = w / w.sum()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, rng = self.crop, self.rng
        lo, hi, qs = [], [], []
        for _ in range(n):
            v = self.views[rng.choice(len(self.views), p=self.p)]
            k = int(rng.integers(len(v["qps"])))
            base = v["bases"][k]
            y = int(rng.integers(base.shape[0] - c + 1))
            x = int(rng.integers(base.shape[1] - c + 1))
            b = base[y:y + c, x:x + c]
            o = v["orig"][2 * y:2 * y + 2 * c, 2 * x:2 * x + 2 * c]
            b, o = dihedral(int(rng.integers(8)), b, o)
            lo.append(np.ascontiguousarray(b))
            hi.append(np.ascontiguousarray(o))
            qs.append(normalise_qp(int(v["qps"][k])))
        to = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float() / 255.0  # noqa: E731
        return to(lo), to(hi), torch.tensor(qs, dtype=torch.float32)


def _u8(t: torch.Tensor) -> np.ndarray:
    return torch.clamp(torch.round(t * 255), 0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()


def validate(net: nn.Module, val: list[dict[str, np.ndarray]], qps=VAL_QPS) -> dict[str, float]:
    """Mean PSNR / SSIMULACRA2 / BRISQUE of net and of bicubic on held-out train views."""
    from sggic.metrics import get_metric
    from sggic.restore.bicubic import bicubic_2x

    m = {k: get_metric(k) for k in ("psnr", "ssimulacra2", "brisque")}
    acc: dict[str, list[float]] = {}
    net.eval()
    with torch.inference_mode():
        for v in val:
            for qp in qps:
                k = int(np.nonzero(v["qps"] == qp)[0][0])
                base = v["bases"][k]
                x = (torch.from_numpy(base).permute(2, 0, 1)[None].float() / 255.0).contiguous(
                    memory_format=torch.channels_last)
                out = _u8(net(x, torch.tensor([normalise_qp(qp)])))
                bic = bicubic_2x(base)
                for tag, img in (("net", out), ("bic", bic)):
                    for name, fn in m.items():
                        acc.setdefault(f"{tag}_{name}", []).append(float(fn(v["orig"], img) if name != "brisque" else fn(img)))
    net.train()
    return {k: float(np.mean(a)) for k, a in acc.items()}


def selection_score(r: dict[str, float]) -> float:
    """Gain over bicubic on the same bases: SSIMULACRA2 + 2 x PSNR(dB) - 0.25 x BRISQUE."""
    return ((r["net_ssimulacra2"] - r["bic_ssimulacra2"]) + 2 * (r["net_psnr"] - r["bic_psnr"])
            - 0.25 * (r["net_brisque"] - r["bic_brisque"]))


GAINS = (1.0, 1.25, 1.5, 1.75, 2.0)


def calibrate_gain(net: nn.Module, val: list[dict[str, np.ndarray]], gains=GAINS,
                   log: Callable[[str], None] = print) -> tuple[float, list[dict[str, float]]]:
    """Pick the decoder-side residual gain on held-out train photos.

    Scaling the predicted detail (``up + g * residual``) trades a little PSNR for
    sharpness (BRISQUE), which the L1-dominated training under-delivers. Rule: the best
    ``selection_score`` among gains that keep PSNR >= bicubic + 0.05 dB and SSIMULACRA2 >=
    bicubic on the same bases (a fidelity guard); 1.0 if none qualifies.
    """
    rows = []
    for g in gains:
        net.residual_gain = g
        r = validate(net, val)
        r.update(gain=g, score=selection_score(r))
        rows.append(r)
        log(f"gain {g}: " + json.dumps({k: round(v, 3) for k, v in r.items()}))
    ok = [r for r in rows if r["net_psnr"] >= r["bic_psnr"] + 0.05 and r["net_ssimulacra2"] >= r["bic_ssimulacra2"]]
    best = max(ok, key=lambda r: r["score"])["gain"] if ok else 1.0
    net.residual_gain = best
    return best, rows


def save_generator(net: nn.Module, path: Path, meta: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}  # from any device
    save_file(state, str(path), metadata={k: (v if isinstance(v, str) else json.dumps(v)) for k, v in meta.items()})


def seeded_start(seed: int, threads: int, defaults: dict[str, int],
                 config: dict[str, int] | None) -> tuple[np.random.Generator, dict[str, int]]:
    """Both trainers' start: torch threads and seed, the numpy sampler RNG, the net config."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return np.random.default_rng(seed), dict(defaults, **(config or {}))


def cosine(step: int, steps: int) -> float:
    """Learning-rate factor: cosine from 1 down to 0.05 over ``steps``."""
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps))


def bf16_autocast(enabled: bool) -> Any:
    """bf16 autocast on the CPU; weights, losses and optimiser state stay float32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def dihedral(k: int, b: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the same one of the 8 flips/90-degree turns (``k`` in 0..7) to a base and its target crop."""
    if k & 1:
        b, o = b[:, ::-1], o[:, ::-1]
    if k & 2:
        b, o = b[::-1], o[::-1]
    if k & 4:
        b, o = b.transpose(1, 0, 2), o.transpose(1, 0, 2)
    return b, o


def forward(net: nn.Module, lo: torch.Tensor, hi: torch.Tensor, cond: torch.Tensor,
            bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One training forward pass in channels-last layout: (float32 output, channels-last target)."""
    cl = torch.channels_last
    lo, hi = lo.contiguous(memory_format=cl), hi.contiguous(memory_format=cl)
    with bf16_autocast(bf16):
        out = net(lo, cond).float()
    return out, hi


def checkpoint(net: nn.Module, out_dir: Path, step: int, cfg: dict[str, int], seed: int) -> Path:
    """Write the generator's checkpoint for ``step`` (safetensors) and return its path."""
    path = out_dir / f"ckpt-{step:06d}.safetensors"
    save_generator(net, path, {"config": cfg, "step": step, "seed": seed})
    return path


def write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    (out_dir / "history.json").write_text(json.dumps(history, indent=1))


class LossLog:
    """Running means of the training losses, logged every ``every`` steps and then reset.

    ``fields``: key -> (label, format spec), in log order.
    """

    def __init__(self, fields: dict[str, tuple[str, str]], steps: int, t0: float,
                 log: Callable[[str], None], every: int = 50) -> None:
        self.fields, self.steps, self.t0, self.log, self.every = fields, steps, t0, log, every
        self.sums, self.n = dict.fromkeys(fields, 0.0), 0

    def add(self, **losses: torch.Tensor) -> None:
        for k, v in losses.items():
            self.sums[k] += v.item()

    def end_step(self, step: int) -> None:
        self.n += 1
        if step % self.every == 0:
            parts = " ".join(f"{label} {self.sums[k] / self.n:{spec}}" for k, (label, spec) in self.fields.items())
            self.log(f"step {step}/{self.steps} {parts} {time.time() - self.t0:.0f}s")
            self.sums, self.n = dict.fromkeys(self.fields, 0.0), 0


def train(train_views: list[dict[str, np.ndarray]], val_views: list[dict[str, np.ndarray]], out_dir: Path, *,
          steps: int, seed: int = 0, batch: int = 12, crop: int = 64, lr: float = 3e-4,
          adv_weight: float = 0.005, ssim_weight: float = 0.05, gan_start: int | None = None,
          ckpt_every: int = 400, threads: int = 2, view_weights: list[float] | None = None,
          config: dict[str, int] | None = None, bf16: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train for ``steps`` generator steps; return the chosen checkpoint and the validation log."""
    rng, cfg = seeded_start(seed, threads, DEFAULT_CONFIG, config)
    gan_start = steps // 3 if gan_start is None else gan_start
    cl = torch.channels_last  # ~3x faster convolutions on CPU (oneDNN) than NCHW
    net, disc = build_net(**cfg).to(memory_format=cl), build_discriminator().to(memory_format=cl)
    opt_g = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr / 2, betas=(0.5, 0.99))
    sampler = PairSampler(train_views, crop, rng, view_weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    t0 = time.time()
    losses = LossLog({"l1": ("l1", ".4f"), "ssim": ("1-ssim", ".4f"), "adv": ("adv", ".3f"), "d": ("d", ".3f")},
                     steps, t0, log)
    bce = nn.BCEWithLogitsLoss()
    # bf16 autocast: ~1.9x faster convolutions on this AVX512-BF16 CPU; the exported network runs in float32.
    amp = lambda: bf16_autocast(bf16)  # noqa: E731
    for step in range(1, steps + 1):
        for g in opt_g.param_groups:
            g["lr"] = lr * cosine(step, steps)
        lo, hi, q = sampler.batch(batch)
        out, hi = forward(net, lo, hi, q, bf16)
        l1 = F.l1_loss(out, hi)
        ls = 1 - ssim(out, hi)
        loss = l1 + ssim_weight * ls
        use_gan = adv_weight > 0 and step > gan_start
        if use_gan:
            for p in disc.parameters():
                p.requires_grad_(False)
            with amp():
                fake_logit = disc(out).float()
            adv = bce(fake_logit, torch.ones_like(fake_logit))
            loss = loss + adv_weight * adv
            losses.add(adv=adv)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        if use_gan:
            for p in disc.parameters():
                p.requires_grad_(True)
            with amp():
                rl, fl = disc(hi).float(), disc(out.detach().clamp(0, 1)).float()
            d_loss = bce(rl, torch.ones_like(rl)) + bce(fl, torch.zeros_like(fl))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            losses.add(d=d_loss)
        losses.add(l1=l1, ssim=ls)
        losses.end_step(step)
        if step % ckpt_every == 0 or step == steps:
            path = checkpoint(net, out_dir, step, cfg, seed)
            # fidelity-only checkpoints are never chosen: score only those after gan_start
            r = validate(net, val_views) if val_views and step > gan_start else {}
            rec = {"step": step, "path": str(path), "elapsed_s": round(time.time() - t0, 1), **r}
            if r:
                rec["score"] = selection_score(r)
            history.append(rec)
            write_history(out_dir, history)
            log("ckpt " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.items()}))
    scored = [h for h in history if "score" in h and h["step"] > gan_start] or history
    best = max(scored, key=lambda h: h.get("score", 0.0))
    return {"best": best, "history": history, "train_seconds": round(time.time() - t0, 1), "config": cfg}
