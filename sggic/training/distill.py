"""Training data and loop for the generative restorer (strength-conditioned distillation).

Targets. For a base ``x`` (the VVC-coded half-resolution view of a train photo at qp
``q``), its original ``o`` and the Real-ESRGAN teacher's output ``t = T(x)``
(``sggic.training.teacher``), the network ``f(x, q, s)`` is trained on the blended
target ``(1 - s) o + s t`` with a mean-squared error. Since ``t`` is a function of ``x``,
the minimiser of the expected squared error is ``(1 - s) E[o | x] + s T(x)``: the MMSE
restoration at ``s = 0``, the teacher at ``s = 1``, and between them exactly the blend
that was measured to reach the perception/fidelity goal (shared notes, "a blend already
reaches it"). Pixel-wise L1 would not do this: the median of a two-point target snaps to
one end. A small SSIM term on the same target keeps local structure, and a Laplacian
term (L1 on the 3x3 Laplacian of the error) makes the student copy the teacher's fine
texture instead of averaging it away.

Samples without a teacher output (other qps) train the faithful end only (``s = 0``),
so the qp conditioning sees the whole range rate control picks.

v2 (restorer id 6, docs/restorer-generative.md): bases coded with QPA off, target
``o + blend_max s (t - o)`` with ``blend_max = 6``, and the band-split loss
(:func:`band_split_loss`: low band to the original, high band to the target); the
squared error above is v1's (``loss="mse"``, ``blend_max = 1``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

# qps at which every train photo's s512 view is coded (rate control picks 34-57 on the dev photos)
BASE_QPS: tuple[int, ...] = tuple(range(36, 60, 2))


def base_quality(qp: int, qpa: bool) -> int:
    """The VVC quality a base is coded with: plain ``qp`` (QPA on, the v1 bases) or packed QPA off."""
    from sggic.codecs.vvc import Settings, pack_quality

    return int(qp) if qpa else pack_quality(Settings(int(qp), 0, False))


def prepare_bases(photo: Any, cache_dir: str | os.PathLike, qps: tuple[int, ...] = BASE_QPS,
                  reuse_dir: str | os.PathLike | None = None, qpa: bool = False) -> Path:
    """Code a photo's s512 view (benchmark preprocessing) at ``qps``; cached as one .npz.

    ``qpa``: libvvenc's perceptual QP adaptation on (the v1 bases, as the encoder wrote
    them then) or off (v2: what the encoder writes since ``vvc.QPA = False``); the cache
    stores the plain qps. ``reuse_dir``: the fitted restorer's cache (all qps 28-63 of
    the same view, QPA on); when it has the photo (and ``qpa``), its bases are reused.
    """
    from sggic.training.data import code_view

    out = Path(cache_dir) / f"{photo.id}.s512.npz"
    if out.exists():
        return out
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    src = Path(reuse_dir) / f"{photo.id}.s512.npz" if reuse_dir and qpa else None
    if src is not None and src.exists():
        with np.load(src) as z:
            idx = [int(np.nonzero(z["qps"] == q)[0][0]) for q in qps]
            orig, bases, nbytes = z["orig"], z["bases"][idx], z["nbytes"][idx]
    else:
        orig, bases, nbytes = code_view(photo, 512, 0.5, [base_quality(q, qpa) for q in qps])
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, orig=orig, qps=np.array(qps, np.int16), bases=bases, nbytes=nbytes)
    os.replace(tmp, out)
    return out


def prepare_all(photos: list[Any], cache_dir: str | os.PathLike, qps: tuple[int, ...] = BASE_QPS,
                reuse_dir: str | os.PathLike | None = None, workers: int = 2,
                log: Callable[[str], None] = print, qpa: bool = False) -> dict[str, Path]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    t0, out = time.time(), {}
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = {ex.submit(prepare_bases, p, cache_dir, qps, reuse_dir, qpa): p.id for p in photos}
        for i, fut in enumerate(as_completed(futs), 1):
            out[futs[fut]] = fut.result()
            log(f"bases {i}/{len(photos)} {futs[fut]} {time.time() - t0:.0f}s")
    return out


def load_cached(paths: dict[str, Path]) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for pid, p in sorted(paths.items()):
        with np.load(p) as z:
            out[pid] = {k: z[k] for k in ("orig", "qps", "bases")}
    return out


def sample_strength(rng: np.random.Generator) -> float:
    """20 % exactly 0, 20 % exactly 1 (the ends users pick), 60 % uniform in between."""
    u = rng.random()
    return 0.0 if u < 0.2 else 1.0 if u < 0.4 else float(rng.random())


class DistillSampler:
    """Random aligned (base crop, blended target crop, (qp, s)) batches with the 8 dihedral turns.

    Target: ``o + blend_max * s * (t - o)`` (clipped to [0, 1] when ``blend_max != 1``):
    ``blend_max = 1`` is v1 (``s = 1`` is the teacher); v2 ships ``6`` (``s = 1`` is six
    times the teacher's difference to the original). ``with_orig``: the target gets the original
    crop as channels 3-5. ``blend_clip`` > 0: the amplified difference ``blend_max s (t - o)``
    is clipped to +-``blend_clip`` per value (tried against edge halos).

    ``teacher``: (photo id, qp, crop index) -> (y0, x0, 2x teacher output of the base crop at (y0, x0));
    crops are drawn inside its inner part (``teacher.MARGIN`` base pixels from each edge
    dropped). A sample is drawn from a teacher pair
    with probability ``p_teacher`` (strength from ``sample_strength``), else from any
    cached qp of any photo with strength 0 (target: the original).
    """

    def __init__(self, views: dict[str, dict[str, np.ndarray]],
                 teacher: dict[tuple[str, int], tuple[int, int, np.ndarray]],
                 crop: int, rng: np.random.Generator, p_teacher: float = 0.75, blend_max: float = 1.0,
                 with_orig: bool = False, blend_clip: float = 0.0, device: str | None = None) -> None:
        self.views, self.teacher, self.crop, self.rng, self.p_teacher = views, teacher, crop, rng, p_teacher
        self.blend_max, self.with_orig, self.blend_clip = float(blend_max), with_orig, float(blend_clip)
        self.ids = sorted(views)
        self.pairs = sorted(teacher)
        self.device = device
        if device is not None:  # the arrays live on the device; crops are cut and blended there
            import torch

            on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
            self._views = {k: {"orig": on(v["orig"]), "bases": on(v["bases"])} for k, v in views.items()}
            self._teacher = {k: on(t) for k, (_, _, t) in teacher.items()}

    def _draw(self) -> tuple[str, int, float, Any, int, int, int, int, int]:
        """One sample's random choices: (view, qp, strength, teacher key or None, y, x, ty, tx, turn)."""
        from sggic.training.teacher import MARGIN

        c, rng = self.crop, self.rng
        if self.pairs and rng.random() < self.p_teacher:
            key = self.pairs[int(rng.integers(len(self.pairs)))]
            pid, qp = key[:2]
            s = sample_strength(rng)
            y0, x0, t = self.teacher[key]
            inner = t.shape[0] // 2 - 2 * MARGIN
            ty, tx = MARGIN + int(rng.integers(inner - c + 1)), MARGIN + int(rng.integers(inner - c + 1))
            y, x = y0 + ty, x0 + tx
        else:
            pid = self.ids[int(rng.integers(len(self.ids)))]
            qp, s, key = int(self.views[pid]["qps"][int(rng.integers(len(self.views[pid]["qps"])))]), 0.0, None
            y = int(rng.integers(self.views[pid]["bases"].shape[1] - c + 1))
            x = int(rng.integers(self.views[pid]["bases"].shape[2] - c + 1))
            ty = tx = 0
        if key is not None and s == 0:
            key = None
        return pid, qp, s, key, y, x, ty, tx, int(rng.integers(8))

    def batch(self, n: int) -> tuple[Any, Any, Any]:
        import torch

        from sggic.restore.generative import normalise_qp
        from sggic.training.train import dihedral

        c = self.crop
        lo, hi, cond = [], [], []
        for _ in range(n):
            pid, qp, s, key, y, x, ty, tx, turn = self._draw()
            v = self.views[pid]
            qi = int(np.nonzero(v["qps"] == qp)[0][0])
            if self.device is not None:
                b, o = self._crops_on_device(pid, qi, s, key, y, x, ty, tx, turn)
            else:
                b = v["bases"][qi][y:y + c, x:x + c].astype(np.float32) / 255.0
                orig = v["orig"][2 * y:2 * y + 2 * c, 2 * x:2 * x + 2 * c].astype(np.float32) / 255.0
                o = orig
                if key is not None:
                    tc = self.teacher[key][2][2 * ty:2 * ty + 2 * c, 2 * tx:2 * tx + 2 * c].astype(np.float32) / 255.0
                    o = self._blend(o, tc, s, np)
                if self.with_orig:  # the original as 3 more channels (the band-split loss's low band)
                    o = np.concatenate([o, orig], axis=2)
                b, o = dihedral(turn, b, o)
                b, o = torch.from_numpy(np.ascontiguousarray(b)), torch.from_numpy(np.ascontiguousarray(o))
            lo.append(b)
            hi.append(o)
            cond.append((normalise_qp(qp), s))
        to = lambda a: torch.stack(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        return to(lo), to(hi), torch.tensor(cond, dtype=torch.float32, device=self.device)

    def _blend(self, o: Any, tc: Any, s: float, xp: Any) -> Any:
        """The target from the original crop ``o`` and the teacher crop ``tc`` (numpy or torch)."""
        a = self.blend_max * s
        if a == s and not self.blend_clip:
            return (1.0 - s) * o + s * tc
        d = a * (tc - o)
        if self.blend_clip:  # cap the amplified difference: texture yes, edge overshoot no
            d = xp.clip(d, -self.blend_clip, self.blend_clip)
        return xp.clip(o + d, 0.0, 1.0)

    def _crops_on_device(self, pid: str, qi: int, s: float, key: Any, y: int, x: int, ty: int, tx: int,
                         turn: int) -> tuple[Any, Any]:
        """The numpy path's arithmetic (float32, same order) on device tensors."""
        import torch

        c, v = self.crop, self._views[pid]
        b = v["bases"][qi, y:y + c, x:x + c].float() / 255.0
        orig = v["orig"][2 * y:2 * y + 2 * c, 2 * x:2 * x + 2 * c].float() / 255.0
        o = orig
        if key is not None:
            tc = self._teacher[key][2 * ty:2 * ty + 2 * c, 2 * tx:2 * tx + 2 * c].float() / 255.0
            o = self._blend(o, tc, s, torch)
        if self.with_orig:
            o = torch.cat([o, orig], dim=2)
        if turn & 1:
            b, o = b.flip(1), o.flip(1)
        if turn & 2:
            b, o = b.flip(0), o.flip(0)
        if turn & 4:
            b, o = b.transpose(0, 1), o.transpose(0, 1)
        return b, o


def laplacian_l1(d: Any) -> Any:
    """Mean |3x3 Laplacian| of a (N, C, H, W) difference image: the error's fine detail."""
    import torch
    import torch.nn.functional as F

    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=d.dtype, device=d.device)
    c = d.shape[1]
    return F.conv2d(d, k.reshape(1, 1, 3, 3).repeat(c, 1, 1, 1), groups=c).abs().mean()


def gaussian_lowpass(x: Any, sigma: float = 1.5) -> Any:
    """Separable Gaussian blur (radius 3 sigma, replicate borders) of a (N, C, H, W) tensor."""
    import torch
    import torch.nn.functional as F

    r = max(1, int(round(3 * sigma)))
    g = torch.exp(-((torch.arange(2 * r + 1, dtype=x.dtype, device=x.device) - r) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    c = x.shape[1]
    if x.is_cuda:  # same values; an index gather has a deterministic backward on CUDA, replicate padding none
        h, w = x.shape[-2:]
        iy = torch.arange(-r, h + r, device=x.device).clamp(0, h - 1)
        ix = torch.arange(-r, w + r, device=x.device).clamp(0, w - 1)
        x = x[..., iy, :][..., ix]
    else:
        x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, g.reshape(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, g.reshape(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def band_split_loss(out: Any, target: Any, orig: Any, sigma: float = 1.5, eps: float = 1e-3) -> tuple[Any, Any]:
    """(MSE of the low band to the original, Charbonnier of the high band to the target).

    Low band: a Gaussian blur (``sigma`` output pixels); high band: the image minus it.
    The low frequencies, which the base determines, follow the original whatever the
    strength (fidelity); the high ones follow the strength-blended target with a robust
    penalty that does not pull an unpredictable texture towards its mean as hard as a
    squared error does.
    """
    import torch

    lo_out = gaussian_lowpass(out, sigma)
    lo_tgt = gaussian_lowpass(target, sigma)
    lo = torch.mean((lo_out - gaussian_lowpass(orig, sigma)) ** 2)
    d = (out - lo_out) - (target - lo_tgt)
    hi = torch.mean(torch.sqrt(d * d + eps * eps))
    return lo, hi


def init_from_generative(net: Any, path: Path) -> None:
    """Start from a generative restorer's weights (same shapes; v2 starts from v1)."""
    import torch
    from safetensors.numpy import load_file

    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in load_file(str(path)).items()}, strict=True)


def init_from_fitted(net: Any, fitted_path: Path) -> None:
    """Start from the shipped fitted restorer: the same function at every strength.

    Same layers; fitted's decoder-side residual gain is folded into the tail conv, its
    1-input conditioning MLP becomes the qp column of the 2-input one, and its bicubic
    (torch interpolate) equals the fixed polyphase conv here. The strength column is drawn
    at random with the qp column's spread (seeded by torch's global seed): at ``s = 0`` the
    network is exactly fitted, at ``s > 0`` it starts perturbed. (A zero column was tried
    first: after 50 steps the output at s = 1 was still byte-identical to s = 0, since the
    strength reaches the picture only through that column and the FiLM layers.)
    """
    import torch

    from sggic.restore.fitted import load_net

    fitted, meta = load_net(fitted_path)
    src = {k: v.detach().clone() for k, v in fitted.state_dict().items()}
    gain = float(meta.get("residual_gain", "1.0"))
    src["tail.weight"] *= gain
    src["tail.bias"] *= gain
    w = src["cond.0.weight"]
    src["cond.0.weight"] = torch.cat([w, torch.randn(w.shape) * float(w.std())], dim=1)
    net.load_state_dict(src, strict=True)


def init_grown(net: Any, path: Path) -> None:
    """Start a deeper net (more residual blocks, same width) from a generative restorer's weights.

    The shared layers are copied; each extra block gets a zero second convolution (an
    identity block: the network computes exactly the source's function at the start) and
    zero FiLM rows, and its first convolution keeps torch's seeded random initialisation,
    so gradients reach the zero convolution from the first step.
    """
    import torch
    from safetensors.numpy import load_file

    src = {k: torch.from_numpy(v.copy()) for k, v in load_file(str(path)).items()}
    dst = net.state_dict()
    for k, v in src.items():
        if k == "cond.2.weight" or k == "cond.2.bias":
            dst[k].zero_()
            dst[k][: v.shape[0]] = v  # rows are (block, scale/shift, channel), blocks outermost
        elif dst[k].shape == v.shape:
            dst[k].copy_(v)
        else:
            raise ValueError(f"{k}: shape {tuple(v.shape)} cannot grow into {tuple(dst[k].shape)}")
    old = 1 + max(int(k.split(".")[1]) for k in src if k.startswith("blocks."))
    for i in range(old, len(net.blocks)):
        dst[f"blocks.{i}.conv2.weight"].zero_()
        dst[f"blocks.{i}.conv2.bias"].zero_()
    net.load_state_dict(dst, strict=True)


def envelope_clip(target: Any, orig: Any, radius: int, margin: float) -> Any:
    """Clip a target to the original's local range (``2 radius + 1`` square window) +- ``margin``.

    An edge's halo is a value beyond both sides of the edge, which this removes; texture
    inside the range of what is around it stays.
    """
    import torch.nn.functional as F

    k = 2 * radius + 1
    hi = F.max_pool2d(orig, k, stride=1, padding=radius) + margin
    lo = -F.max_pool2d(-orig, k, stride=1, padding=radius) - margin
    return target.clamp(min=lo).clamp(max=hi)


def train(views: dict[str, dict[str, np.ndarray]], teacher: dict[tuple[str, int], tuple[int, int, np.ndarray]],
          out_dir: Path, *, init: Path | None = None,
          steps: int, seed: int = 0, batch: int = 8, crop: int = 64, lr: float = 1e-4, warmup: int = 50, mse_weight: float = 20.0,
          ssim_weight: float = 0.05, lap_weight: float = 0.25, p_teacher: float = 0.75, ckpt_every: int = 250,
          threads: int = 2, config: dict[str, int] | None = None, bf16: bool = True, stop_after: int | None = None,
          cond_lr_scale: float = 10.0, loss: str = "mse", blend_max: float = 1.0, hf_weight: float = 1.0,
          band_sigma: float = 1.5, blend_clip: float = 0.0, envelope: int = 0, envelope_margin: float = 2 / 255,
          device: str = "cpu", deadline: float | None = None, adv_weight: float = 0.0,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train on a ``steps``-step schedule; checkpoints (safetensors) every ``ckpt_every``; returns the last one.

    ``stop_after``: end after that many steps of the same schedule (a shorter run whose
    checkpoints are identical to the full run's up to that step). ``init``: fitted
    weights (v1's start) or a generative restorer's (its metadata has ``default_strength``).
    ``loss``: ``"mse"`` (v1: ``mse_weight`` MSE + SSIM + Laplacian-L1 to the target) or
    ``"band"`` (v2: ``mse_weight`` x low-band MSE to the original + ``hf_weight`` x
    high-band Charbonnier to the target + the SSIM term, :func:`band_split_loss`).
    ``blend_max``: see :class:`DistillSampler`. ``envelope`` > 0 (band loss only): the
    target is clipped to the original's local range, :func:`envelope_clip`. ``device``:
    torch device (``"cuda"``: float32 with TF32 off and deterministic algorithms, bf16
    ignored). ``deadline``: a wall-clock time (``time.time()``) after which the run writes a
    checkpoint and stops early (the schedule stays the ``steps``-step one). ``adv_weight`` > 0
    (band loss only): a patch discriminator (``train.build_discriminator``) learns originals
    from outputs, and each output's adversarial term is weighted by its strength, so the
    faithful end (``s = 0``) feels none of it.
    """
    import torch
    import torch.nn.functional as F

    from sggic.restore.generative import DEFAULT_CONFIG, build_net
    from sggic.training.train import LossLog, checkpoint, cosine, forward, seeded_start, ssim, write_history

    rng, cfg = seeded_start(seed, threads, DEFAULT_CONFIG, config)
    cl = torch.channels_last
    net = build_net(**cfg)
    if init is not None:
        from safetensors import safe_open

        with safe_open(str(init), framework="np") as f:
            meta = f.metadata() or {}
        if "default_strength" not in meta:
            init_from_fitted(net, init)
        elif json.loads(meta.get("config", "{}")).get("blocks", 6) < cfg["blocks"]:
            init_grown(net, init)
        else:
            init_from_generative(net, init)
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)  # warns (log) where an op has no deterministic kernel
        bf16 = False
    net = net.to(device=device, memory_format=cl)
    # the conditioning MLP learns the new strength pathway: 10x the body's learning rate
    cond_params = list(net.cond.parameters())
    body = [p for n, p in net.named_parameters() if not n.startswith("cond.")]
    opt = torch.optim.Adam([{"params": body, "scale": 1.0}, {"params": cond_params, "scale": cond_lr_scale}],
                           lr=lr, betas=(0.9, 0.99))
    # linear warm-up (Adam's first updates are ~lr per weight whatever the gradient: without
    # it the first steps knock the fitted starting point off by several grey levels), then cosine
    sched = lambda s: min(1.0, s / max(1, warmup)) * cosine(s, steps)  # noqa: E731
    if loss not in ("mse", "band"):
        raise ValueError(f"unknown loss {loss!r}")
    band = loss == "band"
    if (envelope or adv_weight) and not band:
        raise ValueError("envelope and adv_weight need the band loss")
    sampler = DistillSampler(views, teacher, crop, rng, p_teacher, blend_max=blend_max, with_orig=band,
                             blend_clip=blend_clip, device=device if cuda else None)
    disc = opt_d = None
    if adv_weight:
        from sggic.training.train import build_discriminator

        disc = build_discriminator().to(device=device, memory_format=cl)
        opt_d = torch.optim.Adam(disc.parameters(), lr=lr / 2, betas=(0.5, 0.99))
    bce = F.binary_cross_entropy_with_logits
    out_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    t0 = time.time()
    names = ({"lo": ("lo-mse", ".5f"), "hi": ("hi-l1", ".4f"), "ssim": ("1-ssim", ".4f"),
              **({"adv": ("adv", ".3f"), "d": ("d", ".3f")} if adv_weight else {})} if band else
             {"mse": ("mse", ".5f"), "ssim": ("1-ssim", ".4f"), "lap": ("lap", ".4f")})
    losses = LossLog(names, steps, t0, log)
    path = out_dir / "none"
    last = min(steps, stop_after or steps)
    for step in range(1, last + 1):
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"] * sched(step)
        lo, hi, cond = (t.to(device, non_blocking=True) for t in sampler.batch(batch))
        out, hi = forward(net, lo, hi, cond, bf16)
        if band:
            hi, orig = hi[:, :3], hi[:, 3:]
            if envelope:
                hi = envelope_clip(hi, orig, envelope, envelope_margin)
            lo_l, hi_l = band_split_loss(out, hi, orig, band_sigma)
            ls = 1 - ssim(out, hi)
            total = mse_weight * lo_l + hf_weight * hi_l + ssim_weight * ls
            parts = {"lo": lo_l, "hi": hi_l, "ssim": ls}
            if disc is not None:
                for p in disc.parameters():
                    p.requires_grad_(False)
                fake = disc(out)
                w = cond[:, 1]
                per = bce(fake, torch.ones_like(fake), reduction="none").mean(dim=(1, 2, 3))
                adv = (per * w).sum() / w.sum().clamp(min=1e-6)
                total = total + adv_weight * adv
                parts["adv"] = adv
        else:
            mse = F.mse_loss(out, hi)
            ls = 1 - ssim(out, hi)
            lap = laplacian_l1(out - hi)
            total = mse_weight * mse + ssim_weight * ls + lap_weight * lap
            parts = {"mse": mse, "ssim": ls, "lap": lap}
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if disc is not None:
            for p in disc.parameters():
                p.requires_grad_(True)
            rl, fl = disc(orig), disc(out.detach().clamp(0, 1))
            d_loss = bce(rl, torch.ones_like(rl)) + bce(fl, torch.zeros_like(fl))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            parts["d"] = d_loss
        losses.add(**parts)
        losses.end_step(step)
        late = deadline is not None and time.time() > deadline
        if step % ckpt_every == 0 or step == last or late:
            path = checkpoint(net, out_dir, step, cfg, seed)
            history.append({"step": step, "path": str(path), "elapsed_s": round(time.time() - t0, 1)})
            write_history(out_dir, history)
        if late:
            log(f"deadline reached: stopped after step {step} of {steps}")
            break
    return {"last": str(path), "history": history, "train_seconds": round(time.time() - t0, 1), "config": cfg}


STRENGTHS = (0.0, 0.5, 0.75, 1.0)


def evaluate_strengths(weights: Path, val: dict[str, dict[str, np.ndarray]], qps: tuple[int, ...] = (48,),
                       strengths: tuple[float, ...] = STRENGTHS, log: Callable[[str], None] = print) -> list[dict[str, float]]:
    """Mean PSNR / SSIMULACRA2 / BRISQUE on held-out train views per strength, and bicubic's.

    Runs the shipped decode path (ncnn), so what is calibrated is what users get.
    """
    from sggic.metrics import get_metric
    from sggic.restore.base import RestoreContext
    from sggic.restore.bicubic import bicubic_2x
    from sggic.restore.generative import GenerativeRestorer

    m = {k: get_metric(k) for k in ("psnr", "ssimulacra2", "brisque")}
    r = GenerativeRestorer(weights=weights)

    def score(img: np.ndarray, orig: np.ndarray) -> dict[str, float]:
        return {k: float(fn(img) if k == "brisque" else fn(orig, img)) for k, fn in m.items()}

    rows = []
    cases = [(v, qp) for _, v in sorted(val.items()) for qp in qps]
    bic = [score(bicubic_2x(v["bases"][int(np.nonzero(v["qps"] == qp)[0][0])]), v["orig"]) for v, qp in cases]
    for s in strengths:
        res = [score(r.restore(v["bases"][int(np.nonzero(v["qps"] == qp)[0][0])], RestoreContext(1, qp, strength=s)),
                     v["orig"]) for v, qp in cases]
        row = {"strength": s, **{k: float(np.mean([x[k] for x in res])) for k in m},
               **{f"bic_{k}": float(np.mean([x[k] for x in bic])) for k in m}}
        rows.append(row)
        log("strength " + json.dumps({k: round(v, 3) for k, v in row.items()}))
    return rows


def choose_strength(rows: list[dict[str, float]], max_psnr_loss: float = 0.3,
                    max_ssimulacra2_loss: float = 1.0) -> float:
    """The default strength: the lowest BRISQUE among strengths whose PSNR is at most
    ``max_psnr_loss`` dB and whose SSIMULACRA2 at most ``max_ssimulacra2_loss`` points below
    bicubic on the same held-out bases; the faithful end if none qualifies.

    Why these bounds: against the issue's baseline (the standard VVC stream at half
    resolution + bicubic, same budget) an sggic file's base is worth ~+0.4 dB and ~+4.5
    SSIMULACRA2 at 0.02-0.03 bpp (stripped parameter sets, README), so a restorer within
    these bounds of bicubic leaves the done-when's "PSNR at most 0.3 dB lower, SSIMULACRA2
    at least 3 higher" some room. Chosen before any dev measurement of this restorer.
    """
    ok = [r for r in rows if r["psnr"] >= r["bic_psnr"] - max_psnr_loss
          and r["ssimulacra2"] >= r["bic_ssimulacra2"] - max_ssimulacra2_loss]
    return min(ok, key=lambda r: r["brisque"])["strength"] if ok else 0.0


def export_calibrated(state: dict[str, np.ndarray], meta: dict[str, Any], val: dict[str, dict[str, np.ndarray]],
                      export: Path, *, qps: tuple[int, ...], strengths: tuple[float, ...], max_psnr_loss: float,
                      max_ssimulacra2_loss: float, log: Callable[[str], None] = print) -> float:
    """Score ``state`` on the hold-out ``val`` at ``strengths`` (shipped decode path), choose the
    default strength (:func:`choose_strength`) and write the weights with ``meta`` to ``export``
    (:func:`~sggic.training.canonical.save_canonical`: the same content gives the same bytes)."""
    from .canonical import save_canonical

    enc = lambda m: {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in m.items()}  # noqa: E731
    export.parent.mkdir(parents=True, exist_ok=True)
    tmp = export.with_name(export.name + ".candidate")
    save_canonical(state, str(tmp), metadata=enc({**meta, "default_strength": "0.5"}))
    try:
        rows = evaluate_strengths(tmp, val, qps=qps, strengths=strengths, log=log)
    finally:
        tmp.unlink()
    strength = choose_strength(rows, max_psnr_loss, max_ssimulacra2_loss)
    log(f"default strength {strength}")
    meta.update(default_strength=str(strength), strength_calibration=rows)
    save_canonical(state, str(export), metadata=enc(meta))
    log(f"exported {export}")
    return strength
