"""sggic.training.canonical: same content, same bytes; a file safetensors reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sggic.training.canonical import canonical_bytes, save_canonical


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"b.weight": rng.standard_normal((3, 5)).astype(np.float32), "a.bias": np.arange(7, dtype=np.int64),
            "c": np.array(2.5, dtype=np.float16), "mask": np.array([True, False, True])}


def test_order_of_keys_does_not_change_the_bytes(tmp_path: Path) -> None:
    t = _tensors()
    meta = {"default_strength": "0.4375", "config": '{"channels": 48}', "device": "cpu"}
    save_canonical(t, tmp_path / "x.safetensors", meta)
    save_canonical(dict(reversed(list(t.items()))), tmp_path / "y.safetensors", dict(reversed(list(meta.items()))))
    a, b = (tmp_path / "x.safetensors").read_bytes(), (tmp_path / "y.safetensors").read_bytes()
    assert a == b == canonical_bytes(t, meta)
    n = int.from_bytes(a[:8], "little")
    assert n % 8 == 0 and a[8:8 + n].startswith(b'{"__metadata__":{"config"')
    assert not list(tmp_path.glob("*.part"))
    assert canonical_bytes(t, {**meta, "device": "cuda"}) != a  # the content does change them


def test_safetensors_reads_it_back(tmp_path: Path) -> None:
    from safetensors import safe_open

    t, meta = _tensors(), {"k": "v", "ü": "ß"}
    save_canonical(t, tmp_path / "x.safetensors", meta)
    with safe_open(str(tmp_path / "x.safetensors"), framework="np") as f:
        assert f.metadata() == meta and sorted(f.keys()) == sorted(t)
        for k, v in t.items():
            got = f.get_tensor(k)
            assert got.dtype == v.dtype and got.shape == v.shape and np.array_equal(got, v)
    save_canonical(t, tmp_path / "y.safetensors")  # no metadata at all
    with safe_open(str(tmp_path / "y.safetensors"), framework="np") as f:
        assert not f.metadata() and len(list(f.keys())) == 4


def test_refuses_what_safetensors_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="str to str"):
        canonical_bytes({"a": np.zeros(2, np.float32)}, {"n": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="complex64"):
        save_canonical({"a": np.zeros(2, np.complex64)}, tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())  # nothing written


def test_export_writes_the_same_bytes_for_the_same_content(tmp_path: Path) -> None:
    """export_calibrated (the training scripts' last step) through the shipped decode path:
    metadata given in another order gives the same file, which the restorer loads."""
    import sggic
    from safetensors.numpy import load_file

    from sggic.restore.generative import GenerativeRestorer
    from sggic.training.distill import export_calibrated

    state = load_file(str(Path(sggic.__file__).parent / "weights/restorer-generative-4.safetensors"))
    rng = np.random.default_rng(0)
    orig = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    base = orig.reshape(48, 2, 48, 2, 3).mean(axis=(1, 3)).astype(np.uint8)
    val = {"v": {"orig": orig, "bases": base[None], "qps": np.array([48])}}
    meta = {"config": {"channels": 48, "blocks": 6, "cond_hidden": 32}, "device": "cpu", "steps": 3}
    outs = []
    for i, m in enumerate((meta, dict(reversed(list(meta.items()))))):
        out = tmp_path / f"e{i}.safetensors"
        s = export_calibrated(state, dict(m), val, out, qps=(48,), strengths=(0.0, 0.5), max_psnr_loss=0.4,
                              max_ssimulacra2_loss=1.5, log=lambda _: None)
        outs.append(out.read_bytes())
        assert s in (0.0, 0.5) and GenerativeRestorer(weights=out).default_strength == s
    assert outs[0] == outs[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e0.safetensors", "e1.safetensors"]  # no candidate left
