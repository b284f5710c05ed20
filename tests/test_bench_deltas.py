"""scripts/bench_deltas.py: issue 10's differences of the means from a bench results.csv."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_deltas.py"
FIELDS = ("image", "codec", "target_bpp", "status", "metric", "value")


def _run(tmp: Path, rows: list[tuple], *args: str) -> subprocess.CompletedProcess:
    tmp.mkdir(exist_ok=True)
    with (tmp / "results.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(rows)
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp), *args], capture_output=True, text=True, timeout=60)


def _photo(name: str, psnr: float, s2: float, brisque: float) -> list[tuple]:
    base = [(name, "vvc-half+bicubic", "0.05", "ok", m, v) for m, v in (("psnr", 30), ("ssimulacra2", 4), ("brisque", 60))]
    ours = [(name, "sggic", "0.05", "ok", m, v) for m, v in (("psnr", psnr), ("ssimulacra2", s2), ("brisque", brisque))]
    return base + ours


def test_means_bar_and_leave_out(tmp_path: Path) -> None:
    rows = _photo("a", 30.1, 8, 30) + _photo("b", 29.9, 8, 56)  # deltas: +0.1/-0.1, +4/+4, -30/-4
    r = _run(tmp_path / "run", rows, "--leave-out", "a")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "| sggic | all | +0.00 / +4.0 / -17.0 |" in lines
    assert "| sggic | without a | -0.10 / +4.0 / -4.0 (misses) |" in lines  # one photo carried the mean
    r = _run(tmp_path / "run", rows, "--baseline", "sggic", "--codecs", "vvc-half+bicubic")
    assert r.returncode == 0 and "bar" not in r.stdout and "misses" not in r.stdout  # the bar is the baseline's
    assert "| vvc-half+bicubic | all | +0.00 / -4.0 / +17.0 |" in r.stdout.splitlines()


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    r = _run(tmp_path / "run", _photo("a", 30, 4, 60), "--leave-out", "zzz")
    assert r.returncode != 0 and r.stderr.strip() == f"bench_deltas: no such photo in {tmp_path / 'run'}: zzz"
    rows = _photo("a", 30, 4, 60)[:-1]  # sggic's BRISQUE row missing
    r = _run(tmp_path / "run2", rows)
    assert r.returncode != 0 and "lacks ['a']" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "no results.csv" in r.stderr
