"""The diffusion restorer (sggic/restore/diffusion): tiny random models, real code paths.

Pure-torch parts (tiles, GroupNorm sharing, colour fix, spec) always run. Everything that
needs diffusers/transformers is marked ``full`` and skips cleanly when they are absent.
Tiny models are written once per session in the folder layout users give the restorer
and loaded through the same loader; nothing touches the network (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from sggic.config import RunConfig
from sggic.errors import BackendUnavailable, InputError, MissingWeights
from sggic.restore.base import RestoreContext
from sggic.restore.diffusion.colorfix import adain_colour_fix, wavelet_colour_fix, wavelet_split
from sggic.restore.diffusion.groupnorm import shared_groupnorm_stats
from sggic.restore.diffusion.spec import DiffusionSpec
from sggic.restore.diffusion.tiles import blend_tiles, tile_starts

ROOT = Path(__file__).resolve().parent.parent
KEYS = Path(__file__).resolve().parent / "data" / "diffbir_v2_controlnet_keys.json"
CTX = RestoreContext(codec_id=1, quality=45, prompt="a red boat on a lake", steps=2, guidance=4.0, seed=1234)
TEST_SPEC = dict(min_side=0, stage1="bicubic", latent_tile=8, latent_overlap=4, vae_tile=8, vae_overlap=2,
                 vae_context=4, refine_margin=4)


@dataclass(frozen=True)
class Obj:
    name: str
    detail: str
    mask: np.ndarray


def _base(h: int = 16, w: int = 24) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([yy * 255 // h, xx * 255 // w, (yy * xx) % 256], axis=-1)
    return img.astype(np.uint8)


# ---------------------------------------------------------------- pure torch parts

def test_tile_starts_cover_with_overlap():
    assert tile_starts(8, 8, 4) == [0]
    for size, tile, ov in ((40, 16, 4), (17, 8, 3), (100, 64, 32)):
        s = tile_starts(size, tile, ov)
        assert s[0] == 0 and s[-1] + tile == size
        assert all(b - a <= tile - ov for a, b in zip(s, s[1:]))


@pytest.mark.parametrize("unit", [1, 8])
def test_blend_is_exact_for_a_tile_independent_function(unit):
    """Weights are normalised: if every tile agrees, the blend is the untiled result."""
    x = torch.randn(1, 3, 21, 34, generator=torch.Generator().manual_seed(0))

    def fn_full(t):
        return (torch.tanh(t) * 2 + 1).repeat_interleave(unit, 2).repeat_interleave(unit, 3)

    tiled = blend_tiles(lambda b: fn_full(x[:, :, b[0]:b[1], b[2]:b[3]]), 21, 34, 8, 3, unit=unit)
    torch.testing.assert_close(tiled, fn_full(x), atol=1e-6, rtol=0)


def test_context_makes_a_local_network_exact():
    """Tiles widened by >= the receptive radius give the untiled result of a conv stack."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(),
                              torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(8, 3, 3, padding=1)).eval()
    x = torch.randn(1, 3, 30, 41)
    with torch.no_grad():
        full = net(x)
        tiled = blend_tiles(lambda b: net(x[:, :, b[0]:b[1], b[2]:b[3]]), 30, 41, 10, 2, unit=2, context=2)
        naive = blend_tiles(lambda b: net(x[:, :, b[0]:b[1], b[2]:b[3]]), 30, 41, 10, 2, unit=2)
    torch.testing.assert_close(tiled, full, atol=1e-5, rtol=0)
    assert float((naive - full).abs().max()) > 1e-3  # without context the tile edges show


def test_shared_groupnorm_statistics_remove_per_tile_normalisation():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1), torch.nn.GroupNorm(4, 8), torch.nn.Conv2d(8, 3, 1)).eval()
    x = torch.randn(1, 3, 24, 24) + torch.linspace(-2, 2, 24)  # statistics differ across tiles
    with torch.no_grad():
        full = net(x)

        def tiled():
            return blend_tiles(lambda b: net(x[:, :, b[0]:b[1], b[2]:b[3]]), 24, 24, 8, 2)

        per_tile = tiled()
        with shared_groupnorm_stats(net, lambda: net(x)):
            shared = tiled()
        after = net(x)  # the patch is undone on exit
    torch.testing.assert_close(shared, full, atol=1e-5, rtol=0)
    assert float((per_tile - full).abs().max()) > 0.1
    torch.testing.assert_close(after, full)


