"""sggic.pngwrite: valid PNGs with exactly the pixels, zlib's checksums, about Pillow's size."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sggic.images import save_image
from sggic.pngwrite import STRIP, adler32_combine, encode_png


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        assert struct.unpack(">I", png[pos + 8 + n : pos + 12 + n])[0] == zlib.crc32(kind + data)
        out.append((kind, data))
        pos += 12 + n
    return out


def test_adler32_combine_equals_zlib_on_the_concatenation() -> None:
    for n1, n2 in [(0, 0), (0, 5), (5, 0), (1, 1), (1000, 77777), (300000, 123)]:
        a, b = os.urandom(n1), os.urandom(n2)
        assert adler32_combine(zlib.adler32(a), zlib.adler32(b), n2) == zlib.adler32(a + b)
    ff = b"\xff" * 100_000  # sums that wrap the modulus
    assert adler32_combine(zlib.adler32(ff), zlib.adler32(ff), len(ff)) == zlib.adler32(ff + ff)


@pytest.mark.parametrize("h, w", [(1, 1), (2, 3), (7, 5), (STRIP, 64), (STRIP + 1, 33), (2 * STRIP, 7),
                                  (2 * STRIP + 2, 257), (5 * STRIP + 3, 40)])
def test_pixels_round_trip_for_arrays_and_images(h, w, astronaut) -> None:
    noise = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    photo = np.ascontiguousarray(np.resize(astronaut, (h, w, 3)))
    for arr in (noise, photo, np.zeros((h, w, 3), np.uint8)):
        png = encode_png(arr)
        assert png == encode_png(Image.fromarray(arr))  # the same bytes from a PIL image
        kinds = [k for k, _ in _chunks(png)]
        assert kinds == [b"IHDR", b"IDAT", b"IEND"]
        raw = zlib.decompress(_chunks(png)[1][1])  # checks the combined Adler-32 too
        assert len(raw) == h * (3 * w + 1) and set(raw[:: 3 * w + 1]) <= set(range(5))
        with Image.open(io.BytesIO(png)) as im:
            assert im.mode == "RGB" and np.array_equal(np.asarray(im), arr)


def test_worker_count_does_not_change_the_pixels(astronaut) -> None:
    arr = np.ascontiguousarray(astronaut[:300, :200])
    outs = [encode_png(arr, workers=k) for k in (1, 2, 4)]
    for png in outs:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), arr)
    assert outs[0] != outs[1]  # really split: the parts restart their window


def test_size_is_close_to_pillows(astronaut) -> None:
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "PNG")
    assert len(encode_png(astronaut)) < 1.05 * len(buf.getvalue())


def test_bad_input_is_refused() -> None:
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.uint16),
                np.zeros((0, 4, 3), np.uint8), Image.new("RGBA", (4, 4)), Image.new("L", (4, 4))):
        with pytest.raises(ValueError):
            encode_png(bad)


def test_save_image_writes_rgb_png_with_it_and_others_with_pillow(tmp_path, astronaut) -> None:
    img = Image.fromarray(astronaut)
    save_image(img, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == encode_png(astronaut)
    grey = img.convert("L")
    save_image(grey, tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as back:
        assert back.mode == "L" and np.array_equal(np.asarray(back), np.asarray(grey))
