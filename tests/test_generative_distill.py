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


def test_grown_net_starts_as_the_source_function(tmp_path: Path) -> None:
    from sggic.restore.generative import build_net
    from sggic.training.distill import init_grown
    from sggic.training.train import save_generator

    torch.manual_seed(3)
    small = build_net(**TINY)
    for p in small.parameters():  # non-zero everywhere, tail and FiLM included
        torch.nn.init.normal_(p, std=0.05)
    src = tmp_path / "small.safetensors"
    save_generator(small, src, {"config": TINY, "default_strength": "0.5"})
    big = build_net(**{**TINY, "blocks": TINY["blocks"] + 2})
    init_grown(big, src)
    x, cond = torch.rand(2, 3, 12, 12), torch.tensor([[0.3, 0.0], [0.7, 1.0]])
    with torch.no_grad():
        assert torch.allclose(big(x, cond), small(x, cond), atol=1e-6)
    extra = TINY["blocks"]
    assert float(big.blocks[extra].conv1.weight.detach().abs().sum()) > 0  # trainable from the first step
    with pytest.raises(ValueError, match="cannot grow"):
        init_grown(build_net(**{**TINY, "channels": 12, "blocks": 4}), src)


def test_envelope_clip_removes_overshoot_and_keeps_texture() -> None:
    from sggic.training.distill import envelope_clip

    orig = torch.zeros(1, 1, 1, 16)
    orig[..., 8:] = 0.5  # an edge from 0 to 0.5
    target = orig.clone()
    target[..., 8] = 0.8  # halo on the bright side
    target[..., 7] = -0.2  # and on the dark side
    target[..., 9] = 0.3  # texture inside the local range
    target[..., 13] = 0.55  # a bump where everything around is 0.5
    out = envelope_clip(target, orig, radius=2, margin=0.0)
    assert float(out[..., 8]) == 0.5 and float(out[..., 7]) == 0.0 and float(out[..., 9]) == pytest.approx(0.3)
    assert float(out[..., 13]) == 0.5
    assert float(envelope_clip(target, orig, 2, 0.1)[..., 8]) == pytest.approx(0.6)


def test_train_stops_at_the_deadline(tmp_path: Path) -> None:
    import time

    views, teacher = _views()
    res = train(views, teacher, tmp_path / "r", steps=50, batch=2, crop=16, ckpt_every=50, config=TINY,
                threads=1, loss="band", envelope=1, deadline=time.time() - 1, log=lambda m: None)
    assert [h["step"] for h in res["history"]] == [1] and Path(res["last"]).is_file()


def test_torch_teacher_matches_the_ncnn_restorer() -> None:
    from sggic.errors import SggicError
    from sggic.restore.base import RestoreContext
    from sggic.restore.realesrgan import RealESRGANRestorer
    from sggic.training.esrgan_torch import load_x4plus, teacher_x2

    try:
        graph = load_x4plus()
        ref = RealESRGANRestorer(threads=1)
        ref.check_available()
    except SggicError as exc:
        pytest.skip(f"Real-ESRGAN unavailable: {exc}")
    rgb = np.random.default_rng(5).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    rgb[:, :12] //= 4  # an edge and two textures
    d = np.abs(teacher_x2(graph, rgb).astype(int) - ref.restore(rgb, RestoreContext(1, 48)).astype(int))
    assert d.max() <= 1 and (d > 0).mean() < 0.005  # summation order flips a rare rounding


def test_ncnn_reader_rejects_what_it_cannot_run(tmp_path: Path) -> None:
    from sggic.training.esrgan_torch import parse_param, read_convolutions

    with pytest.raises(ValueError, match="magic"):
        parse_param("1234\n1 1\n")
    with pytest.raises(ValueError, match="Pooling"):
        parse_param("7767517\n2 2\nInput in 0 1 data\nPooling p 1 1 data out 0=0\n")
    layers = parse_param("7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=1 1=1 5=1 6=2\n")
    w = np.array([0.5, -1.0], np.float16).tobytes()
    data = (0x01306B47).to_bytes(4, "little") + w + np.float32(0.25).tobytes()
    convs = read_convolutions(layers, data)
    assert convs["c"][0].shape == (1, 2, 1, 1) and convs["c"][1][0] == 0.25
    with pytest.raises(ValueError, match="bytes left"):
        read_convolutions(layers, data + b"\0\0\0\0")
    with pytest.raises(ValueError, match="storage tag"):
        read_convolutions(layers, (7).to_bytes(4, "little") + w + np.float32(0.25).tobytes())


def test_device_sampler_cuts_the_same_batches() -> None:
    views, teacher = _views()
    teacher[("p1", 44, 0)] = (8, 4, np.random.default_rng(9).integers(0, 256, (80, 80, 3), dtype=np.uint8))
    for kw in ({"blend_max": 1.0}, {"blend_max": 6.0, "with_orig": True, "blend_clip": 0.05}):
        a = DistillSampler(views, teacher, 8, np.random.default_rng(3), 0.75, **kw).batch(48)
        b = DistillSampler(views, teacher, 8, np.random.default_rng(3), 0.75, device="cpu", **kw).batch(48)
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert float(a[2][:, 1].max()) > 0  # teacher samples were drawn


def test_adversarial_term_trains_a_discriminator(tmp_path: Path) -> None:
    views, teacher = _views()
    logs: list[str] = []
    res = train(views, teacher, tmp_path / "r", steps=2, batch=2, crop=16, ckpt_every=2, config=TINY, threads=1,
                loss="band", adv_weight=0.01, log=logs.append)
    assert Path(res["last"]).is_file()
    with pytest.raises(ValueError, match="band"):
        train(views, teacher, tmp_path / "m", steps=2, batch=2, crop=16, config=TINY, threads=1, loss="mse",
              adv_weight=0.01, log=logs.append)