def test_wavelet_colour_fix_takes_colour_from_reference_and_detail_from_generated():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 64, 64, generator=g) * 0.2 + 0.4
    texture = torch.sin(torch.arange(64.0) * 2.5)[None, None, None, :] * 0.05
    generated = (ref + texture + torch.tensor([0.15, -0.1, 0.05])[None, :, None, None]).clamp(0, 1)
    fixed = wavelet_colour_fix(generated, ref)
    shift_before = (generated.mean(dim=(2, 3)) - ref.mean(dim=(2, 3))).abs().max()
    shift_after = (fixed.mean(dim=(2, 3)) - ref.mean(dim=(2, 3))).abs().max()
    assert shift_before > 0.05 and shift_after < 0.01
    hi_fixed, _ = wavelet_split(fixed)
    hi_gen, _ = wavelet_split(generated)
    assert float((hi_fixed - hi_gen)[..., 16:-16, 16:-16].abs().mean()) < 0.01
    ada = adain_colour_fix(generated, ref)
    torch.testing.assert_close(ada.mean(dim=(2, 3)), ref.mean(dim=(2, 3)), atol=2e-3, rtol=0)


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from sggic.restore.diffusion.sampler import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, shown in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stream)
        assert list(progress(range(3), 3, "diffusion pass 1")) == [0, 1, 2]
        assert ("diffusion pass 1" in stream.getvalue()) is shown


def test_spec_from_toml_resolves_paths_and_rejects_bad_values(tmp_path):
    toml = tmp_path / "models.toml"
    toml.write_text('[diffusion]\nbase = "sd"\ncontrolnet = "/abs/cn"\ncontrol = "tile"\n')
    spec = DiffusionSpec.from_toml(toml)
    assert spec.base == tmp_path.resolve() / "sd" and spec.controlnet == Path("/abs/cn")
    assert spec.control == "tile"
    for text, what in (('[diffusion]\ncontrol = "x"\n', "control"), ('[diffusion]\nfoo = 1\n', "unknown"),
                       ('[diffusion]\nlatent_overlap = 64\n', "smaller"), ("[other]\n", r"no \[diffusion\]")):
        toml.write_text(text)
        with pytest.raises(InputError, match=what) as exc:
            DiffusionSpec.from_toml(toml)
        assert "\n" not in str(exc.value)


def test_unconfigured_restorer_says_what_is_missing_in_one_line():
    """Without diffusers: BackendUnavailable; with it but no weights: MissingWeights (a subclass)."""
    from sggic.restore.diffusion.restorer import DiffusionRestorer

    r = DiffusionRestorer.from_config(RunConfig(profile="full"))
    assert r.name == "diffusion" and r.refines and r.uses_settings
    with pytest.raises(BackendUnavailable) as exc:
        r.check_available()
    assert "\n" not in str(exc.value)
    with pytest.raises(BackendUnavailable):
        r.restore(_base(), CTX)


# ---------------------------------------------------------------- with diffusers

@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sggic.restore.diffusion.tiny import write_tiny_models

    paths = write_tiny_models(tmp_path_factory.mktemp("tiny-diffusion"))
    yield paths
    if old is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = old


def _restorer(tiny, **changes):
    from sggic.restore.diffusion.restorer import DiffusionRestorer

    fields = {**TEST_SPEC, "base": tiny["base"], "controlnet": tiny["ir"], **changes}
    spec = DiffusionSpec(**fields)
    return DiffusionRestorer(spec, RunConfig(profile="full", threads=1))


@pytest.fixture(scope="session")
def restorer(tiny):
    return _restorer(tiny)


