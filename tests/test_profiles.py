"""What a file records (the profile section), the decoder's refusals, RunConfig plumbing."""

from __future__ import annotations

import numpy as np
import pytest

import sggic
from sggic import container
from sggic.cli import main
from sggic.config import RunConfig
from sggic.container import ComponentRecord, ProfileRecord
from sggic.errors import BackendUnavailable, BitstreamError, InputError, MissingWeights
from sggic.pipeline import decode_detailed, encode_detailed
from sggic.profiles import FULL, OFFLINE, decoder_stages, encoder_stages, get_profile, profile_by_id

IMG = np.random.default_rng(3).integers(0, 256, (24, 40, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def offline_file() -> bytes:
    return sggic.encode(IMG, bpp=6.0, base="jpeg", restorer="bicubic")


def _with_profile(data: bytes, record: ProfileRecord) -> bytes:
    f = container.read(data)
    return container.write(f.header, f.base, f.semantics, record)


def test_offline_files_carry_no_profile_section(offline_file: bytes) -> None:
    f = container.read(offline_file)
    assert f.profile is None and "profile" not in f.section_sizes
    assert not f.header.flags & container.FLAG_PROFILE
    assert sggic.info(offline_file)["profile"] == {"id": 0, "name": "offline", "components": []}


def test_profile_record_round_trip_and_size() -> None:
    rec = ProfileRecord(1, (ComponentRecord(2, 2, 1), ComponentRecord(3, 2, 300), ComponentRecord(4, 4, 7)))
    p = container.encode_profile(rec)
    assert len(p) == 2 + 3 * 2 + 1 + 2 + 1
    assert container.decode_profile(p) == rec


@pytest.mark.parametrize("bad", [b"", b"\x01", b"\x00\x00", b"\x01\x01\x02", b"\x01\x01\x02\x02\x80",
                                 b"\x01\x00\x00", b"\x01\x02\x02\x01\x00\x02\x01\x00", b"\x01\x11" + b"\x02\x01\x00" * 17,
                                 b"\x01\x01\x00\x01\x00", b"\x01\x01\x02\x00\x00"])
def test_bad_profile_sections_are_bitstream_errors(bad: bytes) -> None:
    with pytest.raises(BitstreamError):
        container.decode_profile(bad)


def test_profile_section_is_critical_and_its_removal_is_caught(offline_file: bytes) -> None:
    rec = ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_SEGMENT, 2, 1),))
    data = _with_profile(offline_file, rec)
    f = container.read(data)
    assert f.profile == rec and f.header.flags & container.FLAG_PROFILE
    assert f.section_sizes["profile"] == 1 + 1 + 5 + 2
    # drop the section but keep the flag: refused
    start = len(container.MAGIC) + 1 + f.section_sizes["header"]
    stripped = data[:start] + data[start + f.section_sizes["profile"]:]
    with pytest.raises(BitstreamError, match="profile section"):
        container.read(stripped)
    # every truncation and bit flip is still caught
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            container.read(data[:cut])


def test_full_file_needs_the_full_profile(offline_file: bytes) -> None:
    data = _with_profile(offline_file, ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_SEGMENT, 2, 0),
                                                               ComponentRecord(container.STAGE_ADAPT, 2, 1))))
    with pytest.raises(BackendUnavailable, match="decode it with --profile full"):
        sggic.decode(data)
    # dyndiff is registered (mechanics only): its recorded weights version cannot be matched here
    with pytest.raises(BackendUnavailable,
                       match="^the full profile cannot run here: .*settings policy 'dyndiff' weights version 1"):
        sggic.decode(data, config=RunConfig(profile="full"))
    info = sggic.info(data)["profile"]
    assert info["name"] == "full"
    assert [(c["stage"], c["name"], c["weights_version"]) for c in info["components"]] == [
        ("segmenter", "clipseg", 0), ("settings policy", "dyndiff", 1)]


def test_recorded_weights_version_must_match(offline_file: bytes) -> None:
    # a full-profile file that names offline components, one with weights this machine lacks
    rec = ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_SEGMENT, 1, 3), ComponentRecord(container.STAGE_ADAPT, 1, 0)))
    data = _with_profile(offline_file, rec)
    with pytest.raises(MissingWeights, match="weights version 3, but the models here are version 0"):
        sggic.decode(data, config=RunConfig(profile="full"))
    ok = _with_profile(offline_file, ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_SEGMENT, 1, 0),
                                                             ComponentRecord(container.STAGE_ADAPT, 1, 0))))
    r = decode_detailed(ok, config=RunConfig(profile="full"))
    assert r.stages["profile"] == "full" and r.stages["segmentation"].startswith("none")
    assert np.array_equal(np.asarray(r.image), np.asarray(sggic.decode(offline_file)))


