"""The full profile's components on tiny random models (no network, no real weights).

Needs the optional extra ``full`` (torch, transformers, compressai); skipped without it.
The models are built once per session by ``sggic models make-tiny`` (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sggic.cli import main
from sggic.codecs import codec_by_id, get_codec
from sggic.config import RunConfig
from sggic.errors import BitstreamError, InputError, MissingWeights

pytestmark = pytest.mark.full
for _module in ("transformers", "compressai", "torch", "safetensors"):
    pytest.importorskip(_module)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cfg(tiny_models) -> RunConfig:
    return RunConfig(profile="full", models=tiny_models)


@pytest.fixture(scope="module")
def photo(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[::4, ::4])  # 128x128


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Hub and torch caches that hold nothing: the built-in registry finds no weights."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("SGGIC_ALLOW_DOWNLOAD", raising=False)


# --- registry, make-tiny, check -------------------------------------------------------------


def test_make_tiny_writes_every_component(tiny_models: Path, capsys) -> None:
    from sggic.models.registry import COMPONENTS, load_registry

    reg = load_registry(tiny_models)
    for name in COMPONENTS:
        comp = reg.get(name)
        assert comp.hub is None or name == "cheng2020"
        paths = [lv.path for lv in comp.levels] if comp.levels else [comp.path]
        assert all(p is not None and p.exists() for p in paths), name
    assert main(["models", "check", "--models", str(tiny_models)]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok ") == 3 + len(reg.get("cheng2020").levels)  # clipseg, clip, levels, diffusion
    assert reg.diffusion is not None and "\n  diffusion     ok" in out
    assert "fingerprint" in out


def test_make_tiny_refuses_a_non_empty_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "x").write_text("keep me")
    assert main(["models", "make-tiny", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_missing_weights_offline_is_one_clear_error(empty_caches, capsys) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec
    from sggic.segment.clipseg import CLIPSegSegmenter

    t = time.perf_counter()
    with pytest.raises(MissingWeights) as info:
        CLIPSegSegmenter(RunConfig(profile="full")).segment(np.zeros((8, 8, 3), np.uint8), ["cat"])
    msg = str(info.value)
    assert msg.startswith("clipseg: CIDAS/clipseg-rd64-refined") and "hf download" in msg and "\n" not in msg
    with pytest.raises(MissingWeights) as info:
        Cheng2020Codec().encode(np.zeros((8, 8, 3), np.uint8), 0)
    assert info.value.args[0].startswith("cheng2020: ") and "\n" not in str(info.value)
    assert main(["models", "check"]) == 5
    cap = capsys.readouterr()
    assert "clipseg" in cap.out and "missing" in cap.out and "cannot load here" in cap.err
    assert "Traceback" not in cap.out + cap.err
    assert time.perf_counter() - t < 60  # no waiting on a network


def test_a_missing_local_path_names_the_component(tmp_path: Path) -> None:
    from sggic.segment.clipseg import CLIPSegSegmenter

    toml = tmp_path / "m.toml"
    toml.write_text('[clipseg]\npath = "nowhere"\n')
    with pytest.raises(MissingWeights, match=r"^clipseg: .*nowhere does not exist"):
        CLIPSegSegmenter(RunConfig(profile="full", models=toml)).load()


# --- CLIPSeg -------------------------------------------------------------------------------


def test_clipseg_soft_masks_at_output_size(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.segment.clipseg import CLIPSegSegmenter, coverage

    seg = CLIPSegSegmenter(cfg)
    masks = seg.segment(photo, ["astronaut", "flag", "helmet"], size=(256, 200))
    assert seg.loaded is not None and seg.loaded.where.startswith("local ")
    assert len(masks) == 3
    for m in masks:
        assert m.shape == (256, 200) and m.dtype == np.float32
        assert 0.0 <= m.min() and m.max() <= 1.0
        assert len(np.unique(m)) > 100  # sigmoid + bilinear, no threshold
        assert 0.0 < coverage(m) < 1.0
    assert not np.array_equal(masks[0], masks[1])  # the prompt matters
    again = CLIPSegSegmenter(cfg).segment(photo, ["astronaut", "flag", "helmet"], size=(256, 200))
    assert all(np.array_equal(a, b) for a, b in zip(masks, again))  # deterministic on CPU
    (single,) = seg.segment(photo, ["flag"])
    assert single.shape == photo.shape[:2]
    assert seg.segment(photo, []) == []
    with pytest.raises(InputError):
        seg.segment(photo.astype(np.float32), ["flag"])
    with pytest.raises(InputError):
        seg.segment(photo, [""])


# --- CLIP patch maps (the "w/o CLIPSeg" ablation) --------------------------------------------


def test_clip_patch_maps_at_the_encoder(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.segment.patchmap import CLIPPatchMapper, PatchMapSegmenter, pack_maps

    mapper = CLIPPatchMapper(cfg)
    names = ["astronaut", "flag", "helmet"]
    sim = mapper.similarity(photo, names)
    assert sim.shape == (3, 8, 8) and sim.dtype == np.float32
    assert np.all(np.abs(sim) <= 1.0 + 1e-5) and sim.std() > 0
    assert np.array_equal(sim, CLIPPatchMapper(cfg).similarity(photo, names))
    thr = float(np.median(sim))
    maps = mapper.maps(photo, names, threshold=thr)
    assert all(m.dtype == bool and m.shape == (8, 8) for m in maps)
    assert np.array_equal(np.stack(maps), sim > thr)
    data = pack_maps(maps)
    assert len(data) == 24  # 64 bits per object, counted in the file
    masks = PatchMapSegmenter.from_bytes(data, 3).segment(photo, names, size=(512, 512))
    assert [m.shape for m in masks] == [(512, 512)] * 3


# --- Cheng2020 base codec --------------------------------------------------------------------


def test_cheng2020_is_codec_id_6_with_registry_levels(cfg: RunConfig) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec

    assert codec_by_id(6).name == "cheng2020" and get_codec("cheng2020").codec_id == 6
    codec = Cheng2020Codec(cfg)
    assert list(codec.qualities()) == [0, 1, 2]
    assert list(Cheng2020Codec().qualities()) == [0, 1, 2, 3, 4, 5]  # built-in: CompressAI zoo 1-6


def test_cheng2020_round_trip_odd_size_and_compact_payload(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec, unpack_payload

    codec = Cheng2020Codec(cfg)
    img = np.ascontiguousarray(photo[:50, :70])
    payload = codec.encode(img, 1)
    z, y = unpack_payload(payload)
    assert len(payload) == 1 + len(z) + len(y)  # a length byte and the two strings: no shape stored
    out = codec.decode(payload, 70, 50, 1)
    assert out.shape == (50, 70, 3) and out.dtype == np.uint8
    assert codec.encode(img, 1) == payload
    assert np.array_equal(codec.decode(payload, 70, 50, 1), out)
    sizes = [len(codec.encode(photo, q)) for q in codec.qualities()]
    assert sizes[0] < sizes[1] < sizes[2], sizes


def test_cheng2020_errors(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec

    codec = Cheng2020Codec(cfg)
    payload = codec.encode(photo[:64, :64].copy(), 0)
    for bad in [b"", b"\x00", b"\xff\xff\xff\xff\xff\xff", b"\x05ab"]:
        with pytest.raises(BitstreamError):
            codec.decode(bad, 64, 64, 0)
    with pytest.raises(BitstreamError):
        codec.decode(payload, 64, 64, 7)
    with pytest.raises(InputError):
        codec.encode(photo, 3)
    with pytest.raises(InputError):
        codec.encode(photo.astype(np.float32), 0)


_CHILD = """
import hashlib, sys
from pathlib import Path
import torch
torch.set_num_threads(2)  # the codec codes with its own fixed thread count
from sggic.codecs.cheng2020 import Cheng2020Codec
from sggic.config import RunConfig
toml, q, hexdata = sys.stdin.read().split()
out = Cheng2020Codec(RunConfig(profile="full", models=Path(toml))).decode(bytes.fromhex(hexdata), 96, 80, int(q))
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_cheng2020_decodes_identically_in_another_process(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec

    codec = Cheng2020Codec(cfg)
    img = np.ascontiguousarray(photo[:80, :96])
    payload = codec.encode(img, 2)
    expected = hashlib.sha256(codec.decode(payload, 96, 80, 2).tobytes()).hexdigest()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=f"{cfg.models} 2 {payload.hex()}",
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == expected


def test_rate_control_searches_the_levels(cfg: RunConfig, photo: np.ndarray) -> None:
    from sggic.codecs.cheng2020 import Cheng2020Codec
    from sggic.ratecontrol import fit_rate

    codec = Cheng2020Codec(cfg)
    sizes = [len(codec.encode(photo, q)) for q in codec.qualities()]
    choice = fit_rate(codec, photo, sizes[1] + 1, lambda q, p: len(p), photo.shape[0] * photo.shape[1])
    assert choice.quality == 1


def test_finetune_two_steps_writes_a_usable_level(tiny_models: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image
    from skimage import data

    from sggic.codecs.cheng2020 import Cheng2020Codec, read_state_dict
    from sggic.models.registry import load_registry

    pics = tmp_path / "pics"
    pics.mkdir()
    Image.fromarray(data.astronaut()[:200, :200]).save(pics / "a.png")
    Image.fromarray(data.chelsea()[:200, :200]).save(pics / "b.jpg")
    init = load_registry(tiny_models).get("cheng2020").levels[0].path
    out = tmp_path / "ft" / "l0045.safetensors"
    assert main(["models", "finetune-cheng2020", "--images", str(pics), "-o", str(out), "--init", str(init),
                 "--lambda", "0.0045", "--steps", "2", "--batch", "2", "--crop", "64", "--log-every", "1"]) == 0
    cap = capsys.readouterr()
    assert "step 2/2" in cap.err and "lambda = 0.0045" in cap.out
    before, after = read_state_dict(init), read_state_dict(out)
    assert before.keys() == after.keys()
    assert not all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    toml = tmp_path / "m.toml"
    toml.write_text(f'[cheng2020]\nlevels = [{{ path = "{out.as_posix()}", lambda = 0.0045 }}]\n')
    codec = Cheng2020Codec(RunConfig(profile="full", models=toml))
    img = np.asarray(data.chelsea()[:64, :64])
    assert codec.decode(codec.encode(img, 0), 64, 64, 0).shape == (64, 64, 3)
    assert main(["models", "finetune-cheng2020", "--images", str(tmp_path / "none"), "-o", str(out)]) == 2
