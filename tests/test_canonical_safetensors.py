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
