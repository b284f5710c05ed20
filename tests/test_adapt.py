"""Content-adaptive decoding: features, the MLP and its file, the policies, the decoder switches."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

import sggic
from sggic import container
from sggic.adapt.adaptive import AdaptivePolicy, model_path, shipped_model
from sggic.adapt.dyndiff import DynDiffPolicy
from sggic.adapt.features import (FULL_FEATURES, OFFLINE_FEATURES, FeatureExtractor, FeatureInput, Scaler, canny,
                                  check_features, gray_u8, laplacian_variance)
from sggic.adapt.mlp import HIDDEN, AdaptModel, Head, load_model, mlp_forward
from sggic.adapt.registry import POLICIES, get_policy
from sggic.adapt.standin import blend
from sggic.adapt.train import best_fixed_strength, best_strengths, train_head, train_heads
from sggic.errors import BackendUnavailable, InputError, MissingWeights
from sggic.pipeline import decode_detailed, encode_detailed, manual_settings
from sggic.restore.base import RestoreContext, Restorer
from sggic.restore.bicubic import bicubic_2x
from sggic.semantics.schema import Semantics

V4_DEFAULT = 0.4375  # generative v4's calibrated default strength (export's hold-out rule on a 1/16 grid, metadata)


def _constant_model(names: tuple[str, ...], heads: dict[str, tuple[float, float, float]]) -> AdaptModel:
    """A model whose heads output the constant p (zero weights, bias logit(p))."""
    out = {}
    for name, (lo, hi, p) in heads.items():
        params = {"w0": np.zeros((HIDDEN, len(names))), "b0": np.zeros(HIDDEN), "w1": np.zeros((HIDDEN, HIDDEN)),
                  "b1": np.zeros(HIDDEN), "w2": np.zeros((1, HIDDEN)), "b2": np.array([math.log(p / (1 - p))])}
        out[name] = Head(name, lo, hi, params)
    return AdaptModel(Scaler(names, tuple(0.0 for _ in names), tuple(1.0 for _ in names)), out, {"weights_version": 1})


class KnobRestorer(Restorer):
    """Cheap restorer with a strength knob: bicubic, brightened by 40 * strength (None: 0)."""

    name = "knob"
    uses_strength = True

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        s = 0.0 if ctx.strength is None else ctx.strength
        up = bicubic_2x(base).astype(np.float32) + 40.0 * s
        return np.clip(up, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def small_file(astronaut) -> bytes:
    img = np.ascontiguousarray(astronaut[::2, ::2])  # 256x256: a 128x128 base, enough for NIQE's 96x96
    return encode_detailed(img, bpp=0.3, restorer="bicubic").data


@pytest.fixture(scope="module")
def small_fixed_file(astronaut) -> bytes:
    img = np.ascontiguousarray(astronaut[::2, ::2])
    return encode_detailed(img, bpp=0.3, restorer="bicubic", fixed=True).data


# ---------------------------------------------------------------- features

def test_canny_and_laplacian_match_opencv(astronaut) -> None:
    cv2 = pytest.importorskip("cv2")
    for img in (astronaut, np.ascontiguousarray(astronaut[::2, ::2]), np.ascontiguousarray(astronaut[100:163, 7:90])):
        g = gray_u8(img)
        assert np.array_equal(g, cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
        assert np.array_equal(canny(g), cv2.Canny(g, 100, 200) > 0)
        assert laplacian_variance(img) == pytest.approx(cv2.Laplacian(g, cv2.CV_64F).var(), rel=1e-12)


def test_canny_basics() -> None:
    flat = np.full((40, 40), 128, np.uint8)
    assert not canny(flat).any()
    step = flat.copy()
    step[:, 20:] = 250
    e = canny(step)
    assert e.any() and e[:, :18].sum() == 0 and e[:, 23:].sum() == 0


def test_offline_features_and_scaling(astronaut) -> None:
    base = np.ascontiguousarray(astronaut[::2, ::2])
    f = FeatureExtractor(OFFLINE_FEATURES)(FeatureInput(base, 0.03))
    assert list(f) == list(OFFLINE_FEATURES) and f["bpp"] == 0.03
    assert 0 < f["canny"] < 1 and f["laplacian"] > 0
    rows = np.array([[0.1, 100.0, 50.0, 5.0, 0.02], [0.3, 300.0, 20.0, 9.0, 0.05]])
    sc = Scaler.fit(OFFLINE_FEATURES, rows)
    x = sc(np.array([[0.2, 200.0, 40.0, 7.0, 0.035]]))
    # canny raw, laplacian min-max, brisque / 100, niqe min-max, bpp min-max
    assert np.allclose(x, [[0.2, 0.5, 0.4, 0.5, 0.5]])
    with pytest.raises(InputError, match="unknown feature"):
        check_features(("canny", "sharpness"))
    with pytest.raises(InputError, match="uint8"):
        FeatureExtractor(("canny",))(FeatureInput(base.astype(np.float32), 0.03))


def test_full_features_are_unavailable_without_pyiqa_never_replaced() -> None:
    try:
        import pyiqa  # noqa: F401
        pytest.skip("pyiqa is installed here")
    except ImportError:
        pass
    with pytest.raises(BackendUnavailable, match="clip, clipiqa\\+, musiq, dbcnn, hyperiqa, liqe need IQA-PyTorch") as ei:
        FeatureExtractor(FULL_FEATURES)
    assert "\n" not in str(ei.value)
    assert len(FULL_FEATURES) == 11


# ---------------------------------------------------------------- MLP, file, training

def test_numpy_mlp_equals_torch_and_file_round_trip(tmp_path) -> None:
    import torch

    rng = np.random.default_rng(0)
    x = rng.random((12, 5))
    y = rng.random(12)
    params = train_head(x, y, epochs=1)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 1), torch.nn.Sigmoid()).double()
    with torch.no_grad():
        for i, k in enumerate(("0", "1", "2")):
            net[2 * i].weight.copy_(torch.from_numpy(params["w" + k]))
            net[2 * i].bias.copy_(torch.from_numpy(params["b" + k]))
        ref = net(torch.from_numpy(x)).numpy()[:, 0]
    assert np.allclose(mlp_forward(params, x), ref, atol=1e-6)
    model = train_heads(OFFLINE_FEATURES, rng.random((12, 5)) * 10, {"strength": rng.random(12)},
                        {"strength": (0.0, 1.0)}, epochs=1, meta={"restorer": "knob"})
    p = tmp_path / "m.safetensors"
    model.save(p)
    back = load_model(p)
    assert back.features == OFFLINE_FEATURES and back.meta["restorer"] == "knob"
    feats = dict(zip(OFFLINE_FEATURES, [0.1, 500.0, 30.0, 6.0, 0.03]))
    assert back.predict(feats) == pytest.approx(model.predict(feats), abs=1e-6)  # float32 storage
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a settings model"):
        load_model(tmp_path / "bad.safetensors")
    with pytest.raises(MissingWeights):
        load_model(tmp_path / "missing.safetensors")


def test_training_is_deterministic_and_learns() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((8, 3))
    y = np.clip(x[:, 0], 0.05, 0.95)  # label = first feature
    a, b = train_head(x, y, epochs=100, lr=1e-2), train_head(x, y, epochs=100, lr=1e-2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    err = np.abs(mlp_forward(a, x) - y).mean()
    assert err < 0.1, err


def test_lambda_lowers_predicted_steps_on_synthetic_labels() -> None:
    """The paper's steps/guidance mechanics on synthetic 11-feature data (no pyiqa needed to train)."""
    rng = np.random.default_rng(2)
    rows = rng.random((12, 11))
    steps = 2 + 78 * rows[:, 1]  # synthetic: edge-rich images want more steps
    guidance = 10 * rows[:, 4]
    means = []
    for lam in (0.0, 0.32, 1.0):
        m = train_heads(FULL_FEATURES, rows, {"steps": steps, "guidance": guidance},
                        {"steps": (2, 80), "guidance": (0, 10)}, {"steps": lam}, epochs=25)
        x = m.scaler(rows)
        means.append(float(m.heads["steps"].predict(x).mean()))
        g = m.heads["guidance"].predict(x)
        assert (0 <= g).all() and (g <= 10).all() and m.heads["guidance"].lr == 2e-3
    assert means[0] > means[1] > means[2] >= 2, means