@pytest.mark.full
def test_restore_is_2x_repeatable_seeded_and_timed(restorer, capfd):
    restorer.check_available()
    base = _base()
    out = restorer.restore(base, CTX)
    assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    assert np.array_equal(out, restorer.restore(base, CTX))
    other = restorer.restore(base, RestoreContext(**{**CTX.__dict__, "seed": 99}))
    assert not np.array_equal(out, other)
    stages = [name for name, _ in restorer.stage_times()]
    assert "stage 1 (bicubic)" in stages and "pass 1: sampling (2 steps)" in stages
    assert all(s >= 0 for _, s in restorer.stage_times())
    assert "2 steps, guidance 4" in restorer.notes()[0]
    assert "prompt 'a red boat on a lake, Hyper Detail, Masterpiece, 4K'" in restorer.notes()[0]
    assert "negative 'Blurry, Low Quality'" in restorer.notes()[0]
    assert capfd.readouterr().err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.full
def test_header_without_settings_uses_spec_defaults(tiny):
    r = _restorer(tiny, default_steps=1, default_guidance=1.0, refine_steps=3, refine_guidance=0.0)
    out = r.restore(_base(8, 8), RestoreContext(prompt="x", steps=0, seed=3))
    assert "pass 1: sampling (1 steps)" in [n for n, _ in r.stage_times()]
    r.refine(out, [Obj("a", "b", np.ones(out.shape[:2], np.float32))], RestoreContext(steps=2, guidance=5.0))
    assert "refine 1 (a): sampling (3 steps)" in [n for n, _ in r.stage_times()]


@pytest.mark.full
def test_cpu_output_is_bit_exact_in_another_process(restorer, tiny, tmp_path):
    toml = tmp_path / "models.toml"
    table = {**TEST_SPEC, "base": str(tiny["base"]), "controlnet": str(tiny["ir"])}
    toml.write_text("[diffusion]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    base = _base()
    want = hashlib.sha256(restorer.restore(base, CTX).tobytes()).hexdigest()
    code = (
        "import hashlib, numpy as np, sys\n"
        "from pathlib import Path\n"
        "from sggic.config import RunConfig\n"
        "from sggic.restore.base import RestoreContext\n"
        "from sggic.restore.diffusion.restorer import DiffusionRestorer\n"
        f"r = DiffusionRestorer.from_config(RunConfig(profile='full', threads=1, models=Path({str(toml)!r})))\n"
        f"yy, xx = np.mgrid[0:16, 0:24]\n"
        "base = np.stack([yy * 255 // 16, xx * 255 // 24, (yy * xx) % 256], axis=-1).astype(np.uint8)\n"
        f"ctx = RestoreContext(**{CTX.__dict__!r})\n"
        "print(hashlib.sha256(r.restore(base, ctx).tobytes()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    got = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert got.stdout.strip().splitlines()[-1] == want


@pytest.mark.full
def test_refine_changes_pixels_only_where_a_mask_is_positive(restorer):
    image = _base(40, 48)
    yy, xx = np.mgrid[0:40, 0:48]
    blob = np.exp(-((yy - 12) ** 2 + (xx - 14) ** 2) / 20.0).astype(np.float32)
    blob[blob < 0.05] = 0.0  # a soft mask with a hard zero outside
    rect = np.zeros((40, 48), np.float32)
    rect[25:36, 30:44] = 0.6
    empty = np.zeros((40, 48), np.float32)
    objects = [Obj("sun", "bright yellow sun", blob), Obj("boat", "small red boat", rect), Obj("fish", "x", empty)]
    out = restorer.refine(image, objects, CTX)
    assert out.shape == image.shape and out.dtype == np.uint8
    outside = (blob == 0) & (rect == 0)
    assert np.array_equal(out[outside], image[outside])
    assert np.any(out[blob > 0] != image[blob > 0]) and np.any(out[rect > 0] != image[rect > 0])
    assert restorer.notes()[-1] == "per-object refinement applied to 2 of 3 objects: sun, boat"
    assert any(name.startswith("refine 2 (boat)") for name, _ in restorer.stage_times())
    lines = restorer.report_lines()
    assert lines[0].startswith("restorer: diffusion") and any("per-object refinement applied" in x for x in lines)
    assert any(x.strip().startswith("refine 1 (sun): sampling (2 steps):") for x in lines)
    assert np.array_equal(out, restorer.refine(image, objects, CTX))
    with pytest.raises(InputError, match="mask of 'sun'"):
        restorer.refine(image, [Obj("sun", "s", blob[:10])], CTX)


@pytest.mark.full
def test_tiled_sampling_and_vae_blend_smoothly(tiny):
    """Latent 6x8 with tiles of 4: several tiles per sampler step and per VAE pass.

    Measured on these random tiny nets (grey levels, mean |tiled - one tile|): VAE tiles
    ~0.9, latent tiles ~7 (their attention sees less; random nets are far more chaotic
    than SD). Tile borders must not show: the mean step between neighbouring columns stays
    at the one-tile image's level everywhere."""
    base = _base(24, 32)
    whole = dict(latent_tile=64, vae_tile=64)
    one = _restorer(tiny, **whole).restore(base, CTX).astype(np.float32)
    vae = _restorer(tiny, **{**whole, "vae_tile": 4, "vae_overlap": 1, "vae_context": 2}).restore(base, CTX)
    both = _restorer(tiny, latent_tile=4, latent_overlap=2, vae_tile=4, vae_overlap=1,
                     vae_context=2).restore(base, CTX).astype(np.float32)
    assert vae.shape == both.shape == one.shape == (48, 64, 3)
    assert np.abs(vae.astype(np.float32) - one).mean() < 2.5
    assert 0 < np.abs(both - one).mean() < 12

    def column_steps(img):
        return np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))

    assert column_steps(both).max() < 1.25 * column_steps(one).max()


