"""Hostile files and calls (issue 15): bounded work before decoding, one clean line after.

Every crafted file here has valid framing and checksums; what is hostile is its content.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from hostile_files import file_with_base, frame, heic_bytes, literal_patch, pil_bytes, small_image

import sggic
from sggic import container, limits
from sggic.cli import main
from sggic.codecs import get_codec
from sggic.container import Header
from sggic.errors import BitstreamError, InputError, SggicError

JPEG, HEIC, AVIF, WEBP, VVC = 5, 3, 2, 4, 1


def _one_line(capsys, code, out=None):
    err = capsys.readouterr().err
    assert code != 0, err
    assert err.startswith("sggic: error:"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    if out is not None:
        assert not os.path.lexists(out) or not os.path.isfile(out)
    return err


def _decode_fails(data: bytes, match: str, budget_s: float = 5.0) -> None:
    t = time.perf_counter()
    with pytest.raises(BitstreamError, match=match):
        sggic.decode(data, restorer="bicubic")
    assert time.perf_counter() - t < budget_s


# ------------------------------------------------------------------ 1. unbounded reads


def test_info_on_a_device_reads_a_bounded_amount(capsys):
    t = time.perf_counter()
    err = _one_line(capsys, main(["info", "/dev/zero"]))
    assert "too large" in err and time.perf_counter() - t < 5


@contextlib.contextmanager
def _endless_fifo(path, chunk: bytes):
    """A named pipe at ``path`` that a thread keeps writing ``chunk`` into until the block ends."""
    os.mkfifo(path)
    stop = threading.Event()

    def writer():
        try:
            with open(path, "wb") as f:
                while not stop.is_set():
                    f.write(chunk)
        except OSError:  # BrokenPipeError included: the reader gave up
            pass

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        yield path
    finally:
        stop.set()
        th.join(5)


def test_decode_from_an_endless_pipe(tmp_path, capsys):
    out = tmp_path / "o.png"
    with _endless_fifo(tmp_path / "pipe.sgc", b"y\n" * 65536) as fifo:
        _one_line(capsys, main(["decode", str(fifo), "-o", str(out)]), out)
    assert not out.exists()


def test_encode_from_an_endless_pipe_is_bounded(tmp_path, capsys, monkeypatch):
    from sggic import images

    monkeypatch.setattr(images, "MAX_STREAM_BYTES", 1 << 20)
    with _endless_fifo(tmp_path / "img.png", b"\x89PNG" * 4096) as fifo:
        err = _one_line(capsys, main(["encode", str(fifo), "-o", str(tmp_path / "o.sgc")]))
    assert "too large" in err


def test_image_from_a_pipe_still_encodes(tmp_path):
    from PIL import Image

    from sggic.images import load_image

    fifo = tmp_path / "img.png"
    os.mkfifo(fifo)
    buf = __import__("io").BytesIO()
    Image.fromarray(small_image()).save(buf, "PNG")

    def writer():
        with open(fifo, "wb") as f:
            f.write(buf.getvalue())

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    assert load_image(fifo).rgb.shape == (32, 48, 3)
    th.join(5)


def test_read_capped_reads_at_most_cap_plus_one(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 100)
    assert limits.read_capped(p, 100) == b"x" * 100
    with pytest.raises(BitstreamError, match="more than 99 bytes"):
        limits.read_capped(p, 99)


# ------------------------------------------------------------------ 2. sizes before allocation


@pytest.mark.parametrize("codec_id, quality, make", [
    (JPEG, 50, lambda: pil_bytes((2048, 2048), "JPEG", quality=5)),
    (WEBP, 50, lambda: pil_bytes((2048, 2048), "WEBP", quality=5)),
    (AVIF, 50, lambda: pil_bytes((1024, 1024), "AVIF", quality=5)),
    (HEIC, 50, lambda: heic_bytes((1024, 1024))),
], ids=["jpeg", "webp", "avif", "heic"])
def test_payload_larger_than_the_header_is_refused_before_decoding(codec_id, quality, make, monkeypatch):
    data = file_with_base(codec_id, quality, literal_patch(make()))
    from sggic.codecs import pillow

    def no_decode(self, data):  # the decoder must never see it
        raise AssertionError("payload reached the decoder")

    for cls in (pillow.JPEGCodec, pillow.WebPCodec, pillow.AVIFCodec, pillow.HEICCodec):
        monkeypatch.setattr(cls, "_load", no_decode)
    _decode_fails(data, r"payload codes .*header implies 32x32")


def _vvc_stream(w: int, h: int, qp: int = 63) -> list[bytes]:
    from sggic.codecs import _nal

    rgb = np.full((h, w, 3), 100, np.uint8)
    stream = get_codec("vvc").annexb_stream(rgb, qp)
    return [n for n in _nal.split_annexb(stream) if _nal.nal_type(n) not in _nal.DROPPABLE]


def test_vvc_payload_with_its_own_large_sps_never_reaches_ffmpeg(monkeypatch):
    from sggic.codecs import vvc

    payload = vvc.pack_nals(_vvc_stream(256, 256))
    data = file_with_base(VVC, 63, payload)

    def no_ffmpeg(*a, **k):
        raise AssertionError("ffmpeg ran")

    vvc._check_backend()  # the (cached) backend probe runs ffmpeg; decoding this payload must not
    monkeypatch.setattr(vvc, "run_ffmpeg", no_ffmpeg)
    _decode_fails(data, r"SPS codes 256x256, the header implies 32x32")


def test_vvc_ffmpeg_pixel_backstop(monkeypatch):
    """Even if the SPS check were bypassed, ffmpeg refuses frames above the header's size."""
    from sggic.codecs import _sniff, vvc

    monkeypatch.setattr(_sniff, "check_vvc_sps", lambda *a: None)
    data = file_with_base(VVC, 63, vvc.pack_nals(_vvc_stream(512, 512)))
    _decode_fails(data, "max pixel count")


