"""Training pieces of the generative restorer v2: the blended target, the band-split loss,
the start from v1's weights and the reproducibility of the band-loss training."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sggic.training.distill import (  # noqa: E402
    DistillSampler,
    band_split_loss,
    base_quality,
    choose_strength,
    gaussian_lowpass,
    train,
)

TINY = {"channels": 8, "blocks": 2, "cond_hidden": 4}


def _views(seed: int = 0):
    rng = np.random.default_rng(seed)
    views = {f"p{i}": {"orig": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), "qps": np.array([44, 50], np.int16),
                       "bases": rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)} for i in range(2)}
    teacher = {("p0", 50, 0): (0, 0, rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))}
    return views, teacher


def test_lowpass_keeps_constants_and_band_loss_splits() -> None:
    x = torch.full((1, 3, 20, 20), 0.3)
    assert torch.allclose(gaussian_lowpass(x), x, atol=1e-6)
    g = torch.rand(2, 3, 24, 24)
    lo, hi = band_split_loss(g, g, g)
    assert float(lo) == 0.0 and float(hi) <= 1.001e-3  # Charbonnier floor eps
    # a constant offset of the output is low band only: high-band term stays at its floor
    lo, hi = band_split_loss(g + 0.1, g, g)
    assert float(lo) == pytest.approx(0.01, rel=1e-4) and float(hi) < 2e-3
    # the low band follows the original, the high band the target
    t = g + 0.2 * torch.randn_like(g)
    lo, hi = band_split_loss(t, t, g)
    assert float(lo) > 0 and float(hi) <= 1.001e-3


def test_sampler_blend_max_extrapolates_and_clips() -> None:
    views, teacher = _views()
    teacher = {("p0", 50, 0): (0, 0, views["p0"]["orig"][::-1].copy())}  # a "teacher" far from the original
    for bm in (1.0, 2.0):
        s = DistillSampler(views, teacher, 16, np.random.default_rng(3), p_teacher=1.0, blend_max=bm, with_orig=True)
        lo, hi, cond = s.batch(64)
        assert hi.shape[1] == 6 and lo.shape[1] == 3
        tgt, orig = hi[:, :3], hi[:, 3:]
        assert float(tgt.min()) >= 0.0 and float(tgt.max()) <= 1.0
        d = (tgt - orig).abs().flatten(1).mean(1)
        s0 = cond[:, 1] == 0
        assert float(d[s0].max()) == 0.0  # s = 0: the original
        if bm == 2.0:  # s = 1 with blend_max 2 is further from the original than the teacher
            ones = cond[:, 1] == 1
            assert ones.any() and float(d[ones].mean()) > 0.3


def test_base_quality_packs_qpa_off() -> None:
    from sggic.codecs.vvc import unpack_quality

    assert base_quality(46, qpa=True) == 46
    st = unpack_quality(base_quality(46, qpa=False))
    assert tuple(st) == (46, 0, False)


def test_choose_strength_rule() -> None:
    rows = [{"strength": s, "psnr": 30.0 - p, "ssimulacra2": 5.0 - q, "brisque": 60.0 - 10 * s,
             "bic_psnr": 30.0, "bic_ssimulacra2": 5.0} for s, p, q in ((0.0, 0, 0), (0.5, 0.3, 1.0), (1.0, 0.5, 1.0))]
    assert choose_strength(rows, 0.4, 1.5) == 0.5  # 1.0 costs 0.5 dB: out
    assert choose_strength(rows, 0.6, 1.5) == 1.0
    assert choose_strength(rows, 0.1, 0.1) == 0.0


def test_band_training_is_reproducible_and_starts_from_v1(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from sggic.training.train import save_generator
    from sggic.restore.generative import build_net

    torch.manual_seed(1)
    init = tmp_path / "v1.safetensors"
    save_generator(build_net(**TINY), init, {"config": TINY, "default_strength": "1.0"})
    views, teacher = _views()
    hashes = []
    for run in range(2):
        res = train(views, teacher, tmp_path / f"r{run}", init=init, steps=4, batch=2, crop=16, ckpt_every=4,
                    config=TINY, threads=1, loss="band", blend_max=2.0, log=lambda m: None)
        state = load_file(res["last"])
        hashes.append(hashlib.sha256(b"".join(state[k].tobytes() for k in sorted(state))).hexdigest())
    assert hashes[0] == hashes[1]
    start, end = load_file(init), load_file(res["last"])
    assert any(not np.array_equal(start[k], end[k]) for k in start)  # it trained from the v1 start
    assert all(start[k].shape == end[k].shape for k in start)


def test_sampler_blend_clip_caps_the_difference() -> None:
    views, _ = _views()
    teacher = {("p0", 50, 0): (0, 0, views["p0"]["orig"][::-1].copy())}
    s = DistillSampler(views, teacher, 16, np.random.default_rng(4), p_teacher=1.0, blend_max=6.0, with_orig=True,
                       blend_clip=0.05)
    _, hi, cond = s.batch(32)
    d = (hi[:, :3] - hi[:, 3:]).abs()
    assert float(d.max()) <= 0.05 + 1e-6 and float(d[cond[:, 1] > 0].max()) > 0.04