def test_labels_and_best_fixed() -> None:
    class S:
        def __init__(self, t):
            self._t = t

        def targets(self, brisque_weight=None):
            return self._t

    samples = [S({0.0: 1.0, 0.5: 3.0, 1.0: 2.0}), S({0.0: 5.0, 0.5: 0.0, 1.0: 5.0}), S({0.0: 0.0, 0.5: 1.0, 1.0: 4.0})]
    assert list(best_strengths(samples)) == [0.5, 0.0, 1.0]  # ties: the smaller strength
    assert best_fixed_strength(samples) == 1.0  # means 2, 4/3, 11/3
    assert list(best_strengths(samples, 0.5)) == [0.5, 0.0, 0.5]  # the ceiling caps the grid
    assert best_fixed_strength(samples, 0.5) == 0.0  # means 2, 4/3 over {0, 0.5}


def test_target_weight_moves_the_labels() -> None:
    from sggic.adapt import labels as L

    # (ssimulacra2, brisque) per strength: texture costs 1 SSIMULACRA2 point and gains 5 BRISQUE points
    smp = L.Sample(L.SampleKey("p", 2, 0.03), *([np.zeros(1)] * 3), 0.03, 1, 40, None, {},
                   {0.0: (10.0, 60.0), 0.5: (9.0, 55.0)})
    assert list(best_strengths([smp], 1.0, 0.1)) == [0.0]  # 10 - 6 > 9 - 5.5
    assert list(best_strengths([smp], 1.0, 0.3)) == [0.5]  # 10 - 18 < 9 - 16.5
    assert list(best_strengths([smp])) == [0.5]  # the default weight is issue 10's 0.3
    assert L.BRISQUE_WEIGHT == 0.3
    assert L.model_brisque_weight({}) == 0.1  # models made before the weight was recorded
    assert L.model_brisque_weight({"brisque_weight": 0.3}) == 0.3


