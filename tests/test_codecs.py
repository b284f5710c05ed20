"""Base-layer codecs: round trips, payload compaction, determinism, error handling."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from sggic.codecs import CODEC_NAMES, codec_by_id, get_codec
from sggic.codecs import _nal, _pixels, _template, vvc
from sggic.errors import BackendUnavailable, BitstreamError, InputError

ROOT = Path(__file__).resolve().parents[1]
# Codecs that run on the offline install; cheng2020 (full profile) has its own tests
# on tiny models in tests/test_cheng2020.py.
OFFLINE_CODECS = tuple(n for n in CODEC_NAMES if n != "cheng2020")


@lru_cache(maxsize=None)
def astronaut(width: int, height: int) -> np.ndarray:
    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(img)


def mid_quality(codec) -> int:
    qs = list(codec.qualities())
    return qs[len(qs) // 3]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-12))


# --- registry ---------------------------------------------------------------------------


def test_registry_ids_are_frozen() -> None:
    expected = {"vvc": 1, "avif": 2, "heic": 3, "webp": 4, "jpeg": 5, "cheng2020": 6}
    assert {n: get_codec(n).codec_id for n in CODEC_NAMES} == expected
    for name, cid in expected.items():
        assert codec_by_id(cid).name == name


def test_unknown_codec_id_is_a_bitstream_error() -> None:
    with pytest.raises(BitstreamError):
        codec_by_id(99)
    with pytest.raises(InputError):
        get_codec("bpg")


# --- every codec ------------------------------------------------------------------------


@pytest.mark.parametrize("name", OFFLINE_CODECS)
def test_round_trip_and_quality(name: str) -> None:
    codec = get_codec(name)
    codec.check_available()
    img = astronaut(64, 48)
    best = list(codec.qualities())[-1]
    payload = codec.encode(img, best)
    out = codec.decode(payload, 64, 48, best)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert psnr(img, out) > 30, "the best quality must be close to the input"


@pytest.mark.parametrize("name", OFFLINE_CODECS)
@pytest.mark.parametrize("size", [(1, 1), (17, 33), (33, 2)])
def test_odd_sizes(name: str, size: tuple[int, int]) -> None:
    codec = get_codec(name)
    h, w = size
    img = astronaut(64, 64)[:h, :w]
    q = mid_quality(codec)
    out = codec.decode(codec.encode(img, q), w, h, q)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("name", OFFLINE_CODECS)
def test_size_grows_with_quality(name: str) -> None:
    codec = get_codec(name)
    img = astronaut(64, 64)
    qs = list(codec.qualities())
    picks = [qs[0], qs[len(qs) // 2], qs[-1]]
    sizes = [len(codec.encode(img, q)) for q in picks]
    assert sizes[0] <= sizes[1] <= sizes[2] and sizes[0] < sizes[2], sizes


@pytest.mark.parametrize("name", OFFLINE_CODECS)
def test_decode_is_deterministic(name: str) -> None:
    codec = get_codec(name)
    img = astronaut(40, 24)
    q = mid_quality(codec)
    payload = codec.encode(img, q)
    assert codec.encode(img, q) == payload
    assert np.array_equal(codec.decode(payload, 40, 24, q), codec.decode(payload, 40, 24, q))


@pytest.mark.parametrize("name", OFFLINE_CODECS)
def test_corrupt_and_truncated_payloads(name: str) -> None:
    codec = get_codec(name)
    img = astronaut(48, 48)
    q = list(codec.qualities())[-10]
    payload = codec.encode(img, q)
    bad = [b"", payload[: len(payload) // 2], payload[:-3], b"\x00\xff" * 7, bytes(range(256))]
    for data in bad:
        with pytest.raises(BitstreamError) as info:
            codec.decode(data, 48, 48, q)
        assert "\n" not in str(info.value)
    with pytest.raises(BitstreamError):
        codec.decode(payload, 0, 48, q)
    with pytest.raises(BitstreamError):
        codec.decode(payload, 48, 48, 10_000)


@pytest.mark.parametrize("name", OFFLINE_CODECS)
def test_bad_inputs(name: str) -> None:
    codec = get_codec(name)
    with pytest.raises(InputError):
        codec.encode(np.zeros((8, 8), np.uint8), mid_quality(codec))
    with pytest.raises(InputError):
        codec.encode(np.zeros((8, 8, 3), np.float32), mid_quality(codec))
    with pytest.raises(InputError):
        codec.encode(np.zeros((0, 8, 3), np.uint8), mid_quality(codec))
    with pytest.raises(InputError):
        codec.encode(np.zeros((8, 8, 3), np.uint8), 100_000)


_CHILD = """
import hashlib, sys
import numpy as np
from sggic.codecs import get_codec
for line in sys.stdin.read().split():
    name, q, hexdata = line.split(":")
    out = get_codec(name).decode(bytes.fromhex(hexdata), 40, 24, int(q))
    print(name, hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_decode_is_deterministic_across_processes() -> None:
    img = astronaut(40, 24)
    lines, expected = [], []
    for name in OFFLINE_CODECS:
        codec = get_codec(name)
        q = mid_quality(codec)
        payload = codec.encode(img, q)
        lines.append(f"{name}:{q}:{payload.hex()}")
        expected.append(f"{name} {hashlib.sha256(codec.decode(payload, 40, 24, q).tobytes()).hexdigest()}")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], input="\n".join(lines), capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:-1] == expected