def test_unknown_or_inconsistent_components_are_refused(offline_file: bytes) -> None:
    full = RunConfig(profile="full")
    unknown = _with_profile(offline_file, ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_SEGMENT, 99, 0),)))
    with pytest.raises(BitstreamError, match="unknown segmenter id 99"):
        sggic.decode(unknown, config=full)
    codec_id = container.read(offline_file).header.codec_id
    other = _with_profile(offline_file, ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_CODEC, codec_id + 1, 1),)))
    with pytest.raises(BitstreamError, match="different codecs"):
        sggic.decode(other, config=full)
    newer = _with_profile(offline_file, ProfileRecord(77, ()))
    with pytest.raises(BitstreamError, match="unknown profile id 77"):
        sggic.decode(newer)


def test_profiles_lookup() -> None:
    assert get_profile("offline") is OFFLINE and profile_by_id(1) is FULL
    with pytest.raises(InputError, match="did you mean 'full'"):
        get_profile("ful")
    with pytest.raises(InputError, match="unknown profile"):
        RunConfig(profile="fast")


def test_offline_encoder_stages_and_config_flow(offline_file: bytes) -> None:
    cfg = RunConfig(threads=1)
    st = encoder_stages(cfg)
    assert (st.codec.name, st.segmenter.name, st.policy.name, st.restorer.name) == ("vvc", "none", "adaptive", "generative")
    assert all(c.config is cfg for c in st.components().values())
    assert st.restorer.threads == 1
    dst = decoder_stages(container.read(offline_file), cfg)
    assert dst.restorer.name == "bicubic" and dst.restorer.config is cfg and dst.codec.config is cfg
    assert dst.warnings == []


def test_full_profile_encode_is_a_clean_error() -> None:
    with pytest.raises(BackendUnavailable, match="^the full profile cannot run here"):
        encode_detailed(IMG, bpp=6.0, config=RunConfig(profile="full"))


def test_cli_full_profile_and_bad_config(tmp_path, capsys, offline_file: bytes) -> None:
    src = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(IMG).save(src)
    out = tmp_path / "a.sgc"
    assert main(["encode", str(src), "-o", str(out), "--profile", "full"]) == BackendUnavailable.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("sggic: error: the full profile cannot run here") and len(err.splitlines()) == 1
    assert not out.exists()
    assert main(["encode", str(src), "-o", str(out), "--device", ""]) == InputError.exit_code
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["decode", str(out), "-o", str(tmp_path / "x.png"), "--threads", "0"])
    sgc = tmp_path / "b.sgc"
    sgc.write_bytes(offline_file)
    png = tmp_path / "b.png"
    assert main(["decode", str(sgc), "-o", str(png), "--restorer", "fitted", "--threads", "1", "-v"]) == 0
    err = capsys.readouterr().err
    assert "sggic: warning: restoring with 'fitted' instead of the recorded 'bicubic'" in err
    assert "profile" in err and "refinement" in err and png.exists()


def test_info_names_components_without_building_them(offline_file: bytes) -> None:
    f = container.read(offline_file)
    h = f.header
    hdr = container.Header(h.width, h.height, 6, 3, 0, 5, 0)  # cheng2020 base, diffusion restorer
    rec = ProfileRecord(FULL.id, (ComponentRecord(container.STAGE_CODEC, 6, 1), ComponentRecord(container.STAGE_SEGMENT, 2, 1),
                                  ComponentRecord(container.STAGE_ADAPT, 2, 1), ComponentRecord(container.STAGE_RESTORE, 5, 1)))
    data = container.write(hdr, f.base, None, rec)
    d = sggic.info(data)
    assert d["base_codec"]["name"] == "cheng2020" and d["restorer"]["name"] == "diffusion"
    assert [c["name"] for c in d["profile"]["components"]] == ["cheng2020", "clipseg", "dyndiff", "diffusion"]
    with pytest.raises(BackendUnavailable, match="^the full profile cannot run here: "):
        sggic.decode(data, config=RunConfig(profile="full"))  # no Cheng2020 weights (or no CompressAI) here
