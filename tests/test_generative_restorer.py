"""The generative restorer: the ncnn port against the torch network, strength, tiling,
determinism across processes, no torch at decode time, and reproducible training."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ncnn")

import torch.nn.functional as F  # noqa: E402

from sggic.errors import InputError, MissingWeights  # noqa: E402
from sggic.restore import registry  # noqa: E402
from sggic.restore.base import RestoreContext  # noqa: E402
from sggic.restore.bicubic import bicubic_2x  # noqa: E402
from sggic.restore.generative import (  # noqa: E402
    GenerativeRestorer,
    build_net,
    default_weights_path,
    load_state,
    normalise_qp,
)
from sggic.training.train import save_generator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = {"channels": 8, "blocks": 2, "cond_hidden": 4}


def _tiny_net(seed: int = 0):
    torch.manual_seed(seed)
    net = build_net(**TINY)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)  # the real init zeroes the output conv: make every part matter
    return net.eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generative") / "tiny.safetensors"
    save_generator(_tiny_net(), path, {"config": TINY, "default_strength": "0.5"})
    return path


def _image(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (127 + 60 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]).astype(np.int16)
    return np.clip(smooth + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def _torch_u8(net, rgb: np.ndarray, qp: float, s: float) -> np.ndarray:
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        y = net(x, torch.tensor([[normalise_qp(qp), s]]))[0]
    return torch.clamp(torch.round(y * 255), 0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def test_fixed_conv_is_torch_bicubic() -> None:
    net = build_net(**TINY)
    x = torch.rand(1, 3, 13, 17)
    up = F.pixel_shuffle(F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), net.bicubic), 2)
    ref = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert float((up - ref).abs().max()) < 1e-5


@pytest.mark.parametrize("qp,s", [(50, 0.0), (38, 0.7), (57, 1.0)])
def test_ncnn_port_matches_torch(weights: Path, qp: int, s: float) -> None:
    """Same pixels as the torch network up to float summation order: at most 1 grey level,
    on under 0.1 % of the values (measured: ~0.004 %)."""
    img = _image(37, 45)
    ours = GenerativeRestorer(weights=weights, threads=1).restore(img, RestoreContext(1, qp, strength=s))
    ref = _torch_u8(_tiny_net(), img, qp, s)
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.max() <= 1
    assert np.mean(diff > 0) < 1e-3


def test_strength_and_qp_change_the_output(weights: Path) -> None:
    img = _image(24, 30)
    r = GenerativeRestorer(weights=weights)
    a = r.restore(img, RestoreContext(1, 50, strength=0.0))
    b = r.restore(img, RestoreContext(1, 50, strength=1.0))
    c = r.restore(img, RestoreContext(1, 40, strength=0.0))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    # None falls back to the constructor's strength, then to the weights' default (0.5 here)
    assert np.array_equal(r.restore(img, RestoreContext(1, 50)), r.restore(img, RestoreContext(1, 50, strength=0.5)))
    r1 = GenerativeRestorer(weights=weights, strength=1.0)
    assert np.array_equal(r1.restore(img, RestoreContext(1, 50)), b)
    assert r.default_strength == 0.5


@pytest.mark.parametrize("bad", [-0.1, 1.5, "x", float("nan")])
def test_bad_strength_is_an_input_error(weights: Path, bad: object) -> None:
    with pytest.raises(InputError):
        GenerativeRestorer(weights=weights).restore(_image(8, 8), RestoreContext(1, 50, strength=bad))  # type: ignore[arg-type]


@pytest.mark.parametrize("h,w", [(1, 1), (17, 23)])
def test_shapes(weights: Path, h: int, w: int) -> None:
    out = GenerativeRestorer(weights=weights).restore(_image(h, w), RestoreContext(1, 50))
    assert out.shape == (2 * h, 2 * w, 3) and out.dtype == np.uint8


def test_tiled_equals_untiled(weights: Path) -> None:
    img = _image(70, 90)
    whole = GenerativeRestorer(weights=weights, tile=256).restore(img, RestoreContext(1, 50))
    tiled = GenerativeRestorer(weights=weights, tile=24, overlap=16).restore(img, RestoreContext(1, 50))
    assert int(np.abs(whole.astype(int) - tiled.astype(int)).max()) <= 1
    assert np.mean(whole != tiled) < 1e-3


def test_other_codecs_fall_back_to_bicubic(weights: Path) -> None:
    img = _image(20, 20)
    out = GenerativeRestorer(weights=weights).restore(img, RestoreContext(codec_id=2, quality=50))
    assert np.array_equal(out, bicubic_2x(img))


def test_missing_or_wrong_weights(tmp_path: Path) -> None:
    with pytest.raises(MissingWeights):
        GenerativeRestorer(weights=tmp_path / "nope.safetensors").check_available()
    bad = tmp_path / "bad.safetensors"
    save_generator(_tiny_net(), bad, {"config": {"channels": 16, "blocks": 2, "cond_hidden": 4}})
    with pytest.raises(MissingWeights):
        load_state(bad)


def test_registered_as_default_with_frozen_id() -> None:
    from sggic.restore.generative import (WEIGHTS_FILE, WEIGHTS_FILE_V1, WEIGHTS_FILE_V2, WEIGHTS_FILE_V3,
                                          GenerativeRestorerV1, GenerativeRestorerV2, GenerativeRestorerV3,
                                          GenerativeRestorerV3b)

    assert registry.restorer_id("generative") == 9  # v4: v3's recipe, trained on a CPU (reproducible)
    assert registry.restorer_id("generative-3b") == 8  # v3 with the adaptive target of issue 10
    assert registry.restorer_id("generative-3") == 7  # v3 with its first adaptive model
    assert registry.restorer_id("generative-2") == 6  # v2 keeps its id and weights
    assert registry.restorer_id("generative-1") == 4  # v1 too
    assert registry.DEFAULT_RESTORER == "generative"
    assert type(registry.restorer_by_id(0)) is GenerativeRestorer
    v1, v2 = registry.restorer_by_id(4), registry.restorer_by_id(6)
    assert isinstance(v1, GenerativeRestorerV1) and v1.name == "generative-1"
    assert isinstance(v2, GenerativeRestorerV2) and v2.name == "generative-2"
    assert v1.weights.name == WEIGHTS_FILE_V1 == "restorer-generative.safetensors"
    assert v2.weights.name == WEIGHTS_FILE_V2 == "restorer-generative-2.safetensors"
    v3 = registry.restorer_by_id(7)
    assert isinstance(v3, GenerativeRestorerV3) and v3.name == "generative-3"
    assert v3.weights.name == WEIGHTS_FILE_V3 == "restorer-generative-3.safetensors"
    v3b = registry.restorer_by_id(8)
    assert type(v3b) is GenerativeRestorerV3b and v3b.name == "generative-3b"
    assert v3b.weights == v3.weights  # same network; only the adaptive model differs
    assert registry.restorer_by_id(9).weights.name == WEIGHTS_FILE == "restorer-generative-4.safetensors"
    assert registry.restorer_name(3) == "fitted"  # old files keep their restorer


_CHILD = """
import hashlib, sys
import numpy as np
from sggic.restore.base import RestoreContext
from sggic.restore.generative import GenerativeRestorer
rng = np.random.default_rng(5)
img = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
out = GenerativeRestorer(weights=sys.argv[1], threads=int(sys.argv[2])).restore(img, RestoreContext(1, 47, strength=0.6))
print(hashlib.sha256(out.tobytes()).hexdigest(), "torch" in sys.modules)
"""


def test_deterministic_across_processes_without_torch(weights: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    outs = [subprocess.run([sys.executable, "-c", _CHILD, str(weights), "2"], capture_output=True, text=True,
                           check=True, env=env, cwd=ROOT).stdout.split() for _ in range(2)]
    assert outs[0] == outs[1]
    assert outs[0][1] == "False"  # decoding never imports torch


def test_pipeline_strength_option(tmp_path: Path) -> None:
    """``decode(strength=)`` reaches the restorer; bad values fail before any work."""
    import sggic
    from sggic.pipeline import decode_detailed

    data = sggic.encode(_image(48, 64), bpp=0.5, base="vvc", restorer="generative")
    if not default_weights_path().is_file():
        pytest.skip("shipped generative weights absent")
    a = np.asarray(decode_detailed(data, strength=0.0).image)
    b = np.asarray(decode_detailed(data, strength=1.0).image)
    assert a.shape == (48, 64, 3) and not np.array_equal(a, b)
    with pytest.raises(InputError):
        decode_detailed(data, strength=1.2)
    out = tmp_path / "o.png"
    r = subprocess.run([sys.executable, "-m", "sggic.cli", "decode", str(tmp_path / "x.sgc"), "-o", str(out),
                        "--strength", "2"], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("name", ["restorer-generative.safetensors", "restorer-generative-2.safetensors"])
def test_shipped_weights_metadata(name: str) -> None:
    path = default_weights_path(name)
    if not path.is_file():
        pytest.skip("shipped generative weights absent")
    state, meta = load_state(path)
    assert 0.0 <= float(meta["default_strength"]) <= 1.0
    assert json.loads(meta["train_photos"]) and "command" in meta
    assert not set(json.loads(meta["train_photos"])) & set(json.loads(meta["holdout_photos"]))
    assert path.stat().st_size < 4_000_000


def test_v2_weights_differ_from_v1() -> None:
    """A new id pins new weights: v2's file must not be v1's under another name."""
    a, b = default_weights_path("restorer-generative.safetensors"), default_weights_path()
    if not (a.is_file() and b.is_file()):
        pytest.skip("shipped generative weights absent")
    sa, sb = load_state(a)[0], load_state(b)[0]
    assert any(not np.array_equal(sa[k], sb[k]) for k in sa)
    meta = load_state(b)[1]
    assert "QPA off" in meta["bases"] and meta["loss"] == "band"


def test_training_is_reproducible(tmp_path: Path) -> None:
    from sggic.training.distill import train

    rng = np.random.default_rng(0)
    views = {f"p{i}": {"orig": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), "qps": np.array([44, 50], np.int16),
                       "bases": rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)} for i in range(2)}
    teacher = {("p0", 50): (0, 0, rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))}
    from safetensors.numpy import load_file

    hashes = []
    for run in range(2):
        res = train(views, teacher, tmp_path / f"r{run}", steps=4, batch=2, crop=16, ckpt_every=4,
                    config=TINY, threads=1, log=lambda m: None)
        # tensors, not file bytes: safetensors writes the metadata keys in hash-map order
        state = load_file(res["last"])
        hashes.append(hashlib.sha256(b"".join(state[k].tobytes() for k in sorted(state))).hexdigest())
    assert hashes[0] == hashes[1]
    first = load_file(tmp_path / "r0" / "ckpt-000004.safetensors")
    assert any(np.abs(v).sum() > 0 for k, v in first.items() if k.startswith("tail."))  # it did train


def test_packed_vvc_quality_conditions_on_its_qp(weights: Path) -> None:
    # rate control packs qp with a chroma offset (sggic.codecs.vvc.pack_quality): the network
    # must see the qp, not the packed number (regression: it read 1469 as a qp)
    from sggic.codecs.vvc import Settings, pack_quality

    img = _image(24, 30)
    r = GenerativeRestorer(weights=weights)
    packed = pack_quality(Settings(50, -4, True))
    assert packed != 50
    assert np.array_equal(r.restore(img, RestoreContext(1, packed, strength=0.5)),
                          r.restore(img, RestoreContext(1, 50, strength=0.5)))