@pytest.mark.full
@pytest.mark.parametrize("control", ["ir", "tile"])
def test_half_precision_path_runs_on_cpu(tiny, control):
    """bfloat16 stands in for the GPU's float16: weights, hints, tiles and the frozen
    GroupNorm statistics all take the low-precision path; sampling stays float32."""
    r = _restorer(tiny, dtype="bfloat16", control=control, controlnet=tiny[control], latent_tile=4,
                  latent_overlap=2, vae_tile=4, vae_overlap=1, vae_context=2)
    out = r.restore(_base(24, 32), CTX)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert r.models().unet.dtype == torch.bfloat16 and r.models().controlnet.dtype == torch.bfloat16
    assert np.array_equal(out, r.restore(_base(24, 32), CTX))


@pytest.mark.full
def test_tile_controlnet_needs_no_conversion(tiny):
    r = _restorer(tiny, control="tile", controlnet=tiny["tile"])
    r.check_available()
    out = r.restore(_base(8, 16), CTX)
    assert out.shape == (16, 32, 3)


@pytest.mark.full
def test_missing_weights_and_missing_packages_fail_in_one_line(tiny, tmp_path, monkeypatch):
    from sggic.restore.diffusion.restorer import DiffusionRestorer

    cases = [DiffusionSpec(), DiffusionSpec(base=tmp_path, controlnet=tiny["ir"]),
             DiffusionSpec(base=tiny["base"], controlnet=tmp_path),
             DiffusionSpec(base=tiny["base"], controlnet=tiny["ir"], control="tile")]
    for spec in cases:
        with pytest.raises(MissingWeights) as exc:
            DiffusionRestorer(spec).check_available()
        assert "\n" not in str(exc.value)
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(BackendUnavailable, match="diffusers") as exc:
        _restorer(tiny).check_available()
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- conversion