def test_vvc_payload_with_a_matching_sps_still_decodes():
    from sggic.codecs import vvc

    payload = vvc.pack_nals(_vvc_stream(32, 32))
    img = sggic.decode(file_with_base(VVC, 63, payload), restorer="bicubic")
    assert img.size == (64, 64)


def test_sps_parser_reads_the_sizes_libvvenc_writes():
    from sggic.codecs import _nal, _sniff, vvc

    for w, h in [(16, 16), (40, 24), (264, 136)]:
        sps = [n for n in vvc.template_parameter_sets(w, h, 50) if _nal.nal_type(n) == _nal.SPS]
        assert _sniff.vvc_sps_size(sps[0]) == (w, h)


# ------------------------------------------------------------------ 3. format confusion


def _other_formats():
    yield "png", pil_bytes((32, 32), "PNG")
    yield "tiff", pil_bytes((32, 32), "TIFF")
    yield "bmp", pil_bytes((32, 32), "BMP")
    yield "ppm", pil_bytes((32, 32), "PPM")
    yield "gif", pil_bytes((32, 32), "GIF")
    yield "jp2", b"\xff\x4f\xff\x51" + bytes(60)  # a JPEG 2000 codestream's first marker
    yield "webp", pil_bytes((32, 32), "WEBP")
    yield "jpeg", pil_bytes((32, 32), "JPEG")
    yield "avif", pil_bytes((32, 32), "AVIF")
    yield "heic", heic_bytes((32, 32))


@pytest.mark.parametrize("slot, codec_id", [("jpeg", JPEG), ("webp", WEBP), ("avif", AVIF), ("heic", HEIC)])
def test_each_slot_accepts_only_its_own_format(slot, codec_id):
    for fmt, payload in _other_formats():
        data = file_with_base(codec_id, 50, literal_patch(payload))
        if fmt == slot:
            assert sggic.decode(data, restorer="bicubic").size == (64, 64)
        else:
            _decode_fails(data, f"not {slot}")


def test_progressive_or_lossless_jpeg_processes():
    from sggic.codecs import _sniff

    assert _sniff.jpeg_size(pil_bytes((40, 24), "JPEG", progressive=True)) == (40, 24)
    sof3 = b"\xff\xd8\xff\xc3\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00"
    with pytest.raises(ValueError, match="not baseline"):
        _sniff.jpeg_size(sof3)


# ------------------------------------------------------------------ 4. max pixels


