"""sggic bench --keep-images: decoded pictures kept, the side-by-side HTML page, half-resolution baselines."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from sggic.bench import bench
from sggic.bench.codecs import BASELINES, HalfResFile, get_bench_codec
from sggic.cli import main

SIZE = 64
CODECS = ["sggic:bicubic", "webp-half+bicubic", "avif-half+bicubic", "jpeg"]


@pytest.fixture(scope="module")
def photo_dir(photo_folder):
    return photo_folder("astronaut", "coffee")


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.scripts_external = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a["src"])
        if tag in ("script", "link") and (a.get("src") or a.get("href")):
            self.scripts_external += 1


def test_keep_images_writes_a_self_contained_page(photo_dir, tmp_path):
    out = tmp_path / "b"
    info = bench(out, bpps=[0.5, 1.0], codecs=CODECS, images=photo_dir, size=SIZE, metrics=["psnr"],
                 progress=False, keep_images=True)
    page = out / "compare.html"
    assert info["html"] == str(page)
    text = page.read_text()
    p = _Images()
    p.feed(text)
    assert p.scripts_external == 0 and "http" not in text  # no CDN, nothing fetched
    ok = [r for r in info["result"].records if r["status"] == "ok"]
    assert len(p.srcs) == 2 * 2 + len(ok)  # an original per (image, rate) row + every decoded point
    for src in p.srcs:
        assert not src.startswith("/") and (out / src).is_file()
    for r in ok:  # the kept picture is the decoded one: its PSNR is the recorded one
        key = f"{r['image']}__{r['codec'].replace(':', '_').replace('+', '_')}__{r['target_bpp']:g}"
        dec = np.asarray(Image.open(out / "images" / f"{key}.png"), dtype=np.float64)
        ref = np.asarray(Image.open(out / "images" / f"{r['image']}__original.png"), dtype=np.float64)
        psnr = 10 * np.log10(255**2 / np.mean((dec - ref) ** 2))
        assert psnr == pytest.approx(r["metrics"]["psnr"], abs=0.02)
        assert f"{r['bytes']} B" in text
    assert re.search(r'data-z="4"', text) and "--z" in text  # the shared zoom

    # a cached run re-creates a missing picture from the cached bitstream, computing nothing
    victim = next((out / "images").glob("*webp-half*"))
    victim.unlink()
    info2 = bench(out, bpps=[0.5, 1.0], codecs=CODECS, images=photo_dir, size=SIZE, metrics=["psnr"],
                  progress=False, keep_images=True, compute=False)
    assert info2["result"].encoded == 0 and victim.is_file()


def test_half_resolution_baselines_for_avif_and_webp(photo_dir):
    from sggic.bench.data import folder_images

    assert "avif-half+bicubic" in BASELINES and "webp-half+bicubic" in BASELINES
    img = folder_images(photo_dir, SIZE)[0]
    for name in ("avif-half+bicubic", "webp-half+bicubic"):
        c = get_bench_codec(name)
        assert isinstance(c, HalfResFile)
        coded = c.encode(img, 1.0, 512)
        half = c.inner.decode_file(coded.data, SIZE // 2, SIZE // 2)
        assert half.shape == (SIZE // 2, SIZE // 2, 3)  # really coded at half resolution
        assert c.decode(coded, SIZE, SIZE).shape == (SIZE, SIZE, 3)


def test_cli_keep_images(photo_dir, tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["bench", "--images", str(photo_dir), "--size", "48", "--bpp", "1", "--codecs", "webp-half+bicubic",
                 "--metrics", "psnr", "--no-progress", "--keep-images", "-o", str(out)]) == 0
    assert "compare.html" in capsys.readouterr().out and (out / "compare.html").is_file()
