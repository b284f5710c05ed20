"""Fast tests for the fitted restorer on tiny random networks (plus the shipped weights if present)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sggic.errors import InputError, MissingWeights  # noqa: E402
from sggic.restore import registry  # noqa: E402
from sggic.restore.base import RestoreContext  # noqa: E402
from sggic.restore.bicubic import bicubic_2x  # noqa: E402
from sggic.restore.fitted import FittedRestorer, build_net, default_weights_path, load_net  # noqa: E402
from sggic.training.train import save_generator  # noqa: E402

TINY = {"channels": 8, "blocks": 2, "cond_hidden": 4}
VVC = RestoreContext(codec_id=1, quality=50)


def _tiny_weights(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = build_net(**TINY)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)  # the real init zeroes the output conv: make every part matter
    save_generator(net, path, {"config": TINY, "step": 0})
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_weights(tmp_path_factory.mktemp("fitted") / "tiny.safetensors")


def _image(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (127 + 60 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]).astype(np.int16)
    return np.clip(smooth + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def test_registered_with_frozen_id() -> None:
    assert registry.restorer_id("fitted") == 3
    assert registry.restorer_name(3) == "fitted"
    assert isinstance(registry.restorer_by_id(3), FittedRestorer)


@pytest.mark.parametrize("h,w", [(1, 1), (17, 23), (40, 33)])
def test_shapes(weights: Path, h: int, w: int) -> None:
    out = FittedRestorer(weights=weights).restore(_image(h, w), VVC)
    assert out.shape == (2 * h, 2 * w, 3) and out.dtype == np.uint8


def test_deterministic_and_qp_matters(weights: Path) -> None:
    img = _image(24, 30)
    r = FittedRestorer(weights=weights)
    a, b = r.restore(img, VVC), FittedRestorer(weights=weights).restore(img, VVC)
    assert np.array_equal(a, b)
    other = r.restore(img, RestoreContext(codec_id=1, quality=30))
    assert not np.array_equal(a, other)


def test_tiled_equals_untiled(weights: Path) -> None:
    img = _image(70, 90)
    whole = FittedRestorer(weights=weights, tile=256).restore(img, VVC)
    tiled = FittedRestorer(weights=weights, tile=24, overlap=16).restore(img, VVC)
    assert int(np.abs(whole.astype(int) - tiled.astype(int)).max()) <= 1
    assert np.mean(whole != tiled) < 1e-3


def test_other_codecs_fall_back_to_bicubic(weights: Path) -> None:
    img = _image(20, 20)
    out = FittedRestorer(weights=weights).restore(img, RestoreContext(codec_id=2, quality=50))
    assert np.array_equal(out, bicubic_2x(img))


def test_thread_count_restored(weights: Path) -> None:
    before = torch.get_num_threads()
    FittedRestorer(weights=weights, threads=1).restore(_image(8, 8), VVC)
    assert torch.get_num_threads() == before


_CHILD = """
import hashlib, sys, numpy as np
from sggic.restore.fitted import FittedRestorer
from sggic.restore.base import RestoreContext
img = np.load(sys.argv[1])
out = FittedRestorer(weights=sys.argv[2], threads=int(sys.argv[3])).restore(img, RestoreContext(1, 45))
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_same_pixels_across_processes_and_threads(weights: Path, tmp_path: Path) -> None:
    img = _image(48, 64)
    np.save(tmp_path / "in.npy", img)
    here = hashlib.sha256(FittedRestorer(weights=weights).restore(img, RestoreContext(1, 45)).tobytes()).hexdigest()
    for threads in (1, 2):
        res = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "in.npy"), str(weights), str(threads)],
                             capture_output=True, text=True, check=True)
        assert res.stdout.strip() == here


def test_weights_are_safetensors_with_config(weights: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        assert json.loads(f.metadata()["config"]) == TINY
    net, meta = load_net(weights)
    assert net.channels == 8 and net.nblocks == 2


def test_missing_and_bad_weights(tmp_path: Path) -> None:
    r = FittedRestorer(weights=tmp_path / "absent.safetensors")
    with pytest.raises(MissingWeights, match="train_restorer"):
        r.restore(_image(4, 4), VVC)
    with pytest.raises(MissingWeights):
        r.check_available()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(MissingWeights):
        FittedRestorer(weights=bad).restore(_image(4, 4), VVC)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)])
def test_rejects_bad_input(weights: Path, bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        FittedRestorer(weights=weights).restore(bad, VVC)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(InputError):
        FittedRestorer(threads=0)
    with pytest.raises(InputError):
        FittedRestorer(tile=0)


@pytest.mark.skipif(not default_weights_path().is_file(), reason="shipped weights not built")
def test_shipped_weights_load_and_help() -> None:
    from sggic.metrics import get_metric

    net, meta = load_net(default_weights_path())
    assert default_weights_path().stat().st_size < 4_000_000
    assert "seed" in meta and "train_photos" in meta
    # a smooth ramp with an edge, coded nowhere: the output must stay close to bicubic
    img = _image(32, 32)
    out = FittedRestorer().restore(img, VVC)
    assert get_metric("psnr")(bicubic_2x(img), out) > 20


def test_training_is_reproducible(tmp_path: Path) -> None:
    """Same seed, data and thread count -> bit-identical weights (tiny net, GAN phase included)."""
    from safetensors.torch import load_file

    from sggic.training.train import train

    rng = np.random.default_rng(0)
    views = [{"orig": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
              "bases": rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
              "qps": np.array([40, 50], np.int16), "nbytes": np.array([100, 50], np.int32)} for _ in range(2)]
    states = []
    for run in ("a", "b"):
        res = train(views, [], tmp_path / run, steps=4, batch=2, crop=16, gan_start=1, ckpt_every=4,
                    config=TINY, log=lambda s: None)
        states.append(load_file(res["best"]["path"]))
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_residual_gain_read_from_metadata(tmp_path: Path, weights: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(weights))
    for g in ("0", "1.0", "2.0"):
        save_file(state, str(tmp_path / f"g{g}.safetensors"), metadata={"config": json.dumps(TINY), "residual_gain": g})
    img = _image(16, 16)
    outs = {g: FittedRestorer(weights=tmp_path / f"g{g}.safetensors").restore(img, VVC).astype(int) for g in ("0", "1.0", "2.0")}
    assert np.array_equal(outs["1.0"], FittedRestorer(weights=weights).restore(img, VVC))
    # the detail added at gain 2 is about twice the detail at gain 1 (rounding and clipping aside)
    d1, d2 = outs["1.0"] - outs["0"], outs["2.0"] - outs["0"]
    inside = (outs["2.0"] > 0) & (outs["2.0"] < 255)
    assert np.abs(d2 - 2 * d1)[inside].max() <= 2
