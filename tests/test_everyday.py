"""Progress bars, byte budgets, output names, CLI/API polish (issue 12, items 3-6)."""

import argparse
import inspect
import re

import numpy as np
import pytest
from PIL import Image

import sggic
from sggic.budgets import bpp_at_least
from sggic.cli import _parser, main
from sggic.errors import InputError, RateError
from sggic.progress import activity, step
from sggic.ratecontrol import budget_bytes


@pytest.fixture
def small_png(tmp_path):
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], -1).astype(np.uint8)
    p = tmp_path / "small.png"
    Image.fromarray(rgb).save(p)
    return p


# --- 3. feedback -------------------------------------------------------------------------

def test_progress_bar_counts_tiles_only_inside_an_activity(capsys):
    from sggic.restore.tiling import tiled_upscale

    def up(a):
        return np.repeat(np.repeat(a, 2, 0), 2, 1)

    img = np.zeros((40, 40, 3), np.uint8)
    tiled_upscale(img, up, 2, tile=16, overlap=2)
    assert capsys.readouterr().err == ""  # library code is silent by itself
    with activity("restoring", unit="tile", enabled=True) as act:
        tiled_upscale(img, up, 2, tile=16, overlap=2)
        assert (act.bar.n, act.bar.total) == (9, 9)  # 3x3 tiles
    assert "restoring" in capsys.readouterr().err
    with activity("off", enabled=False):
        step()
    assert capsys.readouterr().err == ""


def test_encode_progress_reports_rate_search_tries(small_png, capsys):
    from sggic.pipeline import encode_detailed

    with activity("encode", unit="try", enabled=True) as act:
        encode_detailed(small_png, bpp=1.0, base="webp")
        assert act.bar.n >= 2 and "rate search (quality" in act.bar.desc
    assert "try" in capsys.readouterr().err


def test_cli_progress_off_when_stderr_is_not_a_terminal(small_png, tmp_path, capsys):
    assert main(["encode", str(small_png), "-o", str(tmp_path / "s.sgc"), "--base", "webp", "--bpp", "1"]) == 0
    assert "rate search" not in capsys.readouterr().err  # pytest's stderr is no terminal


# --- 4. budgets in bytes ---------------------------------------------------------------------

def test_bytes_budget_api_and_cli(small_png, tmp_path, capsys):
    data = sggic.encode(small_png, base="webp", target_bytes=300)
    assert 200 < len(data) <= 300
    out = tmp_path / "b.sgc"
    assert main(["encode", str(small_png), "-o", str(out), "--base", "webp", "--bytes", "300"]) == 0
    assert out.stat().st_size <= 300 and "target 300 bytes" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # --bpp and --bytes exclude each other
        main(["encode", str(small_png), "-o", str(out), "--bytes", "300", "--bpp", "0.1"])
    assert "not allowed with" in capsys.readouterr().err
    for bad in (0, -5, 2.5, True):
        with pytest.raises(InputError, match="--bytes"):
            sggic.encode(small_png, base="webp", target_bytes=bad)


def test_smallest_rate_message_can_be_copied_back(small_png):
    with pytest.raises(RateError) as e:
        sggic.encode(small_png, base="webp", bpp=0.01)
    m = re.search(r"\((\d+\.\d+) bpp, (\d+) bytes\)", str(e.value))
    assert m, str(e.value)
    smallest = int(m.group(2))
    data = sggic.encode(small_png, base="webp", bpp=float(m.group(1)))  # works as printed
    assert len(data) == smallest


@pytest.mark.parametrize("pixels", [1, 7, 3072, 512 * 512, 1000003, 4000 * 3000])
def test_bpp_at_least_rounds_up(pixels):
    for size in list(range(1, 400, 7)) + [9999, 123457]:
        text = bpp_at_least(size, pixels)
        if float(text) > 8:
            continue
        assert budget_bytes(float(text), pixels, 1) >= size
        assert float(text) < size * 8 / pixels + 1e-3


# --- 5. names -------------------------------------------------------------------------------

def test_encode_refuses_an_image_name_unless_forced(small_png, tmp_path, capsys):
    out = tmp_path / "a.png"
    assert main(["encode", str(small_png), "-o", str(out), "--base", "webp", "--bpp", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and not out.exists()
    assert main(["encode", str(small_png), "-o", str(out), "--base", "webp", "--bpp", "1", "--force", "-q"]) == 0
    assert out.read_bytes()[:3] == b"SGC"


def test_sample_converts_to_another_format(tmp_path):
    pytest.importorskip("sklearn")
    png = tmp_path / "china.png"
    assert main(["sample", "china", "-o", str(png)]) == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (640, 427)
    jpg = tmp_path / "china.jpg"
    assert main(["sample", "china", "-o", str(jpg)]) == 0
    from sggic.samples import sample_path

    assert jpg.read_bytes() == sample_path("china").read_bytes()  # same format: the file itself
    assert main(["sample", "china", "-o", str(tmp_path / "c.xyz")]) == 2


# --- 6. polish ------------------------------------------------------------------------------

def test_mistyped_flag_gets_a_suggestion(small_png, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["encode", str(small_png), "-o", str(tmp_path / "x.sgc"), "--bbp", "0.05"])
    assert e.value.code == 2
    assert "did you mean --bpp" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["decode", "x.sgc", "-o", "x.png", "--restorr", "bicubic"])
    assert "did you mean --restorer" in capsys.readouterr().err


def _all_parsers(p):
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _all_parsers(sub)


def test_every_option_has_help():
    missing = [(p.prog, a.dest) for p in _all_parsers(_parser()) for a in p._actions
               if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert missing == []


def test_restorer_help_lists_the_registry(capsys):
    from sggic.restore.registry import RESTORER_NAMES

    for cmd in ("encode", "decode"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for name in RESTORER_NAMES:
            assert name in text.split("--restorer", 1)[1]


def test_dir_shows_the_public_api():
    names = dir(sggic)
    for n in ("encode", "decode", "info", "describe", "encode_many", "decode_many", "Semantics", "SggicError"):
        assert n in names
    assert "TYPE_CHECKING" not in names and "annotations" not in names
    assert callable(sggic.encode_many) and callable(sggic.decode_many)


def test_encode_keyword_arguments_are_documented():
    from sggic.pipeline import encode_detailed

    doc = sggic.encode.__doc__
    for name in inspect.signature(encode_detailed).parameters:
        if name != "image":
            assert f"``{name}``" in doc, name