# --- VVC specifics ----------------------------------------------------------------------


@pytest.mark.parametrize(("w", "h", "qp"), [(64, 48, 63), (64, 48, 40), (24, 16, 50)])
def test_vvc_parameter_sets_are_regenerated_exactly(w: int, h: int, qp: int) -> None:
    codec = vvc.VVCCodec()
    img = astronaut(w, h)
    stream = codec.annexb_stream(img, qp)
    nals = _nal.split_annexb(stream)
    real_sets = tuple(n for n in nals if _nal.nal_type(n) in _nal.PARAMETER_SETS)
    assert any(_nal.nal_type(n) == _nal.SPS for n in real_sets)
    assert real_sets == vvc.template_parameter_sets(w, h, qp)
    payload = codec.compact(stream, w, h, qp)
    assert not any(_nal.nal_type(n) in _nal.PARAMETER_SETS for n in vvc.unpack_nals(payload))
    assert len(payload) <= len(stream) - sum(len(n) for n in real_sets)
    # the stored-parameter-set fallback decodes to the same pixels
    full = vvc.pack_nals([n for n in nals if _nal.nal_type(n) not in _nal.DROPPABLE])
    assert np.array_equal(codec.decode(full, w, h, qp), codec.decode(payload, w, h, qp))


def test_vvc_stream_pixels_match_plain_ffmpeg_decode() -> None:
    """Our compaction + colour conversion give exactly what the full stream decodes to."""
    from sggic.codecs._ffmpeg import run_ffmpeg

    codec = vvc.VVCCodec()
    img = astronaut(32, 32)
    stream = codec.annexb_stream(img, 45)
    raw = run_ffmpeg(["-f", "vvc", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-"], stream, BitstreamError, "t")
    expected = _pixels.yuv420p10_to_rgb(raw, 32, 32)
    assert np.array_equal(codec.decode(codec.compact(stream, 32, 32, 45), 32, 32, 45), expected)


def test_vvc_framing_round_trip() -> None:
    slice_ok = vvc.IMPLICIT_SLICE_HEADER + b"\xc5" + bytes(300)[:-1] + b"\x01"
    other_slice = b"\x00\x41" + b"\x12\x34"  # type 8 slice: explicit header
    aps = b"\x00\x89" + bytes(range(1, 40))  # short form
    long_aps = b"\x00\x89" + bytes(range(1, 250))  # long form (>= 0xC0 bytes)
    for nals in ([slice_ok], [aps, slice_ok], [long_aps, aps, other_slice], [other_slice]):
        assert vvc.unpack_nals(vvc.pack_nals(nals)) == nals
    assert len(vvc.pack_nals([aps, slice_ok])) == len(aps) + len(slice_ok) - 2  # zero overhead
    with pytest.raises(BitstreamError):
        vvc.unpack_nals(vvc.pack_nals([aps]))  # no slice


def test_vvc_golden_parameter_sets() -> None:
    """Files depend on libvvenc writing these exact sets: a change breaks old files."""
    digest = hashlib.sha256(b"".join(vvc.template_parameter_sets(256, 256, 50))).hexdigest()
    assert digest[:16] == GOLDEN_VVC_SETS, "libvvenc parameter sets changed: old .sgc files will not decode"


def test_vvc_parameter_set_table_is_what_libvvenc_writes(monkeypatch) -> None:
    """sggic.codecs._paramtable stands in for a 16x16 libvvenc run: every (chroma offset, QPA)
    entry, each at another qp, equals the template libvvenc codes (all 1664 qualities:
    scripts/vvc_paramset_table.py check)."""
    from sggic.codecs import _paramsets, _paramtable

    side = _paramsets.TEMPLATE_SIZE
    keys = sorted(_paramtable.PPS)
    assert len(keys) == 2 * (vvc.CHROMA_MAX + 1)
    for n, (chroma, qpa) in enumerate(keys):
        quality = vvc.pack_quality(vvc.Settings(vvc.QP_MAX - 2 * n, chroma, qpa))
        assert vvc._tabled_template(quality, vvc.PRESET) == vvc.template_parameter_sets(side, side, quality)
    assert vvc._tabled_template(50, "fast") is None  # another preset: coded, not looked up
    monkeypatch.setattr(vvc, "is_pinned_package", lambda: False)  # another ffmpeg binary: coded too
    assert vvc._tabled_template(50, vvc.PRESET) is None
    spied = []
    monkeypatch.setattr(vvc, "template_parameter_sets", lambda *a: spied.append(a) or vvc._paramtable.lookup(0, True))
    vvc.decoder_parameter_sets(64, 48, 50)
    assert spied == [(side, side, 50, vvc.PRESET)]


GOLDEN_VVC_SETS = "d6ee694fd6434f86"  # sha256 prefix, preset medium, imageio-ffmpeg 0.8.1


def test_vvc_plain_qp_encodes_exactly_as_before_the_chroma_refinement() -> None:
    """Qualities 0..63 must keep their old ffmpeg command, or old files stop decoding."""
    old = ["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "64x48", "-i", "-", "-threads", "1",
           "-c:v", "libvvenc", "-preset", "medium", "-qp", "50", "-frames:v", "1", "-f", "vvc", "-"]
    assert vvc.encoder_args(64, 48, vvc.Settings(50)) == old
    args = vvc.encoder_args(64, 48, vvc.Settings(50, -4, False))
    assert "CbQpOffset=-4:CrQpOffset=-4" in args and args[args.index("-qpa") + 1] == "0"


def test_vvc_probe_params_reach_only_the_probes_of_small_bases() -> None:
    """Rate control's probes of small bases code with ALF off; a file's encode never gets extra settings."""
    args = vvc.encoder_args(64, 48, vvc.Settings(50, -4, False), "faster", params=vvc.SMALL_PROBE_PARAMS)
    assert args[args.index("-vvenc-params") + 1] == "CbQpOffset=-4:CrQpOffset=-4:ALF=0:CCALF=0"
    args = vvc.encoder_args(64, 48, vvc.Settings(50), "faster", params=("ALF=0",))
    assert args[args.index("-vvenc-params") + 1] == "ALF=0"
    small = vvc.VVCCodec().encoder(astronaut(64, 48))
    assert small.probe_params == vvc.SMALL_PROBE_PARAMS and small.prior_ratio == vvc.SMALL_PROBE_PRIOR
    side = int(vvc.DETAIL_PIXELS ** 0.5) + vvc.PAD_MULTIPLE
    large = vvc.VVCCodec().encoder(np.zeros((side, side, 3), np.uint8))
    assert large.probe_params == () and large.prior_ratio == vvc.PROBE_PRIOR


@pytest.mark.parametrize(("chroma", "qpa"), [(-6, True), (0, False), (-3, False)])
def test_vvc_packed_settings_round_trip(chroma: int, qpa: bool) -> None:
    codec = vvc.VVCCodec()
    img = astronaut(64, 48)
    q = vvc.pack_quality(vvc.Settings(45, chroma, qpa))
    payload = codec.encode(img, q)
    # the decoder rebuilds this setting's parameter sets too: none are stored
    assert not any(_nal.nal_type(n) in _nal.PARAMETER_SETS for n in vvc.unpack_nals(payload))
    assert np.array_equal(codec.decode(payload, 64, 48, q), codec.decode_file(codec.encode_file(img, q), 64, 48))
    plain = codec.encode(img, 45)
    assert payload != plain
    if qpa:
        assert len(payload) > len(plain)  # finer chroma: more bytes
    with pytest.raises(BitstreamError):
        codec.decode(payload, 64, 48, vvc.QUALITY_MAX + 1)
    with pytest.raises(InputError):
        codec.encode(img, vvc.QUALITY_MAX + 1)


def test_vvc_size_probe_is_close_to_the_real_payload() -> None:
    codec = vvc.VVCCodec()
    img = astronaut(128, 128)
    probe = codec.size_probe(img)
    for q in (40, 55, vvc.pack_quality(vvc.Settings(50, -4))):
        assert 0.7 < probe(q) / len(codec.encode(img, q)) < 1.4


def test_vvc_calibration_probe_and_rate_control_priors() -> None:
    """Small pictures: a `fast` probe estimates the real / probe ratio; anchors from the detail."""
    codec = vvc.VVCCodec()
    img = astronaut(128, 128)
    prepared = codec.encoder(img)
    for q in (vvc.pack_quality(vvc.Settings(40, 0, False)), vvc.pack_quality(vvc.Settings(50, -4, False))):
        assert 0.8 < prepared.calibration_probe(q) * prepared.calibration_prior / len(prepared(q)) < 1.25
    assert prepared.detail > 0 and 0 < prepared.prior_ratio <= 1
    shape = codec.refinement_shape
    assert len(shape) == len(vvc.CHROMA_STEPS) - 1 and list(shape) == sorted(shape) and 0 < shape[0] < shape[-1] < 1
    flat = codec.encoder(np.full((128, 128, 3), 90, np.uint8))  # no detail: the plain prior
    assert flat.detail == 0 and flat.anchors(500) == prepared.__class__.anchors(flat, 500)
    busy, calm = [vvc.unpack_quality(q).qp for q in prepared.anchors(500)], [vvc.unpack_quality(q).qp
                                                                             for q in flat.anchors(500)]
    assert busy[0] - busy[1] == sum(abs(d) for d in vvc.DETAIL_ANCHOR_OFFSETS) and busy != calm


def test_vvc_threads_and_prepared_encodes_give_the_same_payload() -> None:
    """Rate control encodes large pictures with libvvenc threads: the payload must not change."""
    codec = vvc.VVCCodec()
    img = astronaut(200, 136)
    q = vvc.pack_quality(vvc.Settings(40, -4, False))
    one = codec.encode(img, q)
    assert codec.encode(img, q, threads=2) == one == codec.encoder(img)(q, 2)
    assert np.array_equal(codec.decode(one, 200, 136, q), codec.decode_file(codec.encode_file(img, q), 200, 136))


def test_vvc_mosaic_ratio_estimates_the_probe_error() -> None:
    """The calibration of large pictures: medium / faster bytes on a mosaic of the picture."""
    img = astronaut(640, 512)
    prepared = vvc.VVCCodec().encoder(img)
    q = vvc.pack_quality(vvc.Settings(40, 0, False))
    whole = len(prepared(q)) / prepared.probe(q)
    assert abs(prepared.probe_ratio(q) / whole - 1) < 0.1
    tiles = vvc._mosaic(img, vvc.MOSAIC, vvc.TILE)
    assert tiles.shape == (vvc.MOSAIC * vvc.TILE,) * 2 + (3,)
    assert np.array_equal(tiles[: vvc.TILE, : vvc.TILE], img[0:128, 16:144])  # first grid centre (64, 80)
    small = vvc._mosaic(astronaut(40, 30), 2, 64)  # a picture smaller than a tile: edge-padded
    assert small.shape == (128, 128, 3)


def test_vvc_check_available_runs_nothing_and_failures_name_a_missing_encoder(monkeypatch) -> None:
    codec = vvc.VVCCodec()
    calls = []

    def fake(args, stdin, error, what):
        calls.append(args)
        if args[0] == "-h":
            return b"" if args[1] == "encoder=libvvenc" else b"Decoder vvc [VVC]"  # built without libvvenc
        raise error(f"{what}: Unknown encoder 'libvvenc'")

    monkeypatch.setattr(vvc, "run_ffmpeg", fake)
    vvc._check_backend.cache_clear()
    try:
        codec.check_available()
        assert calls == []  # the pinned binary: a fresh process spends no ffmpeg run before its first encode
        with pytest.raises(BackendUnavailable, match="no libvvenc encoder"):
            codec.encode(astronaut(32, 32), 50)
        vvc._check_backend.cache_clear()
        monkeypatch.setattr(vvc, "is_pinned_package", lambda: False)  # e.g. IMAGEIO_FFMPEG_EXE
        with pytest.raises(BackendUnavailable, match="no libvvenc encoder"):
            codec.check_available()  # any other binary is asked up front
    finally:
        vvc._check_backend.cache_clear()


def test_ffmpeg_binary_is_found_without_running_it(monkeypatch) -> None:
    from sggic.codecs import _ffmpeg

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a process"))
    monkeypatch.setattr(subprocess, "check_call", lambda *a, **k: pytest.fail("ran a process"))
    monkeypatch.delenv("IMAGEIO_FFMPEG_EXE", raising=False)
    _ffmpeg.ffmpeg_exe.cache_clear()
    try:
        exe = _ffmpeg.ffmpeg_exe()
        _ffmpeg.check_exe()
        assert _ffmpeg.is_pinned_package()
    finally:
        _ffmpeg.ffmpeg_exe.cache_clear()
    assert Path(exe).is_file()
    monkeypatch.setattr(_ffmpeg, "ffmpeg_exe", lambda: "/nonexistent/ffmpeg")
    with pytest.raises(BackendUnavailable, match="missing"):
        _ffmpeg.check_exe()


@pytest.mark.parametrize("name", ["jpeg", "webp", "vvc"])
def test_standard_files_round_trip(name: str) -> None:
    codec = get_codec(name)
    try:
        codec.check_available()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    img = astronaut(33, 17)
    q = list(codec.qualities())[-1]
    data = codec.encode_file(img, q)
    assert len(data) > len(codec.encode(img, q))  # the payload strips what the decoder rebuilds
    out = codec.decode_file(data, 33, 17)
    assert out.shape == (17, 33, 3) and psnr(img, out) > 28
    with pytest.raises(BitstreamError):
        codec.decode_file(data[: len(data) // 3], 33, 17)


def test_missing_ffmpeg_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from sggic.codecs import _ffmpeg

    monkeypatch.setattr(_ffmpeg, "ffmpeg_exe", lambda: "/nonexistent/ffmpeg")
    with pytest.raises(BackendUnavailable):
        _ffmpeg.run_ffmpeg(["-version"], b"", BitstreamError, "t")


# --- helpers ----------------------------------------------------------------------------


def test_template_patch_round_trip() -> None:
    rng = np.random.default_rng(0)
    template = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    cases = [
        b"",
        template,
        template[:100] + b"xyz" + template[110:300] + rng.integers(0, 256, 80, dtype=np.uint8).tobytes(),
        rng.integers(0, 256, 50, dtype=np.uint8).tobytes(),
    ]
    for target in cases:
        patch = _template.make_patch(template, target)
        assert _template.apply_patch(template, patch) == target
    assert len(_template.make_patch(template, template)) <= 2
    with pytest.raises(ValueError):
        _template.apply_patch(template, b"\x05\x00\x10ab")


def test_annexb_split_join() -> None:
    nals = [b"\x00\xa1\x88", b"\x00\x79\x00\x03\x01", b"\x00\x39\xc4\x10"]
    stream = _nal.join_annexb(nals)
    assert _nal.split_annexb(stream) == nals
    assert _nal.split_annexb(b"\x00\x00\x01" + nals[0] + b"\x00\x00\x00\x00\x01" + nals[1]) == nals[:2]
    with pytest.raises(ValueError):
        _nal.split_annexb(b"\x12\x34")


def test_colour_conversion_is_close_to_identity() -> None:
    img = astronaut(64, 64)
    back = _pixels.yuv420p10_to_rgb(_pixels.rgb_to_yuv420p10(img), 64, 64)
    assert psnr(img, back) > 31  # only 4:2:0 chroma loss (ffmpeg's swscale: 32.2 dB here, ours 32.2)
    grey = np.full((8, 8, 3), 77, np.uint8)
    assert np.array_equal(_pixels.yuv420p10_to_rgb(_pixels.rgb_to_yuv420p10(grey), 8, 8), grey)


def test_ffmpeg_timeouts_keep_their_error_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoder timeouts are FFmpegTimeout (rate control must not read them as 'too large')."""
    from sggic.codecs import _ffmpeg

    monkeypatch.setattr(_ffmpeg, "TIMEOUT_S", 1e-4)
    with pytest.raises(_ffmpeg.FFmpegTimeout, match="did not finish"):
        _ffmpeg.run_ffmpeg(["-h", "encoder=libvvenc"], b"", BackendUnavailable, "libvvenc failed")
    with pytest.raises(BitstreamError, match="did not finish") as info:
        _ffmpeg.run_ffmpeg(["-h", "encoder=libvvenc"], b"", BitstreamError, "corrupt VVC payload")
    assert not isinstance(info.value, BackendUnavailable)