def test_strength_ceiling_is_the_restorers_calibrated_default() -> None:
    from sggic.adapt.train import strength_ceiling

    from sggic.adapt import labels as L

    weights = Path(sggic.__file__).parent / "weights"
    assert strength_ceiling("generative") == V4_DEFAULT  # v4's default strength (hold-out rule)
    assert strength_ceiling("generative-3b") == 0.5 and strength_ceiling("generative-3") == 0.5  # v3's
    assert strength_ceiling("generative-2") == 1.0 and strength_ceiling("generative-1") == 1.0
    m = shipped_model("generative")
    assert m is not None and m.heads["strength"].hi == V4_DEFAULT and m.meta["strength_ceiling"] == V4_DEFAULT
    sha4 = hashlib.sha256((weights / "restorer-generative-4.safetensors").read_bytes()).hexdigest()
    assert m.meta["restorer_weights_sha256"] == sha4 and m.meta["restorer"] == "generative"
    assert L.model_brisque_weight(m.meta) == 0.3 and "--brisque-weight 0.3" in m.meta["command"]
    sha3 = hashlib.sha256((weights / "restorer-generative-3.safetensors").read_bytes()).hexdigest()
    v3b = shipped_model("generative-3b")  # files with id 8 keep v3 and the model they were written with
    assert v3b is not None and L.model_brisque_weight(v3b.meta) == 0.3
    assert v3b.meta["restorer_weights_sha256"] == sha3 and v3b.heads["strength"].hi == 0.5
    old = shipped_model("generative-3")  # files with id 7 too
    assert old is not None and L.model_brisque_weight(old.meta) == 0.1
    assert old.meta["restorer_weights_sha256"] == sha3 and old.heads["strength"].hi == 0.5


def test_blend() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 255, np.uint8)
    assert np.array_equal(blend(a, b, 0.0), a) and np.array_equal(blend(a, b, 1.0), b)
    assert (blend(a, b, 0.5) == 128).all()  # 127.5 rounds half to even -> 128


# ---------------------------------------------------------------- policies

def test_registry_has_the_three_policies() -> None:
    assert [(e.name, e.id) for e in POLICIES] == [("fixed", 1), ("dyndiff", 2), ("adaptive", 3)]
    assert isinstance(get_policy("adaptive"), AdaptivePolicy)