def _scaled_diffbir_state_dict():
    """A synthetic checkpoint with exactly DiffBIR v2's key names (tests/data, produced by
    scripts/check_diffbir_parity.py from DiffBIR's own ControlNet) and every width / 10."""
    keys = json.loads(KEYS.read_text())
    g = torch.Generator().manual_seed(0)
    sd = {}
    for key, shape in keys.items():
        new = []
        for i, d in enumerate(shape):
            if key.endswith(("attn2.to_k.weight", "attn2.to_v.weight")) and i == 1:
                new.append(32)  # the text width 1024
            elif d in (1, 3, 4, 8):
                new.append(d)
            else:
                new.append(d // 10)
        sd[key] = torch.randn(new, generator=g) * 0.05
    return sd


@pytest.mark.full
def test_real_v2_key_layout_converts_into_the_real_size_network():
    pytest.importorskip("diffusers")
    from sggic.restore.diffusion.convert import convert_state_dict, infer_config
    from sggic.restore.diffusion.ircontrolnet import build_ircontrolnet

    keys = json.loads(KEYS.read_text())
    assert len(keys) == 324
    sd = {k: torch.empty(v, device="meta") for k, v in keys.items()}
    config, hint = infer_config(sd)
    assert hint == 4 and config["block_out_channels"] == [320, 640, 1280, 1280]
    assert config["attention_head_dim"] == [5, 10, 20, 20] and config["cross_attention_dim"] == 1024
    with torch.device("meta"):
        model = build_ircontrolnet(config, hint)
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    conv = {k: tuple(v.shape) for k, v in convert_state_dict(sd).items()}
    assert conv == mine


@pytest.mark.full
def test_convert_command_on_a_synthetic_checkpoint(tmp_path, capsys):
    pytest.importorskip("diffusers")
    from sggic.restore.diffusion.convert import main
    from sggic.restore.diffusion.ircontrolnet import load_ircontrolnet

    sd = _scaled_diffbir_state_dict()
    src = tmp_path / "v2.pth"
    torch.save(sd, src)
    assert main([str(src), str(tmp_path / "ir"), "--head-channels", "8"]) == 0
    model = load_ircontrolnet(tmp_path / "ir")
    # the 4+4-channel first conv is split exactly: conv(cat(x, h)) == conv_in(x) + hint(h)
    x, h = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        want = torch.nn.functional.conv2d(torch.cat([x, h], 1), sd["input_blocks.0.0.weight"],
                                          sd["input_blocks.0.0.bias"], padding=1)
        got = model.conv_in(x) + model.controlnet_cond_embedding(h)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    state = model.state_dict()
    assert torch.equal(state["controlnet_down_blocks.11.weight"], sd["zero_convs.11.0.weight"])
    assert torch.equal(state["controlnet_mid_block.weight"], sd["middle_block_out.0.weight"])
    assert torch.equal(state["down_blocks.1.downsamplers.0.conv.weight"], sd["input_blocks.6.0.op.weight"])
    assert torch.equal(state["down_blocks.3.resnets.1.conv2.weight"], sd["input_blocks.11.0.out_layers.3.weight"])
    assert torch.equal(state["mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"],
                       sd["middle_block.1.transformer_blocks.0.attn2.to_k.weight"])
    # half precision output loads too
    assert main([str(src), str(tmp_path / "ir16"), "--head-channels", "8", "--half"]) == 0
    assert load_ircontrolnet(tmp_path / "ir16") is not None
    capsys.readouterr()


@pytest.mark.full
def test_convert_command_rejects_foreign_checkpoints_in_one_line(tmp_path, capsys):
    pytest.importorskip("diffusers")
    from sggic.restore.diffusion.convert import main

    bad = tmp_path / "bad.pth"
    torch.save({"foo.weight": torch.zeros(2)}, bad)
    assert main([str(bad), str(tmp_path / "o")]) == 2
    sd = _scaled_diffbir_state_dict()
    sd["extra.weight"] = torch.zeros(1)
    odd = tmp_path / "odd.pth"
    torch.save(sd, odd)
    assert main([str(odd), str(tmp_path / "o2"), "--head-channels", "8"]) == 2
    pickled = tmp_path / "pickle.pth"
    torch.save({"input_blocks.0.0.weight": Obj("a", "b", np.zeros(1))}, pickled)  # not weights-only
    assert main([str(pickled), str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert not (tmp_path / "o").exists()