def test_max_pixels_is_checked_before_any_work(monkeypatch):
    from sggic.codecs import vvc

    monkeypatch.setattr(vvc, "template_parameter_sets", lambda *a: pytest.fail("parameter sets regenerated"))
    data = file_with_base(VVC, 63, b"\xc0\x00", width=10000, height=10000)  # a 24-byte-class bomb
    t = time.perf_counter()
    with pytest.raises(BitstreamError, match="--max-pixels"):
        sggic.decode(data)
    assert time.perf_counter() - t < 1
    with pytest.raises(BitstreamError, match="max_pixels"):
        sggic.decode(file_with_base(VVC, 63, b"\xc0", width=100, height=100), max_pixels=9999)
    with pytest.raises(InputError, match="max_pixels"):
        sggic.decode(data, max_pixels=0)


def test_cli_max_pixels(tmp_path, capsys):
    src = tmp_path / "big.sgc"
    src.write_bytes(file_with_base(VVC, 63, b"\xc0\x00", width=9000, height=8000))
    out = tmp_path / "o.png"
    err = _one_line(capsys, main(["decode", str(src), "-o", str(out)]), out)
    assert "--max-pixels" in err and "72000000" in err
    with pytest.raises(SystemExit) as exc:
        main(["decode", str(src), "-o", str(out), "--max-pixels", "-3"])
    assert "--max-pixels" in _one_line(capsys, exc.value.code, out)


# ------------------------------------------------------------------ 6. special files as output


@pytest.fixture()
def tiny_png(tmp_path):
    from PIL import Image

    p = tmp_path / "in.png"
    Image.fromarray(small_image()).save(p)
    return p


def test_special_outputs_are_refused_before_encoding(tmp_path, tiny_png, capsys, monkeypatch):
    import sggic.pipeline as pl

    monkeypatch.setattr(pl, "encode_detailed", lambda *a, **k: pytest.fail("encoded before checking -o"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, what in [("/dev/null", "not a regular file"), (str(fifo), "not a regular file"),
                         ("", "empty"),
                         (str(tiny_png), "is the input"), (str(tmp_path / "no" / "o.sgc"), "does not exist")]:
        err = _one_line(capsys, main(["encode", str(tiny_png), "-o", target]))
        assert what in err, err
    assert fifo.exists() and not fifo.is_file()  # still a FIFO
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    assert tiny_png.read_bytes()[:4] == b"\x89PNG"
    # (-o naming an existing folder is batch mode: the .sgc goes into that folder; tests/test_batch.py)


def test_read_only_folder_is_one_line(tmp_path, tiny_png, capsys, monkeypatch):
    real_access = os.access
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(ro) else real_access(p, m))
    err = _one_line(capsys, main(["encode", str(tiny_png), "-o", str(ro / "o.sgc")]))
    assert "not writable" in err


def test_atomic_write_failure_is_one_line(tmp_path, monkeypatch):
    import tempfile

    from sggic.images import atomic_write

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InputError, match="Permission denied"):
        atomic_write(tmp_path / "x.bin", b"1")


def test_decode_output_equal_to_input_is_refused(tmp_path, capsys):
    src = tmp_path / "a.sgc"
    src.write_bytes(file_with_base(VVC, 63, b"\xc0"))
    _one_line(capsys, main(["decode", str(src), "-o", str(src)]))
    assert src.read_bytes()[:3] == b"SGC"


# ------------------------------------------------------------------ 7. terminal injection


def _file_with_semantics(sem) -> bytes:
    from sggic.semantics.textcoder import encode_semantics

    jpeg = get_codec("jpeg")
    base = jpeg.encode(small_image(32, 32), 10)
    h = Header(64, 64, JPEG, 10, container.FLAG_SEMANTICS)
    return frame(container.encode_header(h), base, encode_semantics(sem))


HOSTILE_TEXT = "red\x1b[2J\x1b]0;owned\x07car\rFAKE LINE\nsggic: error: forged\u202eevil\ud800"