def test_dyndiff_mechanics_on_a_tiny_model(astronaut) -> None:
    with pytest.raises(MissingWeights, match="model registry") as ei:
        DynDiffPolicy.from_config().check_available()
    assert "\n" not in str(ei.value)
    model = _constant_model(("canny", "laplacian", "bpp"), {"steps": (2, 80, 0.5), "guidance": (0, 10, 0.25)})
    s = DynDiffPolicy(model).choose(np.ascontiguousarray(astronaut[::4, ::4]), Semantics(), 0.03)
    assert (s.steps, s.guidance, s.source) == (41, 2.5, "dyndiff")
    assert [n for n, _ in s.features] == ["canny", "laplacian", "bpp"]
    with pytest.raises(MissingWeights, match="no guidance head"):
        DynDiffPolicy(_constant_model(("bpp",), {"steps": (2, 80, 0.5)}))


def test_adaptive_policy_uses_the_restorers_model(astronaut) -> None:
    base = np.ascontiguousarray(astronaut[::4, ::4])
    pol = AdaptivePolicy({"knob": _constant_model(OFFLINE_FEATURES, {"strength": (0, 1, 0.8)})})
    s = pol.choose(base, Semantics(), 0.03, "knob")
    assert s.source == "adaptive" and s.strength == pytest.approx(0.8)
    capped = AdaptivePolicy({"knob": _constant_model(OFFLINE_FEATURES, {"strength": (0, 0.5, 0.8)})})
    assert capped.choose(base, Semantics(), 0.03, "knob").strength == pytest.approx(0.4)  # within [0, ceiling]
    assert [n for n, _ in s.features] == list(OFFLINE_FEATURES)
    none = pol.choose(base, Semantics(), 0.03, "no-such-restorer")
    assert none.strength is None and "no adaptive model for 'no-such-restorer'" in none.source
    tiny = pol.choose(base[:90], Semantics(), 0.03, "knob")
    assert tiny.strength is None and tiny.source == "fixed (base smaller than the features' 96x96)"


# ---------------------------------------------------------------- the decoder

def _pixels(r) -> np.ndarray:
    return np.asarray(r.image.convert("RGB"))


def test_decoder_adapts_only_restorers_with_knobs(small_file, small_fixed_file) -> None:
    pol = AdaptivePolicy({"knob": _constant_model(OFFLINE_FEATURES, {"strength": (0, 1, 0.8)})})
    ad = decode_detailed(small_file, restorer=KnobRestorer(), policy=pol)
    assert ad.settings.source == "adaptive" and ad.settings.strength == pytest.approx(0.8)
    assert ad.stages["settings"].startswith("adaptive (steps 40, guidance 4, strength 0.800); features canny ")
    fixed = decode_detailed(small_file, restorer=KnobRestorer(), policy=pol, fixed=True)
    assert fixed.settings.strength is None and fixed.settings.source == "fixed (--fixed)"
    flagged = decode_detailed(small_fixed_file, restorer=KnobRestorer(), policy=pol)
    assert flagged.settings.source == "fixed (file flag)"
    assert not np.array_equal(_pixels(ad), _pixels(fixed))  # the sggic and sggic-fixed rows differ
    assert np.array_equal(_pixels(fixed), _pixels(flagged))
    manual = decode_detailed(small_file, restorer=KnobRestorer(), policy=pol, strength=0.25)
    assert manual.settings.strength == 0.25 and "by hand: strength" in manual.settings.source
    # a restorer without knobs: no features computed, settings unused, same pixels either way
    plain = decode_detailed(small_file)
    assert plain.stages["settings"] == "adaptive policy; no settings to adapt in bicubic"
    assert plain.settings.features == () and plain.warnings == []
    assert np.array_equal(_pixels(plain), _pixels(decode_detailed(small_file, fixed=True)))


def test_knob_restorer_without_a_model_warns(small_file) -> None:
    r = decode_detailed(small_file, restorer=KnobRestorer(), policy=AdaptivePolicy())
    assert r.settings.strength is None
    assert any("no adaptive model for 'knob'" in w for w in r.warnings)


@pytest.mark.parametrize("kw, msg", [({"strength": 1.5}, "strength must be a number in \\[0, 1\\]"),
                                     ({"strength": "x"}, "strength"), ({"steps": 1}, "steps must be an integer"),
                                     ({"steps": 2.5}, "steps"), ({"guidance": 11}, "guidance")])
def test_manual_settings_are_checked(kw, msg, small_file) -> None:
    with pytest.raises(InputError, match=msg):
        manual_settings(**kw)
    with pytest.raises(InputError, match=msg):
        decode_detailed(small_file, **kw)
    assert manual_settings(strength=0, steps=80, guidance=0.5) == {"strength": 0.0, "steps": 80, "guidance": 0.5}


