"""The model registry TOML: parsing, defaults, errors, download switch (no heavy packages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sggic.errors import BitstreamError, InputError
from sggic.models.registry import (COMPONENTS, ZOO_LAMBDAS, default_registry, downloads_allowed, load_registry,
                                   parse_registry, render_toml)
from sggic.segment.patchmap import (PatchMapSegmenter, grid_cells, pack_maps, unpack_maps, upsample_map)


def test_defaults_are_the_papers_checkpoints() -> None:
    reg = default_registry()
    assert set(reg.components) == set(COMPONENTS)
    assert reg.get("clipseg").hub == "CIDAS/clipseg-rd64-refined"
    assert reg.get("clip").hub == "openai/clip-vit-base-patch16"
    levels = reg.get("cheng2020").levels
    assert [lv.zoo_quality for lv in levels] == [1, 2, 3, 4, 5, 6]
    assert [lv.lmbda for lv in levels] == sorted(ZOO_LAMBDAS.values())
    assert reg.allow_download is False and reg.label() == "built-in defaults"


def test_toml_paths_are_relative_to_the_file_and_round_trip(tmp_path: Path) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text('[settings]\nallow_download = true\n[clipseg]\npath = "seg"\ndtype = "float16"\n'
                    'device = "cuda:1"\n[cheng2020]\nlevels = [{ path = "c/a.safetensors", lambda = 0.0045 },'
                    ' { zoo_quality = 6 }]\n')
    reg = load_registry(toml)
    seg = reg.get("clipseg")
    assert seg.path == tmp_path / "seg" and seg.hub is None and seg.dtype == "float16" and seg.device == "cuda:1"
    assert reg.get("clip").hub == "openai/clip-vit-base-patch16"  # left out: default kept
    lv = reg.get("cheng2020").levels
    assert lv[0].path == tmp_path / "c" / "a.safetensors" and lv[0].lmbda == 0.0045
    assert lv[1].zoo_quality == 6 and lv[1].lmbda == ZOO_LAMBDAS[6]
    again = tmp_path / "again.toml"
    again.write_text(render_toml(reg, tmp_path))
    reg2 = load_registry(again)
    assert reg2.components == reg.components and reg2.allow_download


@pytest.mark.parametrize("text, words", [
    ("[clipsegg]\npath = 'x'\n", "unknown table [clipsegg]"),
    ("[clipseg]\npth = 'x'\n", "unknown key(s) pth"),
    ("[clipseg]\ndtype = 'int8'\n", "dtype must be one of"),
    ("[clipseg]\nhub = 'no-slash'\n", "owner/name"),
    ("[cheng2020]\nlevels = [{ path = 'a', zoo_quality = 2 }]\n", "exactly one of path, zoo_quality"),
    ("[cheng2020]\nlevels = [{ zoo_quality = 9 }]\n", "zoo_quality must be 1..6"),
    ("[cheng2020]\nlevels = []\n", "non-empty list"),
    ("[cheng2020]\npath = 'a'\n", "levels, not path"),
    ("[cheng2020]\ndtype = 'float16'\nlevels = [{ zoo_quality = 2 }]\n", "float32"),
    ("[settings]\nallow_download = 'yes'\n", "true or false"),
    ("[clipseg\n", "not valid TOML"),
])
def test_bad_toml_is_one_line_input_error(tmp_path: Path, text: str, words: str) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text(text)
    with pytest.raises(InputError) as info:
        load_registry(toml)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_missing_toml_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="models file not found"):
        load_registry(tmp_path / "nope.toml")


def test_downloads_need_consent_and_hf_hub_offline_wins(monkeypatch) -> None:
    monkeypatch.delenv("SGGIC_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not downloads_allowed(False)
    assert downloads_allowed(True)
    monkeypatch.setenv("SGGIC_ALLOW_DOWNLOAD", "1")
    assert downloads_allowed(False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not downloads_allowed(False) and not downloads_allowed(True)
    reg = parse_registry({"settings": {"allow_download": True}}, base=Path("."))
    assert not reg.downloads_allowed()


# --- patch maps: packing and the decoder side need only numpy -----------------------------


def test_patch_maps_pack_to_64_bits_per_object() -> None:
    rng = np.random.default_rng(0)
    maps = [rng.random((8, 8)) > 0.5 for _ in range(3)]
    data = pack_maps(maps)
    assert len(data) == 24
    assert all(np.array_equal(a, b) for a, b in zip(maps, unpack_maps(data, 3)))
    first = np.zeros((8, 8), bool)
    first[0, 0] = True  # row-major, MSB first
    assert pack_maps([first]) == b"\x80" + bytes(7)
    with pytest.raises(BitstreamError):
        unpack_maps(data[:-1])
    with pytest.raises(BitstreamError):
        unpack_maps(data, 2)
    with pytest.raises(InputError):
        pack_maps([np.zeros((4, 4), bool)])


def test_patch_map_segmenter_gives_soft_masks_at_output_size() -> None:
    m = np.zeros((8, 8), bool)
    m[:, :4] = True  # left half
    seg = PatchMapSegmenter([m])
    img = np.zeros((32, 48, 3), np.uint8)
    (mask,) = seg.segment(img, ["tree"], size=(100, 160))
    assert mask.shape == (100, 160) and mask.dtype == np.float32
    assert mask[:, :60].min() == 1.0 and mask[:, 100:].max() == 0.0
    edge = mask[50, 70:90]
    assert 0 < edge.min() < 1 or 0 < edge.max() < 1  # soft transition, not a threshold
    assert np.all(np.diff(mask[50]) <= 0)
    assert seg.segment(img, ["tree"])[0].shape == (32, 48)
    with pytest.raises(BitstreamError):
        seg.segment(img, ["tree", "house"])


def test_grid_cells_cover_the_image_once() -> None:
    for h, w in [(512, 512), (37, 101), (5, 9)]:
        cover = np.zeros((h, w), int)
        for t, b, l, r in grid_cells(h, w):
            cover[t:b, l:r] += 1
        assert cover.min() >= 1
    assert upsample_map(np.ones((8, 8)), (3, 5)).shape == (3, 5)
