"""Every registry entry of every stage, through its stage's contract.

For each codec, segmenter, settings policy, restorer and metric: build it from a
RunConfig (the config must reach it), ask ``check_available()``; if it cannot run here
the error must be a one-line SggicError, else run it on a tiny input and check the
output contract (shape, dtype, range, determinism). Reserved entries (the full
profile's components, not in this version) must fail to build in one line.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sggic.adapt.base import GUIDANCE_RANGE, STEPS_RANGE, Settings
from sggic.adapt.registry import POLICIES, get_policy
from sggic.codecs import CODECS, get_codec
from sggic.component import Component
from sggic.config import RunConfig
from sggic.errors import BackendUnavailable, InputError, SggicError
from sggic.metrics.registry import METRICS, get_metric
from sggic.profiles import PROFILES, encoder_stages
from sggic.restore.base import ObjectMask, RestoreContext
from sggic.restore.registry import RESTORERS, get_restorer
from sggic.segment.registry import SEGMENTERS, get_segmenter
from sggic.semantics.schema import SemanticObject, Semantics

CFG = RunConfig(threads=1)
SEM = Semantics((SemanticObject("disc", "a red disc"),), "a test card")


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=2)
    noise = rng.integers(-20, 21, (h, w, 3))
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def _one_line_unavailable(exc: BaseException) -> None:
    assert isinstance(exc, BackendUnavailable), type(exc)
    assert isinstance(exc, SggicError)
    msg = str(exc)
    assert msg and "\n" not in msg


def _build_or_unavailable(build, name: str, reserved: bool):
    """The built component, or None after checking the one-line error."""
    if reserved:
        with pytest.raises(BackendUnavailable) as ei:
            build(name, CFG)
        _one_line_unavailable(ei.value)
        assert "reserved" in str(ei.value)
        return None
    comp = build(name, CFG)
    assert comp.name == name
    try:
        comp.check_available()
    except SggicError as exc:
        _one_line_unavailable(exc)
        return None
    return comp


def _params(registry):
    return [pytest.param(e.name, e.reserved, id=e.name) for e in registry]


def test_every_stage_registry_has_one_shape() -> None:
    for reg in (CODECS, SEGMENTERS, POLICIES, RESTORERS, METRICS):
        assert len(reg) == len(reg.names)
        for e in reg:
            assert e.name and e.summary and "\n" not in e.summary
            assert e.reserved == (e.target is None)
            if reg is not METRICS:
                assert isinstance(e.id, int) and 1 <= e.id <= 255  # frozen ids fit a byte
                assert reg.by_id(e.id) is e
        with pytest.raises(InputError, match=f"unknown {reg.kind}"):
            reg.info("zz-not-a-name")
        first = reg.available_names[0]
        with pytest.raises(InputError, match=f"did you mean '{first}'"):
            reg.info(first[:-1] + ("x" if first[-1] != "x" else "y"))


@pytest.mark.parametrize("name, reserved", _params(CODECS))
def test_codec_contract(name: str, reserved: bool) -> None:
    codec = _build_or_unavailable(get_codec, name, reserved)
    if codec is None:
        return
    assert isinstance(codec, Component) and codec.config is CFG
    assert codec.codec_id == CODECS.info(name).id
    q = list(codec.qualities())
    quality = q[len(q) * 3 // 4]
    img = _image(20, 36)
    payload = codec.encode(img, quality)
    assert isinstance(payload, bytes) and payload
    assert codec.encode(img, quality) == payload
    out = codec.decode(payload, 36, 20, quality)
    assert out.shape == (20, 36, 3) and out.dtype == np.uint8
    assert np.array_equal(codec.decode(payload, 36, 20, quality), out)


@pytest.mark.parametrize("name, reserved", _params(SEGMENTERS))
def test_segmenter_contract(name: str, reserved: bool) -> None:
    seg = _build_or_unavailable(get_segmenter, name, reserved)
    if seg is None:
        return
    assert seg.config is CFG and seg.describe() and "\n" not in seg.describe()
    img = _image(24, 40)
    masks = seg.segment(img, ["disc", "stripes"])
    assert masks == [] or len(masks) == 2
    again = seg.segment(img, ["disc", "stripes"])
    for m, m2 in zip(masks, again):
        assert m.ndim == 2 and m.dtype == np.float32 and m.size > 0
        assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0
        assert np.array_equal(m, m2)


@pytest.mark.parametrize("name, reserved", _params(POLICIES))
def test_policy_contract(name: str, reserved: bool) -> None:
    pol = _build_or_unavailable(get_policy, name, reserved)
    if pol is None:
        return
    assert pol.config is CFG
    base = _image(24, 40)
    s = pol.choose(base, SEM, 0.03)
    assert isinstance(s, Settings) and s.source
    assert STEPS_RANGE[0] <= s.steps <= STEPS_RANGE[1]
    assert GUIDANCE_RANGE[0] <= s.guidance <= GUIDANCE_RANGE[1]
    assert pol.choose(base, SEM, 0.03) == s


@pytest.mark.parametrize("name, reserved", _params(RESTORERS))
def test_restorer_contract(name: str, reserved: bool) -> None:
    rest = _build_or_unavailable(get_restorer, name, reserved)
    if rest is None:
        return
    assert rest.config is CFG
    base = _image(21, 35)
    ctx = RestoreContext(codec_id=1, quality=50, prompt="a test card", steps=4, guidance=2.0, seed=1)
    up = rest.restore(base, ctx)
    assert up.shape == (42, 70, 3) and up.dtype == np.uint8
    assert np.array_equal(rest.restore(base, ctx), up)
    out = np.ascontiguousarray(up[:41, :69])  # odd output size, as the decoder crops it
    mask = np.zeros((41, 69), np.float32)
    mask[5:20, 10:40] = 1.0
    refined = rest.refine(out.copy(), [ObjectMask("disc", "a red disc", mask)], ctx)
    assert refined.shape == out.shape and refined.dtype == np.uint8
    if not rest.refines:
        assert np.array_equal(refined, out)
    else:
        assert np.array_equal(refined[mask == 0], out[mask == 0])
        assert np.array_equal(rest.refine(out.copy(), [ObjectMask("disc", "a red disc", mask)], ctx), refined)


@pytest.mark.parametrize("name", ["fitted", "realesrgan"])
def test_restorers_honour_threads(name: str) -> None:
    assert get_restorer(name, RunConfig(threads=3)).threads == 3
    assert get_restorer(name).threads == 2  # the documented default


@pytest.mark.parametrize("name, reserved", _params(METRICS))
def test_metric_contract(name: str, reserved: bool) -> None:
    m = get_metric(name, CFG)
    assert m.config is CFG
    try:
        m.check_available()
    except SggicError as exc:
        _one_line_unavailable(exc)
        assert m.unavailable_reason() == str(exc)
        return
    ref = _image(192, 192, seed=1)
    img = np.clip(ref.astype(int) + _image(192, 192, seed=2) // 8 - 16, 0, 255).astype(np.uint8)
    args = (ref, img) if m.info.full_reference else (img,)
    v = m(*args)
    assert isinstance(v, float) and not math.isnan(v)
    assert m(*args) == v


@pytest.mark.parametrize("profile", [p.name for p in PROFILES])
def test_every_profile_builds_or_fails_in_one_line(profile: str) -> None:
    cfg = RunConfig(profile=profile, threads=1)
    try:
        stages = encoder_stages(cfg)
        stages.check_available()
    except SggicError as exc:
        _one_line_unavailable(exc)
        assert profile in str(exc) or "cannot run here" in str(exc)
        return
    for comp in stages.components().values():
        assert comp.config is cfg