def test_cli_switches(small_file, tmp_path, capsys) -> None:
    from sggic.cli import main

    src = tmp_path / "a.sgc"
    src.write_bytes(small_file)
    out = tmp_path / "o.png"
    assert main(["decode", str(src), "-o", str(out), "--strength", "2"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "strength must be" in err and not out.exists()
    assert main(["decode", str(src), "-o", str(out), "--fixed", "--steps", "10", "--cfg", "3", "-v"]) == 0
    err = capsys.readouterr().err
    assert "settings" in err and out.exists()
    assert container.read(small_file).header.fixed is False


# ---------------------------------------------------------------- the shipped model

def test_shipped_offline_model() -> None:
    from sggic.adapt.standin import NAME

    path = model_path(NAME)
    if not path.is_file():
        pytest.skip("no shipped adaptive model")
    m = shipped_model(NAME)
    assert m is not None and m.features == OFFLINE_FEATURES and set(m.heads) == {"strength"}
    assert m.meta["restorer"] == NAME and m.meta["command"].startswith("sggic train-adapt")
    assert len(m.meta["restorer_weights_sha256"]) == 64 and m.meta["split"] == "train"
    assert path.stat().st_size < 10_000
    lo = dict(zip(m.features, m.scaler.lo))
    hi = dict(zip(m.features, m.scaler.hi))
    for feats in (lo, hi):
        assert 0.0 <= m.predict(feats)["strength"] <= 1.0


def test_label_cache_is_rebuilt_when_encoder_or_restorer_change(tmp_path, monkeypatch) -> None:
    import json

    from sggic.adapt import labels as L
    from sggic.codecs import vvc

    want = L.provenance("generative")
    assert set(want) >= {"vvc_qpa", "vvc_preset", "restorer_weights_sha256"}
    npz = tmp_path / "s.npz"
    np.savez_compressed(npz, meta=np.frombuffer(json.dumps({"scores": {}, **want}).encode(), dtype=np.uint8))
    assert L._is_current(npz, want)
    monkeypatch.setattr(vvc, "QPA", not vvc.QPA)
    assert not L._is_current(npz, L.provenance("generative"))  # another base encoder: stale
    assert not L._is_current(npz, {**want, "restorer_weights_sha256": "0" * 64})  # other weights: stale
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert not L._is_current(tmp_path / "bad.npz", want)


def test_whole_picture_crop_covers_the_base() -> None:
    from sggic.adapt import labels as L

    assert L.CROPS[L.WHOLE] == (0, 0, 256)
    assert all(y + n <= 256 and x + n <= 256 for y, x, n in L.CROPS.values())


def test_off_grid_strengths_are_restored_not_rounded() -> None:
    """A cached sample answers only its grid strengths; scripts/eval_adapt.py restores the
    base at an off-grid strength (what the decoder runs) instead of using the nearest one."""
    import importlib.util

    from sggic.adapt import labels as L
    from sggic.errors import InputError
    from sggic.restore.base import RestoreContext
    from sggic.restore.registry import get_restorer

    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    orig = np.repeat(np.repeat(base, 2, axis=0), 2, axis=1)
    r = get_restorer("generative")
    out4 = r.restore(base, RestoreContext(1, 1200, strength=0.4))
    smp = L.Sample(L.SampleKey("p", 2, 0.03), orig, base, base, 0.03, 1, 1200, None, {0.4: out4}, {0.4: (1.0, 2.0)})
    assert smp.output(0.4) is out4
    with pytest.raises(InputError, match="not on the cached grid"):
        smp.output(0.41)
    spec = importlib.util.spec_from_file_location("eval_adapt", Path(__file__).parent.parent / "scripts/eval_adapt.py")
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)  # type: ignore[union-attr]
    assert ev._score(smp, 0.4, r) == (1.0, 2.0)  # cached
    exact = ev._score(smp, 0.4375, r)
    from sggic.metrics.registry import get_metric

    img = r.restore(base, RestoreContext(1, 1200, strength=0.4375))
    assert exact == (get_metric("ssimulacra2")(orig, img), get_metric("brisque")(img))
    assert not np.array_equal(img, out4)
