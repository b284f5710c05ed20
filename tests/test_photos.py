"""The photo list ships in the repo; one owner reads it and preprocesses; missing photos name apt packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sggic import photos
from sggic.errors import InputError
from sggic.photos import COLUMNS, Photo, apt_hint, preprocess, read_photos, require_installed, resize_crop

ROOT = Path(__file__).resolve().parents[1]


def _write_tsv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.write_text("\t".join(COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in rows))
    return path


def test_the_shipped_list_is_found_from_the_checkout_and_complete():
    tsv = photos.default_photos_tsv()
    assert tsv == ROOT / "data" / "photos.tsv" == photos.CHECKOUT_LIST and tsv.is_file()
    allp = read_photos()
    train, dev = read_photos(split="train"), read_photos(split="dev")
    assert (len(train), len(dev)) == (22, 8) and len(allp) == 30
    assert len({p.id for p in allp}) == 30  # ids are unique
    assert all(p.debian_package and p.license and p.path.startswith("/usr/share/") for p in allp)
    assert [p.id for p in dev][:3] == ["BytheWater", "Path", "Picture_1A"]  # file order is kept
    # every dev photo has its semantics shipped beside the list
    assert all((ROOT / "data" / "semantics" / f"{p.id}.json").is_file() for p in dev)


def test_an_installed_sggic_finds_the_list_it_ships(tmp_path, monkeypatch):
    import site
    import sysconfig
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert conf["tool"]["setuptools"]["data-files"]["share/sggic"] == ["data/photos.tsv"]
    monkeypatch.setattr(photos, "CHECKOUT_LIST", tmp_path / "no-checkout" / "photos.tsv")
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"data": str(tmp_path)})
    monkeypatch.setattr(site, "getuserbase", lambda: str(tmp_path / "user"))
    assert photos.default_photos_tsv() == photos.CHECKOUT_LIST  # nowhere: the error names the checkout path
    installed = tmp_path / "share" / "sggic" / "photos.tsv"
    installed.parent.mkdir(parents=True)
    installed.write_bytes((ROOT / "data" / "photos.tsv").read_bytes())
    assert photos.default_photos_tsv() == installed and len(read_photos(split="dev")) == 8


def test_setup_installs_exactly_the_packages_of_the_list():
    setup = (ROOT / "setup.sh").read_text()
    assert "data/photos.tsv" in setup  # the package names come from the list, not a second copy
    pkgs = {p.debian_package for p in read_photos()}
    assert apt_hint(read_photos()) == "sudo apt-get install " + " ".join(sorted(pkgs))


def test_bad_lists_are_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match="no photo list"):
        read_photos(tmp_path / "absent.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tpath\nx\t/y.png\n")
    with pytest.raises(InputError, match="missing column"):
        read_photos(bad)
    with pytest.raises(InputError, match="unknown photo split"):
        read_photos(split="test")


def test_missing_photos_name_the_apt_packages(tmp_path):
    tsv = _write_tsv(tmp_path / "p.tsv", [
        ("a", "dev", "pkg-b", str(tmp_path / "absent-a.jpg"), "MIT"),
        ("b", "dev", "pkg-a", str(tmp_path / "absent-b.jpg"), "MIT"),
        ("c", "dev", "pkg-b", str(tmp_path / "absent-c.jpg"), "MIT"),
    ])
    ps = read_photos(tsv, split="dev")
    with pytest.raises(InputError) as e:
        require_installed(ps)
    msg = str(e.value)
    assert "\n" not in msg and "3 of 3 photos" in msg and "`sudo apt-get install pkg-a pkg-b`" in msg
    with pytest.raises(InputError, match="apt-get install pkg-b"):
        photos.load_photo(ps[0])


def test_bench_dataset_with_missing_photos_fails_in_one_line(tmp_path, capsys):
    from sggic.cli import main

    tsv = _write_tsv(tmp_path / "p.tsv", [("a", "dev", "some-wallpapers", str(tmp_path / "nope.jpg"), "MIT")])
    rc = main(["bench", "--dataset", "dev", "--photos", str(tsv), "-o", str(tmp_path / "out"), "--codecs", "jpeg"])
    err = capsys.readouterr().err
    assert rc == 2 and "sudo apt-get install some-wallpapers" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "report.md").exists()


def test_bench_dataset_reads_a_given_list(tmp_path):
    from sggic.bench.data import dataset_images

    rng = np.random.default_rng(0)
    img = tmp_path / "x.png"
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(img)
    tsv = _write_tsv(tmp_path / "p.tsv", [("x", "dev", "pkg", str(img), "CC0"), ("y", "train", "pkg", "/no", "CC0")])
    got = dataset_images("dev", tsv=tsv, size=32)
    assert [g.id for g in got] == ["x"] and got[0].rgb.shape == (32, 32, 3)


def test_preprocess_is_lanczos_short_side_then_centre_crop():
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, (100, 161, 3), dtype=np.uint8)
    out = preprocess(wide, 64)
    # by hand: short side 100 -> 64, width round(161 * 0.64) = 103, centre offset (103 - 64) // 2 = 19
    big = np.asarray(Image.fromarray(wide).resize((103, 64), Image.Resampling.LANCZOS))
    assert np.array_equal(out, big[:, 19:83])
    tall = np.ascontiguousarray(wide.transpose(1, 0, 2))
    tall_big = np.asarray(Image.fromarray(tall).resize((64, 103), Image.Resampling.LANCZOS))
    assert np.array_equal(preprocess(tall, 64), tall_big[19:83, :])
    # an image already at the size is returned pixel for pixel; None keeps any image as it is
    sq = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.array_equal(preprocess(sq, 64), sq)
    assert preprocess(wide, None) is wide


def test_resize_crop_places_the_crop_and_refuses_a_short_side_below_the_crop():
    ramp = np.tile(np.arange(200, dtype=np.uint8)[None, :, None], (50, 1, 3))  # 50 x 200, no resize at short=50
    assert resize_crop(ramp, 50, 50, 0.0)[0, 0, 0] == 0
    assert resize_crop(ramp, 50, 50, 1.0)[0, -1, 0] == 199
    assert resize_crop(ramp, 50, 50, 0.5)[0, 0, 0] == 75  # (200 - 50) // 2
    with pytest.raises(ValueError):
        resize_crop(ramp, 40, 50)


def test_training_and_bench_share_the_owner():
    import sggic.bench.data as bench_data
    import sggic.training.data as training_data

    assert bench_data.preprocess is photos.preprocess
    assert training_data.resize_crop is photos.resize_crop and training_data.Photo is Photo


def test_no_machine_paths_in_tracked_files():
    """A clone anywhere else must work: no absolute path of this machine in any tracked file."""
    try:
        out = subprocess.run(["git", "grep", "-n", "-I", "-e", "/wo" + "rk/", "-e", "/tm" + "p/"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not available")
    if out.returncode not in (0, 1) or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert out.stdout == ""
