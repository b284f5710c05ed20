"""sggic bench: the harness end to end on two tiny photos, the cache, BD-rate, rate search."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from sggic.bench import bench
from sggic.bench.codecs import SggicCodec, get_bench_codec, search
from sggic.bench.bdrate import bd_rate
from sggic.bench.data import BenchImage
from sggic.photos import preprocess

SIZE, BPP = 96, 0.8  # 921-byte budget (JPEG headers alone take ~600): every codec below reaches it at this size
CODECS = ["jpeg", "vvc", "vvc-half+bicubic", "sggic:bicubic"]
METRICS = ["psnr", "brisque"]


@pytest.fixture(scope="module")
def photo_dir(photo_folder):
    return photo_folder("astronaut", "chelsea")


@pytest.fixture(scope="module")
def first_run(photo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    info = bench(out, bpps=[BPP], codecs=CODECS, images=photo_dir, size=SIZE, metrics=METRICS, progress=False)
    return out, info


def test_csv_has_a_row_per_image_codec_rate_metric(first_run):
    out, info = first_run
    r = info["result"]
    assert not r.errors and r.encoded == 2 * len(CODECS) and r.cached == 0
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(CODECS) * len(METRICS) == info["csv_rows"]
    keys = {(x["image"], x["codec"], x["target_bpp"], x["metric"]) for x in rows}
    assert len(keys) == len(rows)
    budget = math.floor(BPP * SIZE * SIZE / 8)
    for x in rows:
        assert x["status"] == "ok" and int(x["bytes"]) <= budget and x["above_target"] == "False"
        assert 0.0 <= float(x["normalised"]) <= 1.0
        assert math.isclose(float(x["bpp"]), int(x["bytes"]) * 8 / SIZE**2, rel_tol=1e-5)
    # sggic counts its whole .sgc file: the cached coded file is exactly the bytes counted
    sg = next(x for x in rows if x["codec"] == "sggic:bicubic")
    assert (out / "cache" / f"{sg['image']}__sggic_bicubic__{BPP:g}.bin").stat().st_size == int(sg["bytes"])


def test_plots_and_report(first_run):
    out, info = first_run
    assert len(info["plots"]) >= 3
    for p in info["plots"]:
        assert (out / p).stat().st_size > 5000
    report = (out / "report.md").read_text()
    for needle in ("lpips", "dists", "clipiqa", "Not computed", "BD-rate against VVC", "BD-rate against the plain base codec", "Timing", "sggic:bicubic",
                   "identical to sggic by"):
        assert needle in report
    assert "registry default" in report
    assert "runs.json" in report and (out / "runs.json").is_file()  # how long computing took
    assert "psnr" in info["table"] and "vvc-half+bicubic" in info["table"]


def test_resume_uses_the_cache_and_encodes_nothing(first_run, photo_dir, monkeypatch):
    import sggic.bench.run as run

    out, _ = first_run

    def boom(*a, **k):
        raise AssertionError("a cached point was recomputed")

    monkeypatch.setattr(run, "_one_point", boom)
    info = bench(out, bpps=[BPP], codecs=CODECS, images=photo_dir, size=SIZE, metrics=METRICS, progress=False)
    r = info["result"]
    assert r.encoded == 0 and r.cached == 2 * len(CODECS) and not r.errors


def test_a_changed_library_version_invalidates_the_cache(first_run, photo_dir, monkeypatch):
    import sggic.bench.run as run
    from sggic.bench.versions import library_versions

    out, _ = first_run
    libs = library_versions()
    assert {"sggic", "sggic-files", "pillow", "pillow-heif", "imageio-ffmpeg", "ffmpeg", "torch", "numpy"} <= set(libs)
    assert libs["pillow"] != "absent" and libs["numpy"] != "absent"
    rec = json.loads((out / "cache" / f"astronaut__jpeg__{BPP:g}.json").read_text())
    assert rec["libs"] == libs  # each point records what it was computed with
    changed = {**libs, "pillow": libs["pillow"] + ".post1"}
    monkeypatch.setattr(run, "library_versions", lambda: changed)
    info = bench(out, bpps=[BPP], codecs=["jpeg"], images=photo_dir, size=SIZE, metrics=["psnr"], progress=False)
    assert info["result"].encoded == 2 and info["result"].cached == 0
    monkeypatch.setattr(run, "library_versions", lambda: libs)  # back: the recomputed points now carry `changed`
    info = bench(out, bpps=[BPP], codecs=["jpeg"], images=photo_dir, size=SIZE, metrics=["psnr"], progress=False)
    assert info["result"].encoded == 2


def test_the_source_digest_follows_sggic_files(tmp_path):
    from sggic.bench.versions import source_digest

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("ignored")
    d1 = source_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("still ignored")
    assert source_digest(tmp_path) == d1
    (tmp_path / "a.py").write_text("x = 2\n")
    assert source_digest(tmp_path) != d1


def test_a_new_image_size_invalidates_the_cache(first_run, photo_dir):
    out, _ = first_run
    info = bench(out, bpps=[BPP], codecs=["jpeg"], images=photo_dir, size=SIZE + 8, metrics=["psnr"], progress=False)
    assert info["result"].encoded == 2


def test_bd_rate_known_answers():
    ref = [(r, math.log(r)) for r in (0.02, 0.03, 0.05, 0.08)]
    test = [(0.8 * r, q) for r, q in ref]  # same score at 80 % of the rate
    v, mono = bd_rate(ref, test)
    assert v == pytest.approx(-20.0, abs=1e-6) and mono
    v2, _ = bd_rate(ref[:2], [(1.5 * r, q) for r, q in ref[:2]])  # two points: linear
    assert v2 == pytest.approx(50.0, abs=1e-6)
    assert math.isnan(bd_rate(ref, [(r, q + 10) for r, q in ref])[0])  # no common score interval
    assert math.isnan(bd_rate(ref, [(0.1, 1.0)])[0])  # one point only
    assert math.isnan(bd_rate(ref, [])[0])


def test_bd_rate_is_piecewise_cubic_integrated_exactly():
    """A hand-computed PCHIP case, where a piecewise-linear or one-cubic fit would differ.

    ref: log-rate 0, 1, 1.5 at scores 0, 1, 2. PCHIP slopes: 1.25 and 0.25 at the ends
    (three-point formula), 2/3 inside (harmonic mean of 1 and 0.5). A cubic Hermite piece
    of width 1 integrates to (y0 + y1) / 2 + (m0 - m1) / 12, so the ref's mean log-rate
    over [0, 2] is (0.5 + 7/144 + 1.25 + 5/144) / 2 = 11/12. test: log-rate 0 -> 1.5,
    linear, mean 3/4. BD-rate = exp(3/4 - 11/12) - 1 = exp(-1/6) - 1 = -15.35 %
    (linear interpolation of ref would give exp(-1/8) - 1 = -11.75 %).
    """
    ref = [(math.exp(lr), q) for q, lr in ((0, 0.0), (1, 1.0), (2, 1.5))]
    test = [(math.exp(lr), q) for q, lr in ((0, 0.0), (2, 1.5))]
    v, mono = bd_rate(ref, test)
    assert v == pytest.approx((math.exp(-1 / 6) - 1) * 100, abs=1e-9) and mono
    v_back, _ = bd_rate(test, ref)
    assert v_back == pytest.approx((math.exp(1 / 6) - 1) * 100, abs=1e-9)


def test_bd_rate_linear_log_rate_is_exact_whatever_the_sampling():
    """log(rate) = a + b * score on both curves: BD-rate = exp(a_test - a_ref) - 1, sampled anywhere."""
    ref = [(math.exp(-4.0 + 0.1 * q), q) for q in (20, 27, 31, 40, 44)]
    test = [(math.exp(-4.3 + 0.1 * q), q) for q in (22, 25, 35, 43)]
    v, mono = bd_rate(ref, test)
    assert v == pytest.approx((math.exp(-0.3) - 1) * 100, abs=1e-9) and mono
    # a curve whose score falls with rate is flagged as not monotone
    _, mono2 = bd_rate(ref, [(0.1, 30.0), (0.2, 25.0), (0.3, 35.0)])
    assert not mono2


def test_search_takes_the_largest_file_within_budget_or_marks_above_target():
    sizes = {q: 100 + 10 * q for q in range(20)}
    enc = lambda q: b"x" * sizes[q]  # noqa: E731
    q, data, above, _ = search(enc, range(20), 175)
    assert (q, len(data), above) == (7, 170, False)
    q, data, above, _ = search(enc, range(20), 50)
    assert (q, len(data), above) == (0, 100, True)
    q, _, above, _ = search(enc, range(20), 10**6)
    assert (q, above) == (19, False)


def test_ablations_are_identical_by_construction_offline(photo_dir):
    from PIL import Image

    rgb = preprocess(np.asarray(Image.open(photo_dir / "astronaut.png").convert("RGB")), SIZE)
    img = BenchImage("a", rgb, "test")
    budget = math.floor(BPP * SIZE * SIZE / 8)
    outs = []
    for codec in (SggicCodec("s", "bicubic"), SggicCodec("f", "bicubic", fixed=True),
                  SggicCodec("n", "bicubic", no_segmentation=True)):
        coded = codec.encode(img, BPP, budget)
        outs.append((len(coded.data), codec.decode(coded, SIZE, SIZE)))
    assert outs[0][0] == outs[1][0] == outs[2][0]
    assert np.array_equal(outs[0][1], outs[1][1]) and np.array_equal(outs[0][1], outs[2][1])


def test_every_baseline_decodes_what_it_encodes(photo_dir):
    from PIL import Image

    rgb = preprocess(np.asarray(Image.open(photo_dir / "chelsea.png").convert("RGB")), 64)
    img = BenchImage("c", rgb, "test")
    for name in ("jpeg", "webp", "avif", "heic", "jxl", "j2k", "vvc", "avif-half+bicubic"):
        codec = get_bench_codec(name)
        codec.check()
        coded = codec.encode(img, 1.0, 512)
        out = codec.decode(coded, 64, 64)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.mean(np.abs(out.astype(int) - rgb.astype(int))) < 40, name


def test_unknown_codec_and_bad_arguments(photo_dir, tmp_path):
    from sggic.cli import main
    from sggic.errors import InputError

    with pytest.raises(InputError, match="unknown bench codec"):
        get_bench_codec("bpg")
    assert main(["bench", "--images", str(photo_dir), "--codecs", "bpg", "-o", str(tmp_path)]) != 0
    assert main(["bench", "--images", str(photo_dir), "--bpp", "x", "-o", str(tmp_path)]) != 0
    assert main(["bench", "--images", str(tmp_path / "nope"), "-o", str(tmp_path)]) != 0


def test_cli_bench(photo_dir, tmp_path, capsys):
    from sggic.cli import main

    rc = main(["bench", "--images", str(photo_dir), "--bpp", "0.5", "--codecs", "jpeg,j2k", "--size", "64",
               "--metrics", "psnr", "--no-progress", "-o", str(tmp_path / "o")])
    assert rc == 0
    assert "report.md" in capsys.readouterr().out
    assert (tmp_path / "o" / "report.md").is_file() and (tmp_path / "o" / "results.csv").is_file()


def test_unavailable_codec_is_listed_and_report_only_computes_nothing(first_run, photo_dir, monkeypatch):
    import sggic.bench.codecs as bc
    from sggic.errors import MissingWeights

    out, _ = first_run

    def missing(self):
        raise MissingWeights("weights for this test restorer are not here")

    monkeypatch.setattr(bc.SggicCodec, "check", missing)
    info = bench(out, bpps=[BPP, 0.9], codecs=CODECS, images=photo_dir, size=SIZE, metrics=METRICS,
                 progress=False, compute=False)
    r = info["result"]
    assert "sggic:bicubic" in r.unavailable_codecs and r.encoded == 0
    assert r.cached + r.missing == 2 * 2 * (len(CODECS) - 1) and r.missing >= 2 * (len(CODECS) - 1)  # 0.9: new
    report = (out / "report.md").read_text()
    assert "weights for this test restorer are not here" in report and "not computed yet" in report
