
import numpy as np
import pytest
from PIL import Image

from sggic.errors import InputError
from sggic.images import atomic_write, load_image, save_image


def _photo(h=40, w=60):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_exif_orientation_is_applied(tmp_path):
    arr = _photo()
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    p = tmp_path / "o.jpg"
    im.save(p, quality=95, exif=exif)
    out = load_image(p)
    assert out.rgb.shape == (60, 40, 3)


def test_sixteen_bit_gray_png_scales_not_clips(tmp_path):
    a = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    out = load_image(p)
    assert out.grayscale and out.rgb.dtype == np.uint8
    assert out.rgb.max() == 255 and out.rgb.min() == 0
    assert abs(int(out.rgb[16, 32, 0]) - round(a[16, 32] / 257)) <= 1


def test_alpha_is_composited_over_white_with_a_note(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :5, 3] = 255  # left half opaque red-ish, right half transparent
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    out = load_image(p)
    assert tuple(out.rgb[0, 0]) == (200, 0, 0)
    assert tuple(out.rgb[0, 9]) == (255, 255, 255)
    assert any("alpha" in n for n in out.notes)


def _linear_rgb_icc() -> bytes:
    """A minimal ICC v2 display profile: sRGB primaries with a linear (gamma 1) curve."""
    import struct

    def s15(x):
        return struct.pack(">i", round(x * 65536))

    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    text = b"linear test\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">I", 1) + struct.pack(">H", 0x0100) + bytes(2)
    tags = [
        (b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blob = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(blob), len(data))
        blob += data
    body = struct.pack(">I", len(tags)) + table + blob
    size = 128 + len(body)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
              + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48))
    assert len(header) == 128
    return header + body


def test_icc_profile_is_converted_to_srgb(tmp_path):
    arr = np.full((8, 8, 3), 128, np.uint8)  # linear 0.5 is sRGB ~188
    p = tmp_path / "icc.png"
    Image.fromarray(arr).save(p, icc_profile=_linear_rgb_icc())
    out = load_image(p)
    assert any("ICC" in n and "sRGB" in n for n in out.notes), out.notes
    assert 180 <= int(out.rgb[4, 4, 1]) <= 195


def test_grayscale_flag(tmp_path):
    p = tmp_path / "g.png"
    Image.fromarray(np.full((8, 9), 77, np.uint8)).save(p)
    out = load_image(p)
    assert out.grayscale and out.rgb.shape == (8, 9, 3) and (out.rgb == 77).all()


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_images(tmp_path, content):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(InputError):
        load_image(p)


def test_heic_input_is_read_and_png_input_does_not_load_its_plugin(tmp_path):
    """HEIF's opener is registered only for files Pillow's own openers do not know."""
    import subprocess
    import sys

    pillow_heif = pytest.importorskip("pillow_heif")
    yy, xx = np.mgrid[0:32, 0:48]
    rgb = np.stack([xx * 5, yy * 7, 255 - xx * 5], axis=-1).astype(np.uint8)  # smooth: codes closely
    heic = tmp_path / "a.heic"
    pillow_heif.from_bytes("RGB", (48, 32), rgb.tobytes()).save(heic, quality=95)
    png = tmp_path / "a.png"
    Image.fromarray(rgb).save(png)
    code = ("import sys; from sggic.images import load_image; "
            "print(load_image(sys.argv[1]).rgb.shape, 'pillow_heif' in sys.modules)")
    out = [subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, check=True).stdout
           for f in (png, heic)]
    assert out == ["(32, 48, 3) False\n", "(32, 48, 3) True\n"]
    assert np.abs(load_image(heic).rgb.astype(int) - rgb).mean() < 8  # lossy, but the same picture


def test_missing_and_directory(tmp_path):
    with pytest.raises(InputError):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputError):
        load_image(tmp_path)


def test_huge_image_refused_before_decoding(tmp_path):
    p = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(p)
    with pytest.raises(InputError, match="too large"):
        load_image(p, max_pixels=10_000_000)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(InputError):
        atomic_write(tmp_path / "missing-dir" / "x.sgc", b"abc")
    atomic_write(tmp_path / "x.sgc", b"abc")
    assert (tmp_path / "x.sgc").read_bytes() == b"abc"
    assert [q.name for q in tmp_path.iterdir()] == ["x.sgc"]
    with pytest.raises(InputError):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "x.xyz")