def test_info_escapes_control_characters(tmp_path, capsys):
    from sggic.semantics.schema import SemanticObject, Semantics

    sem = Semantics((SemanticObject("car\x1b[31m", HOSTILE_TEXT),), HOSTILE_TEXT)
    src = tmp_path / "evil\nname.sgc"
    src.write_bytes(_file_with_semantics(sem))
    assert main(["info", str(src)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x07" not in out
    assert len(out.splitlines()) == 8, out  # no forged lines (title, base, profile, restorer, sections, 3 semantics)
    assert "\\x1b[2J" in out and "\\ud800" in out and "evil\\nname.sgc" in out
    assert main(["info", "--json", str(src)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["semantics"]["description"] == HOSTILE_TEXT  # exact, surrogate included
    assert d["semantics"]["objects"][0]["name"] == "car\x1b[31m"


def test_info_json_stays_readable_utf8(tmp_path, capsys):
    from sggic.semantics.schema import Semantics

    src = tmp_path / "a.sgc"
    src.write_bytes(_file_with_semantics(Semantics((), "café ☕ 東京")))
    assert main(["info", "--json", str(src)]) == 0
    out = capsys.readouterr().out
    assert "café ☕ 東京" in out
    assert main(["info", str(src)]) == 0
    assert "café ☕ 東京" in capsys.readouterr().out


def test_printable_cannot_be_forged():
    from sggic.terminal import printable

    assert printable("a\\x1b") == "a\\\\x1b"
    assert printable("a\x1b") == "a\\x1b"
    assert printable("tab\there") == "tab\\there"
    assert printable("Ünïcödé ok") == "Ünïcödé ok"


# ------------------------------------------------------------------ 8. one clean line


@pytest.mark.parametrize("text", [
    "[" * 100_000,
    '{"description": ' + "1" * 5000 + "}",
    '{"description": "lone \\ud800 surrogate"}',
    '{"objects": [{"name": "a", "detail": ' + "[" * 50_000 + "]" * 50_000 + "}]}",
], ids=["nested", "huge-int", "surrogate", "nested-in-object"])
def test_hostile_semantics_json(tmp_path, tiny_png, capsys, text):
    sem = tmp_path / "s.json"
    sem.write_text(text)
    out = tmp_path / "o.sgc"
    _one_line(capsys, main(["encode", str(tiny_png), "-o", str(out), "--semantics", str(sem)]), out)
    assert not out.exists()


def test_semantics_from_a_device(tmp_path, tiny_png, capsys):
    out = tmp_path / "o.sgc"
    _one_line(capsys, main(["encode", str(tiny_png), "-o", str(out), "--semantics", "/dev/zero"]), out)


def test_pillow_bomb_warning_is_silenced(tmp_path, monkeypatch):
    from PIL import Image

    from sggic.images import load_image

    p = tmp_path / "w.png"
    Image.new("RGB", (40, 40)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 px: warning range, not error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(p).rgb.shape == (40, 40, 3)


def test_nan_float_tiff_is_one_line(tmp_path, capsys):
    from PIL import Image

    a = np.full((16, 16), 0.5, np.float32)
    a[3, 3] = np.nan
    src = tmp_path / "nan.tif"
    Image.fromarray(a, mode="F").save(src)
    out = tmp_path / "o.sgc"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = _one_line(capsys, main(["encode", str(src), "-o", str(out)]), out)
    assert "NaN" in err


def test_newline_in_a_file_name_is_escaped(tmp_path, capsys):
    bad = tmp_path / "a\nsggic: error: forged.sgc"  # does not exist: the message names it
    err = _one_line(capsys, main(["decode", str(bad), "-o", str(tmp_path / "o.png")]))
    assert "a\\nsggic" in err


@pytest.mark.parametrize("argv", [
    ["encode", "x.png", "-o", "y.sgc", "--bpp", "lots"],
    ["encode", "x.png", "-o", "y.sgc", "--seed", "1.5"],
    ["decode", "x.sgc"],
    ["frobnicate"],
    ["info", "--nope", "x"],
])
def test_argparse_errors_are_one_line(argv):
    r = subprocess.run([sys.executable, "-m", "sggic.cli", *argv], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("sggic: error:") and r.stderr.count("\n") == 1, r.stderr
    assert "usage:" not in r.stderr


# ------------------------------------------------------------------ 9. API types


@pytest.fixture(scope="module")
def good_file():
    return sggic.encode(small_image(), bpp=0.5, base="jpeg", restorer="bicubic")


def _wrong_calls(good):
    img = small_image()
    yield lambda: sggic.encode(img, semantics=42)
    yield lambda: sggic.encode(img, semantics={"objects": "x"})
    yield lambda: sggic.encode(img, semantics=["a"])
    yield lambda: sggic.encode(img, bpp=True)
    yield lambda: sggic.encode(img, bpp="0.03")
    yield lambda: sggic.encode(img, bpp=float("nan"))
    yield lambda: sggic.encode(img, seed=True)
    yield lambda: sggic.encode(img, seed=2**32)
    yield lambda: sggic.encode(img, seed=1.0)
    yield lambda: sggic.encode(img, base=5)
    yield lambda: sggic.encode(img, restorer=3)
    yield lambda: sggic.encode(img, fixed="yes")
    yield lambda: sggic.encode(None)
    yield lambda: sggic.encode(123)
    yield lambda: sggic.encode({"a": 1})
    yield lambda: sggic.encode("a\x00b.png")
    yield lambda: sggic.encode(np.zeros((4, 4, 3), np.float32))
    yield lambda: sggic.decode(None)
    yield lambda: sggic.decode(123)
    yield lambda: sggic.decode([1, 2])
    yield lambda: sggic.decode("a\x00b.sgc")
    yield lambda: sggic.decode(good, restorer=123)
    yield lambda: sggic.decode(good, restorer="nope")
    yield lambda: sggic.decode(good, max_pixels=True)
    yield lambda: sggic.decode(good, max_pixels="1000")
    yield lambda: sggic.info(123)
    yield lambda: sggic.info(None)
    yield lambda: sggic.info("a\x00b")
    yield lambda: sggic.info(b"")


def test_api_wrong_types_raise_sggic_errors(good_file):
    for i, call in enumerate(_wrong_calls(good_file)):
        with pytest.raises(SggicError):
            call()


def test_api_accepts_a_plain_semantics_dict():
    data = sggic.encode(small_image(), bpp=2.0, base="jpeg", restorer="bicubic",
                        semantics={"objects": [{"name": "cat"}], "description": "a cat"})
    assert sggic.info(data)["semantics"]["objects"][0]["name"] == "cat"


# ------------------------------------------------------------------ 10. one encoding per file


def test_seed_of_2_32_is_refused():
    h = Header(64, 64, VVC, 63, seed=2**32)
    data = frame(container.encode_header(h), b"\xc0")
    with pytest.raises(BitstreamError, match="seed"):
        container.read(data)


def test_non_canonical_varints_are_refused():
    good = container.encode_header(Header(64, 64, VVC, 63))
    assert good[0] == 64
    padded = bytes([0x80 | 64, 0x00]) + good[1:]  # 64 written in two bytes
    with pytest.raises(BitstreamError, match="non-canonical"):
        container.read(frame(padded, b"\xc0"))
    framed = bytearray(frame(good, b"\xc0"))
    # section length 1 written as 0x81 0x00, CRC recomputed
    import binascii

    body = bytes([container.SEC_BASE, 0x81, 0x00, 0xC0])
    bad = bytes(framed[: 4 + 2 + len(good) + 2]) + body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")
    with pytest.raises(BitstreamError, match="non-canonical"):
        container.read(bad)


@pytest.mark.parametrize("codec_id, quality", [(VVC, 0), (VVC, 19), (VVC, 64), (JPEG, 0), (JPEG, 96), (WEBP, 101)])
def test_quality_outside_what_the_encoder_writes(codec_id, quality):
    data = file_with_base(codec_id, quality, b"\xc0")
    with pytest.raises(BitstreamError, match="quality"):
        sggic.decode(data, restorer="bicubic")
    with pytest.raises(BitstreamError, match="quality"):
        sggic.info(data)


def test_quality_source_of_truth_is_the_codec():
    vvc = get_codec("vvc")
    lowest = min(vvc.file_qualities())  # plain qp 20 (sggic's own steps are packed since QPA went off)
    with pytest.raises(BitstreamError, match="a qp in 20..63, or packed settings"):
        limits.check_quality(vvc, lowest - 1)
    limits.check_quality(vvc, lowest)
    with pytest.raises(BitstreamError, match=r"quality 96 is not one this codec writes: 1\.\.95"):
        limits.check_quality(get_codec("jpeg"), 96)


# ------------------------------------------------------------------ budgets in a real process

_PROBE = """
import resource, sys, time
from sggic.cli import main
t = time.perf_counter()
rc = main(sys.argv[1:])
dt = time.perf_counter() - t
# VmHWM, not RUSAGE_SELF: Linux carries ru_maxrss over exec from the (large) test process
me = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"PROBE {rc} {dt:.3f} {max(me, kids) / 1024:.1f}", file=sys.stderr)
"""


def _probe(argv, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=60, env=env,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = r.stderr.strip().splitlines()
    rc, dt, mb = lines[-1].split()[1:]
    return int(rc), float(dt), float(mb), lines[:-1]


def test_hostile_decodes_stay_within_10s_and_500mb(tmp_path):
    from sggic.codecs import vvc

    cases = {
        "claims-10000x10000": file_with_base(VVC, 63, b"\xc0\x00", width=10000, height=10000),
        "jpeg-2048-in-64": file_with_base(JPEG, 50, literal_patch(pil_bytes((2048, 2048), "JPEG", quality=5))),
        "heic-1024-in-64": file_with_base(HEIC, 50, literal_patch(heic_bytes((1024, 1024)))),
        "png-in-jpeg-slot": file_with_base(JPEG, 50, literal_patch(pil_bytes((4000, 4000), "PNG"))),
        "vvc-own-sps-256": file_with_base(VVC, 63, vvc.pack_nals(_vvc_stream(256, 256))),
        "claims-8000x8000": file_with_base(VVC, 63, b"\xc0\x00", width=8000, height=8000),
    }
    for name, data in cases.items():
        src = tmp_path / f"{name}.sgc"
        src.write_bytes(data)
        out = tmp_path / f"{name}.png"
        rc, dt, mb, err = _probe(["decode", str(src), "-o", str(out)], tmp_path)
        assert rc != 0 and len(err) == 1 and err[0].startswith("sggic: error:"), (name, err)
        assert dt < 10 and mb < 500, (name, dt, mb)
        assert not out.exists()


def test_info_on_a_valid_file_is_fast(tmp_path, good_file):
    """The work of ``info`` (container, header checks, semantics) once modules are imported."""
    from sggic.semantics.schema import SemanticObject, Semantics

    sem = Semantics(tuple(SemanticObject(f"object {i}", "a detail of ten words or so here") for i in range(3)),
                    "a description of about fifty words " * 7)
    data = sggic.encode(small_image(), bpp=8.0, base="jpeg", restorer="bicubic", semantics=sem)
    sggic.info(good_file)  # imports
    for d in (good_file, data):
        t = time.perf_counter()
        sggic.info(d)
        assert time.perf_counter() - t < 1


# ------------------------------------------------------------------ parameter sets at constant cost


@pytest.mark.parametrize("w, h", [(16, 16), (40, 24), (152, 152), (392, 384), (520, 264), (16, 992),
                                  (1024, 120), (16, 2104), (528, 528), (16, 16896), (24, 32768)])
def test_rewritten_parameter_sets_equal_libvvenc_ones(w, h):
    from sggic.codecs import vvc

    assert vvc.decoder_parameter_sets(w, h, 63) == vvc.template_parameter_sets(w, h, 63)


@pytest.mark.parametrize("pinned", [True, False])
def test_parameter_sets_for_a_huge_claim_cost_nothing(monkeypatch, pinned):
    from sggic.codecs import vvc

    if not pinned:  # another ffmpeg: the sets come from a 16x16 template encode, never the claimed size
        monkeypatch.setattr(vvc, "is_pinned_package", lambda: False)
    calls = []
    real = vvc.template_parameter_sets.__wrapped__

    def spy(w, h, qp, preset=vvc.PRESET):
        calls.append((w, h))
        return real(w, h, qp, preset)

    monkeypatch.setattr(vvc, "template_parameter_sets", spy)
    data = file_with_base(VVC, 63, b"\xc0\x00", width=8000, height=8000)  # within the default limit
    t = time.perf_counter()
    with pytest.raises(BitstreamError):
        sggic.decode(data, restorer="bicubic")
    assert time.perf_counter() - t < 3
    assert calls == ([] if pinned else [(16, 16)])  # the pinned binary's sets are a table


def test_unsupported_output_extension_fails_before_decoding(tmp_path, capsys, monkeypatch):
    import sggic.pipeline as pl

    monkeypatch.setattr(pl, "decode_detailed", lambda *a, **k: pytest.fail("decoded before checking -o"))
    src = tmp_path / "a.sgc"
    src.write_bytes(file_with_base(VVC, 63, b"\xc0"))
    err = _one_line(capsys, main(["decode", str(src), "-o", str(tmp_path / "o.xyz")]))
    assert "extension" in err
