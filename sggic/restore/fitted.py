"""A compact 2x restorer fitted to the VVC base layer and conditioned on its qp.

Why this shape: Real-ESRGAN x4plus (16.7M parameters) is trained for blind 4x
degradations; on our 2x VVC bases it sharpens but loses fidelity and takes ~10 s per
512x512. Here a small residual CNN runs entirely at the base resolution and predicts, by
pixel shuffle, the difference between the original and the bicubic 2x upsample of the
decoded base. It knows the base codec's qp from the .sgc header: a tiny MLP turns the qp
into a per-block scale and shift (FiLM), so one set of weights covers the whole range
rate control picks (qp 28-63) instead of one model per quality band.

Trained on train photos only (``sggic/training``, ``scripts/train_restorer.py``) with
L1 + SSIM + a light patch-discriminator loss; see docs/restorer-fitted.md.

Other base codecs (AVIF, HEIC, WebP, JPEG) have artefacts this network never saw, and no
calibrated mapping of their quality to a VVC qp exists: for them the restorer returns
plain bicubic (the documented fallback), never a guess.

Determinism: inference runs in float32 with torch's intra-op thread count set to
``threads`` for the duration of the call (and restored afterwards); the convolutions
parallelise over output pixels/channels only, so the same input gives the same bytes in
any process (tested for 1 and 2 threads). Tiling: the network's receptive field is 15
base pixels (15 convolutions) plus 2 for bicubic, so tiles with 16 px of real context
give the same result as the whole image.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sggic.errors import BackendUnavailable, InputError, MissingWeights
from sggic.restore.base import CPUThreadsRestorer, RestoreContext
from sggic.restore.bicubic import bicubic_2x
from sggic.restore.tiling import as_rgb_u8, tiled_upscale

VVC_CODEC_ID = 1
WEIGHTS_FILE = "restorer-fitted.safetensors"
DEFAULT_TILE = 256  # base pixels: a 512x512 image's base is one tile (exact, fastest)
DEFAULT_OVERLAP = 16  # >= receptive radius (15 convs + 2 bicubic taps, see module doc)
QP_CENTRE, QP_SCALE = 45.0, 10.0  # qp -> (qp - 45) / 10 before the conditioning MLP

# Architecture defaults; the weights file records its own (metadata "config").
DEFAULT_CONFIG: dict[str, int] = {"channels": 48, "blocks": 6, "cond_hidden": 32}


def default_weights_path() -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / WEIGHTS_FILE


def build_net(channels: int = 48, blocks: int = 6, cond_hidden: int = 32) -> Any:
    """The network (a torch ``nn.Module``); torch is imported only here."""
    import torch
    import torch.nn.functional as F

    from sggic.restore._film import film_trunk

    class FittedNet(film_trunk(channels, blocks, cond_hidden, cond_in=1, slope=0.1)):
        """x: (N, 3, h, w) in [0, 1]; q: (N,) normalised qp -> (N, 3, 2h, 2w) in ~[0, 1]."""

        def __init__(self) -> None:
            super().__init__()
            self.residual_gain = 1.0  # decoder-side detail strength (weights metadata)

        def forward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            up = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
            return up + self.residual_gain * F.pixel_shuffle(self.residual(x, q), 2)

    return FittedNet()


def macs_per_base_pixel(channels: int = 48, blocks: int = 6, **_: int) -> int:
    """Multiply-accumulates per base-layer pixel (convolutions; bicubic and FiLM are <1%)."""
    c = channels
    return 9 * (3 * c + 2 * blocks * c * c + c * c + c * 12)


def normalise_qp(qp: float) -> float:
    return (float(qp) - QP_CENTRE) / QP_SCALE


def _check_weights_file(p: Path) -> None:
    if not p.is_file():
        raise MissingWeights(
            f"fitted restorer weights not found at {p}; rebuild them with "
            f"`python scripts/train_restorer.py` or decode with --restorer bicubic"
        )


def load_net(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Build the network from a safetensors file (config in its metadata); never unpickles."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    p = Path(path)
    _check_weights_file(p)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(p))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise MissingWeights(f"cannot read fitted restorer weights {p}: {exc}") from None
    config = dict(DEFAULT_CONFIG)
    config.update(json.loads(meta.get("config", "{}")))
    net = build_net(**config)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise MissingWeights(f"fitted restorer weights {p} do not match the network: {exc}") from None
    net.residual_gain = float(meta.get("residual_gain", "1.0"))
    net.eval()
    return net.to(memory_format=torch.channels_last), meta


class FittedRestorer(CPUThreadsRestorer):
    """qp-conditioned residual CNN on VVC bases; bicubic for other base codecs.

    ``threads``: torch intra-op threads used during ``restore`` (fixed for determinism).
    ``tile``/``overlap``: tiling in base pixels (exact for overlap >= 16).
    ``weights``: path to the safetensors file (default: the shipped one).
    """

    name = "fitted"

    def __init__(self, threads: int = 2, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                 weights: str | Path | None = None) -> None:
        if int(threads) < 1:
            raise InputError(f"the fitted restorer needs at least 1 thread, got {threads}")
        if int(tile) < 1 or int(overlap) < 0:
            raise InputError(f"bad tiling: tile {tile}, overlap {overlap}")
        self.threads, self.tile, self.overlap = int(threads), int(tile), int(overlap)
        self.weights = Path(weights) if weights is not None else default_weights_path()
        self._net: Any = None
        self._lock = threading.Lock()

    def check_available(self) -> None:
        """MissingWeights / BackendUnavailable now instead of at the first restore; cheap:
        neither imports torch (~0.5 GB resident) nor reads the weights, so a file that is
        refused later (a hostile payload) costs no model. A damaged weights file is still
        reported, as MissingWeights, when the network is first built."""
        import importlib.util

        _check_weights_file(Path(self.weights))
        if importlib.util.find_spec("torch") is None:
            raise BackendUnavailable("the fitted restorer needs torch: pip install 'torch>=2.13,<=2.14.1'")

    def _load(self) -> Any:
        with self._lock:
            if self._net is None:
                self._net, _ = load_net(self.weights)
            return self._net

    def upscale(self, rgb: np.ndarray, qp: float) -> np.ndarray:
        """The network on one (h, w, 3) uint8 array, untiled -> (2h, 2w, 3) uint8."""
        import torch

        net = self._load()
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout (~3x)
        q = torch.tensor([normalise_qp(qp)], dtype=torch.float32)
        with torch.inference_mode():
            y = net(x, q)[0]
        y = torch.clamp(torch.round(y * 255.0), 0, 255).to(torch.uint8)
        return y.permute(1, 2, 0).contiguous().numpy()

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        rgb = as_rgb_u8(base)
        if ctx.codec_id != VVC_CODEC_ID:
            return bicubic_2x(rgb)  # fallback: see module docstring
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            from sggic.codecs.vvc import qp_of_quality  # the header packs qp and chroma offset

            qp = qp_of_quality(ctx.quality)
            return tiled_upscale(rgb, lambda t: self.upscale(t, qp), 2,
                                 tile=self.tile, overlap=self.overlap)
        finally:
            torch.set_num_threads(old)
