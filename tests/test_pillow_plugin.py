"""The Pillow plugin: lazy open from the header, decode on load, save with bpp= or bytes=."""

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sggic
import sggic.pillow
from sggic.errors import BitstreamError


@pytest.fixture(scope="module")
def registered():
    sggic.pillow.register()


@pytest.fixture
def picture():
    y, x = np.mgrid[0:48, 0:64]
    return Image.fromarray(np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], -1).astype(np.uint8))


def test_save_and_open_roundtrip(registered, picture, tmp_path):
    p = tmp_path / "x.sgc"
    picture.save(p, bpp=1.0, base="webp", restorer="bicubic")
    assert p.read_bytes()[:3] == b"SGC" and p.stat().st_size <= 1.0 * 48 * 64 / 8
    with Image.open(p) as im:
        assert (im.format, im.size, im.mode) == ("SGC", (64, 48), "RGB")
        assert im._im is None  # nothing decoded yet
        im.load()
        pixels = np.asarray(im)
    assert np.array_equal(pixels, np.asarray(sggic.decode(p)))
    # the extension picks the format, and bytes= budgets in bytes
    q = tmp_path / "y.sgc"
    picture.save(q, bytes=300, base="webp")
    assert q.stat().st_size <= 300
    assert ".sgc" in Image.registered_extensions()


def test_grayscale_and_file_objects(registered, tmp_path):
    gray = Image.fromarray((np.add.outer(np.arange(40), np.arange(56)) * 2 % 256).astype(np.uint8), "L")
    buf = io.BytesIO()
    gray.save(buf, format="SGC", bpp=1.0, base="webp")
    buf.seek(0)
    im = Image.open(buf)
    assert im.mode == "L" and im.size == (56, 40)
    assert np.asarray(im.convert("L")).shape == (40, 56)  # convert() loads


def test_corrupt_header_is_one_line_error(registered, picture, tmp_path):
    p = tmp_path / "x.sgc"
    picture.save(p, bpp=1.0, base="webp")
    data = bytearray(p.read_bytes())
    data[7] ^= 0xFF  # inside the header section
    (tmp_path / "bad.sgc").write_bytes(bytes(data))
    with pytest.raises(BitstreamError, match="header"):
        Image.open(tmp_path / "bad.sgc")


def test_open_reads_only_the_header(tmp_path, picture):
    """In a fresh process: open + size must not import the decoder, torch or any model."""
    p = tmp_path / "x.sgc"
    p.write_bytes(sggic.encode(picture, bpp=1.0, base="webp"))
    code = textwrap.dedent(f"""
        import sys
        from PIL import Image
        import sggic.pillow
        sggic.pillow.register()
        im = Image.open({str(p)!r})
        print(im.size, im.mode)
        print(sorted(m for m in ("torch", "ncnn", "sggic.pipeline", "sggic.restore.fitted") if m in sys.modules))
    """)
    env_path = str(Path(sggic.__file__).parents[1])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["(64, 48) RGB", "[]"]


def test_not_registered_at_import():
    code = "import sggic, sggic.pillow; from PIL import Image; print('.sgc' in Image.registered_extensions())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(Path(sggic.__file__).parents[1]), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"
