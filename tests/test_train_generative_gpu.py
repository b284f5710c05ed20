"""The GPU distillation script's steps on a CPU: a bundle read back, the teacher through a
tiny ncnn graph of the supported layers, and a two-step training run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_generative_gpu.py"


def _tiny_x4(folder: Path) -> None:
    """A 4x 'teacher': nearest 2x twice, then a 3x3 convolution (identity kernel + bias), fp16-tagged weights."""
    folder.mkdir(parents=True)
    (folder / "realesrgan-x4plus.param").write_text(
        "7767517\n4 4\nInput in 0 1 data\n"
        "Interp up1 1 1 data a 0=1 1=2.000000e+00 2=2.000000e+00\n"
        "Interp up2 1 1 a b 0=1 1=2.000000e+00 2=2.000000e+00\n"
        "Convolution conv 1 1 b output 0=3 1=3 4=1 5=1 6=81\n")
    w = np.zeros((3, 3, 3, 3), np.float16)
    for c in range(3):
        w[c, c, 1, 1] = 1.0
    (folder / "realesrgan-x4plus.bin").write_bytes(
        (0x01306B47).to_bytes(4, "little") + w.tobytes() + b"\0\0"  # fp16 data padded to 4 bytes
        + np.full(3, 0.1, np.float32).tobytes())


def _bundle(folder: Path) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from train_generative_gpu import _webp

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    views = []
    for vid in ("a", "a@s1024"):
        (folder / f"{vid}.orig.webp").write_bytes(_webp(rng.integers(0, 256, (192, 192, 3), dtype=np.uint8)))
        for q in (40, 52):
            (folder / f"{vid}.q{q}.webp").write_bytes(_webp(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)))
        views.append({"id": vid, "qps": [40, 52]})
    (folder / "manifest.json").write_text(json.dumps({"fit_photos": ["a"], "holdout_photos": [], "views": views}))


def test_teacher_and_train_steps_run_on_a_cpu(tmp_path: Path) -> None:
    _tiny_x4(tmp_path / "esrgan")
    _bundle(tmp_path / "bundle")
    run = lambda *a: subprocess.run([sys.executable, str(SCRIPT), *a], cwd=tmp_path, capture_output=True,  # noqa: E731
                                    text=True, timeout=300)
    r = run("teacher", "--bundle", "bundle", "--esrgan", "esrgan", "--out", "t.npz", "--device", "cpu", "--max-qp", "45")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "t.npz") as z:
        assert sorted(z.files) == ["a@s1024|40", "a|40"]  # qp 52 is above --max-qp
        t = z["a|40"]
    assert t.shape == (192, 192, 3) and t.dtype == np.uint8
    r = run("train", "--bundle", "bundle", "--teacher", "t.npz", "--out", "run", "--device", "cpu", "--steps", "2",
            "--batch", "2", "--crop", "16", "--adv-weight", "0.01", "--ckpt-every", "2")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "run" / "result.json").read_text())
    assert Path(res["last"]).name == "ckpt-000002.safetensors" and res["args"]["adv_weight"] == 0.01
    # the reproducibility check as docs/restorer-generative.md runs it: a partial teacher rerun
    # and a second training run, compared array by array
    r = run("teacher", "--bundle", "bundle", "--esrgan", "esrgan", "--out", "t1.npz", "--device", "cpu", "--max-qp", "45",
            "--views", "a")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "t1.npz") as z:
        assert z.files == ["a|40"]
    r = run("compare", "t1.npz", "t.npz", "--subset")
    assert r.returncode == 0 and "1 tensors bit-identical, 0 differ" in r.stdout, r.stdout
    r = run("compare", "t1.npz", "t.npz")
    assert r.returncode == 1 and "a@s1024|40: only in t.npz" in r.stdout, r.stdout
    r = run("teacher", "--bundle", "bundle", "--out", "x.npz", "--device", "cpu", "--views", "nope")
    assert r.returncode != 0 and "no such view in the bundle: nope" in r.stderr
    r = run("train", "--bundle", "bundle", "--teacher", "t.npz", "--out", "run2", "--device", "cpu", "--steps", "2",
            "--batch", "2", "--crop", "16", "--adv-weight", "0.01", "--ckpt-every", "2")
    assert r.returncode == 0, r.stderr
    r = run("compare", "run/ckpt-000002.safetensors", "run2/ckpt-000002.safetensors")
    assert r.returncode == 0 and ", 0 differ" in r.stdout, r.stdout


def test_holdout_prints_the_recorded_table(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    rows = [{"strength": s, "psnr": 28.0 - s, "ssimulacra2": -20.0 - 4 * s, "brisque": 60.0 - 20 * s,
             "bic_psnr": 28.0, "bic_ssimulacra2": -20.0, "bic_brisque": 60.0} for s in (0.0, 0.5)]
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "e.safetensors"),
              metadata={"strength_calibration": json.dumps(rows), "default_strength": "0.5"})
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "ckpt.safetensors"))
    run = lambda *a: subprocess.run([sys.executable, str(SCRIPT), "holdout", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    r = run("e.safetensors")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1:] == ["  s = 0      +0.00 / +0.00 / +0.0", "  s = 0.5    -0.50 / -2.00 / -10.0"]
    assert "default strength 0.5" in r.stdout
    r = run("ckpt.safetensors")
    assert r.returncode == 1 and "no strength_calibration" in r.stderr and "Traceback" not in r.stderr
