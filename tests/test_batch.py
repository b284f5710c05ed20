"""Batch encode/decode: folders in, mirrored folders out, resumable, failures listed; Ray locally."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sggic
from sggic.batch import decode_many, encode_many, plan_jobs
from sggic.cli import main
from sggic.errors import InputError

FAST = ["--base", "webp", "--bpp", "1.0", "--restorer", "bicubic"]


def _photo(path: Path, seed: int, size=(40, 56)) -> Path:
    """A smooth picture (a few bytes of WebP reach it at 1 bpp)."""
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    rgb = np.stack([(x * 4 + seed * 30) % 256, (y * 5) % 256, ((x + y) * 2 + seed * 50) % 256], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    _photo(root / "a.png", 0)
    _photo(root / "trip" / "b.jpg", 1)
    _photo(root / "trip" / "deeper" / "c.png", 2)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"junk")  # hidden: ignored (like a .part temporary)
    single = _photo(tmp_path / "single.png", 3)
    return root, single


def test_plan_mirrors_folders_and_refuses_clashes(tmp_path, photos):
    root, single = photos
    jobs = plan_jobs([root, single], tmp_path / "out", "encode")
    got = sorted(str(j.dst.relative_to(tmp_path / "out")) for j in jobs)
    assert got == ["a.sgc", "single.sgc", "trip/b.sgc", "trip/deeper/c.sgc"]
    _photo(tmp_path / "x" / "a.jpg", 4)
    with pytest.raises(InputError, match="both be written"):
        plan_jobs([root, tmp_path / "x" / "a.jpg"], tmp_path / "out", "encode")
    with pytest.raises(InputError, match="no such file"):
        plan_jobs([tmp_path / "missing"], tmp_path / "out", "encode")


def test_encode_many_resumes_and_decode_many_mirrors(tmp_path, photos):
    root, single = photos
    out = tmp_path / "sgc"
    r = encode_many([root, single], out, bpp=1.0, base="webp", restorer="bicubic", jobs=1)
    assert len(r.done) == 4 and not r.failed and not r.skipped
    assert (out / "trip" / "deeper" / "c.sgc").is_file()
    for o in r.done:  # every file within its own budget, the mean is of the per-file rates
        assert o.out_bytes <= 1.0 * o.pixels / 8
    assert r.mean_bpp == pytest.approx(np.mean([o.out_bytes * 8 / o.pixels for o in r.done]))
    assert "encoded 4 files" in r.summary()[0] and "mean" in r.summary()[0]

    # resumable: a finished output is skipped, a deleted one is redone
    (out / "a.sgc").unlink()
    before = (out / "single.sgc").stat().st_mtime_ns
    r2 = encode_many([root, single], out, bpp=1.0, base="webp", restorer="bicubic", jobs=1)
    assert [o.job.src.name for o in r2.done] == ["a.png"] and len(r2.skipped) == 3
    assert (out / "single.sgc").stat().st_mtime_ns == before

    d = decode_many([out], tmp_path / "dec", jobs=2)  # a real process pool of 2 workers
    assert len(d.done) == 4 and not d.failed
    img = Image.open(tmp_path / "dec" / "trip" / "deeper" / "c.png")
    assert img.size == (56, 40)
    # the pool's workers decode exactly what the in-process decoder does
    assert np.array_equal(np.asarray(img), np.asarray(sggic.decode(out / "trip" / "deeper" / "c.sgc")))


def test_cli_several_inputs_and_failures(tmp_path, photos, capsys):
    root, single = photos
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    out = tmp_path / "o"
    code = main(["encode", str(single), str(broken), str(root), "-o", f"{out}/", *FAST, "-j", "1"])
    cap = capsys.readouterr()
    assert code != 0
    assert "encoded 4 files" in cap.out and "1 failed" in cap.out
    fail_lines = [ln for ln in cap.err.splitlines() if "broken.png" in ln]
    assert len(fail_lines) == 1 and "failed" in fail_lines[0]
    assert not (out / "broken.sgc").exists() and (out / "single.sgc").is_file()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]

    assert main(["decode", str(out), "-o", str(tmp_path / "d"), "--format", "jpg", "-q"]) == 0
    assert (tmp_path / "d" / "trip" / "b.jpg").is_file()
    assert capsys.readouterr().out == ""


def test_cli_single_file_unchanged(tmp_path, photos, capsys):
    _, single = photos
    out = tmp_path / "one.sgc"
    assert main(["encode", str(single), "-o", str(out), *FAST]) == 0
    assert out.is_file() and "bpp" in capsys.readouterr().out
    assert main(["decode", str(out), "-o", str(tmp_path / "one.png")]) == 0
    line = capsys.readouterr().out.strip()  # decode now prints a one-line summary, as encode does
    assert line.startswith(str(tmp_path / "one.png")) and "56x40" in line and "bpp" in line


def test_bad_output_folder_is_one_line(tmp_path, photos, capsys):
    root, _ = photos
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["encode", str(root), "-o", str(f), *FAST]) == 2
    assert "must be a folder" in capsys.readouterr().err


_RAY_SCRIPT = textwrap.dedent("""
    import sys, ray, sggic
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    r = sggic.encode_many([sys.argv[1]], sys.argv[2], bpp=1.0, base="webp", restorer="bicubic", ray="local")
    d = sggic.decode_many([sys.argv[2]], sys.argv[3], ray="local")
    print(len(r.done), len(r.failed), len(d.done), len(d.failed), r.workers)
    ray.shutdown()
""")


def test_ray_local_cluster(tmp_path, photos):
    pytest.importorskip("ray")
    root, _ = photos
    env = dict(os.environ, PYTHONPATH=str(Path(sggic.__file__).parents[1]), RAY_USAGE_STATS_ENABLED="0")
    script = tmp_path / "ray_run.py"
    script.write_text(_RAY_SCRIPT)
    try:  # its own process: Ray's workers and threads never outlive the test
        p = subprocess.run([sys.executable, str(script), str(root), str(tmp_path / "rs"), str(tmp_path / "rd")],
                           capture_output=True, text=True, timeout=180, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("local Ray run took more than 180 s")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[:4] == ["3", "0", "3", "0"] and "Ray" in p.stdout
    assert (tmp_path / "rd" / "trip" / "deeper" / "c.png").is_file()
    local = sggic.decode(tmp_path / "rs" / "a.sgc")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "rd" / "a.png")), np.asarray(local))


def test_ray_missing_is_one_line(tmp_path, photos, monkeypatch):
    root, _ = photos
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(sggic.SggicError, match="pip install 'sggic\\[cluster\\]'"):
        encode_many([root], tmp_path / "o", bpp=1.0, base="webp", ray="auto")
