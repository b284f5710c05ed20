"""End-to-end behaviour of encode/decode through the CLI and the Python API."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import sggic
from sggic.cli import main


def test_round_trip_at_003_meets_the_budget(encoded_003):
    size = encoded_003.stat().st_size
    target = 0.03 * 512 * 512 / 8
    assert 0.85 * target <= size <= target


def test_decode_is_bit_exact_and_original_size(encoded_003, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["decode", str(encoded_003), "-o", str(a)]) == 0
    assert main(["decode", str(encoded_003), "-o", str(b)]) == 0
    ia, ib = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    assert ia.shape == (512, 512, 3)
    assert np.array_equal(ia, ib)
    # and in a fresh process
    c = tmp_path / "c.png"
    r = subprocess.run([sys.executable, "-m", "sggic.cli", "decode", str(encoded_003), "-o", str(c)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(c)), ia)


def test_decoded_image_resembles_the_original(encoded_003, astronaut):
    out = np.asarray(sggic.decode(encoded_003.read_bytes())).astype(np.float64)
    mse = np.mean((out - astronaut) ** 2)
    assert 10 * np.log10(255**2 / mse) > 22


def test_info_json_reports_sections_and_semantics(encoded_003, semantics_json, capsys):
    assert main(["info", str(encoded_003), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["bytes"] == encoded_003.stat().st_size
    assert sum(d["sections"].values()) == d["bytes"]
    assert set(d["sections"]) >= {"header", "base", "semantics"}
    assert d["semantics"] == json.loads(semantics_json.read_text())
    assert d["base_codec"]["name"] == "vvc" and (d["width"], d["height"]) == (512, 512)


def test_info_text(encoded_003, capsys):
    assert main(["info", str(encoded_003)]) == 0
    out = capsys.readouterr().out
    assert "vvc" in out and "astronaut: smiling woman in a white spacesuit" in out


def test_python_api_odd_size_and_grayscale(astronaut):
    odd = astronaut[:201, :333]
    data = sggic.encode(odd, bpp=0.05, restorer="bicubic")
    assert len(data) <= 0.05 * 201 * 333 / 8
    img = sggic.decode(data)
    assert img.size == (333, 201) and img.mode == "RGB"
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    img = sggic.decode(sggic.encode(gray, bpp=0.05, restorer="bicubic"))
    assert img.mode == "L" and img.size == (512, 512)


def test_api_errors_are_sggic_errors(astronaut):
    with pytest.raises(sggic.SggicError):
        sggic.encode(astronaut, bpp=-1)
    with pytest.raises(sggic.SggicError):
        sggic.decode(b"not a file")


@pytest.mark.parametrize("base", ["avif", "webp", "jpeg", "heic"])
def test_other_base_codecs_round_trip(astronaut, base):
    data = sggic.encode(astronaut, bpp=0.2, base=base, restorer="bicubic")
    assert len(data) <= 0.2 * 512 * 512 / 8
    info = sggic.info(data)
    assert info["base_codec"]["name"] == base
    a = np.asarray(sggic.decode(data))
    assert np.array_equal(a, np.asarray(sggic.decode(data)))


def test_tiny_noisy_image_at_a_high_rate(tmp_path):
    # libvvenc refuses the highest qualities on tiny noisy pictures: rate control must step down
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (17, 33, 3), dtype=np.uint8)
    data = sggic.encode(img, bpp=8, restorer="bicubic")
    assert len(data) <= 8 * 17 * 33 / 8
    assert sggic.decode(data).size == (33, 17)


def test_output_files_get_normal_permissions(encoded_003, tmp_path):
    import os

    out = tmp_path / "x.png"
    assert main(["decode", str(encoded_003), "-o", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask)
