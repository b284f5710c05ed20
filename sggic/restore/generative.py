"""The generative restorer: a compact CNN with a perception/fidelity strength knob.

One network, conditioned on the VVC qp (from the .sgc header) and on a *strength*
``s`` in [0, 1], restores the 2x-downsampled VVC base layer: ``s = 0`` is the faithful
end (trained towards the original, mean-squared error), ``s = 1`` the generative end
(trained towards what Real-ESRGAN x4plus paints on the same base: sharp edges and
texture); in between it was trained on the per-pixel blend of the two targets, so the
knob moves along the measured perception/fidelity frontier (docs/restorer-generative.md).
It is distilled on our own VVC bases of the ``train`` photos (``sggic/training/distill.py``).

Shape: that of ``fitted`` (3x3 conv head, six residual blocks of 48 channels whose first
conv is modulated by FiLM, fusing conv with a long skip, conv to 12 channels, pixel
shuffle; training starts from the shipped fitted weights), a 2-input conditioning MLP, and a
fixed 5x5 convolution that computes torch's bicubic 2x upsample (a = -0.75, half-pixel
centres, replicate borders) as four polyphase channels per colour, added before the
pixel shuffle: the untrained network is exact bicubic and the network predicts only the
detail bicubic misses.

Decoding does not import torch. FiLM depends only on (qp, s), which are fixed for a
file, so at decode time the conditioning MLP runs in numpy and its per-channel scale and
shift are folded into the modulated convolutions' weights and biases; what remains is
a plain chain of convolutions, leaky ReLUs and additions, written as an ncnn graph
(``sggic/restore/_ncnn_graph.py``, .param text and .bin weights built in memory, never
on disk) and run by the ncnn CPU runtime (already a dependency). torch builds the same
network for training and for the port test (``build_net``); the two agree within one
grey level (float summation order; measured and tested).

Determinism: ncnn on CPU gives the same bytes for the same input, thread count and
tiling in any process (tested across processes). Tiling: receptive radius 15 base pixels
(15 3x3 convolutions; the bicubic branch needs 2), so tiles with 16 px of context
reproduce the whole-image result up to float rounding.

Other base codecs (AVIF, HEIC, WebP, JPEG) were never seen in training and have no
calibrated qp: for them the restorer returns plain bicubic, as ``fitted`` does.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sggic.errors import InputError, MissingWeights
from sggic.restore.base import CPUThreadsRestorer, RestoreContext
from sggic.restore.bicubic import bicubic_2x
from sggic.restore.realesrgan import _import_ncnn  # the one lazy ncnn import (Real-ESRGAN's); _ncnn_graph uses it from here
from sggic.restore.tiling import as_rgb_u8, tiled_upscale

VVC_CODEC_ID = 1
WEIGHTS_FILE = "restorer-generative-4.safetensors"  # "generative" (header id 9), the default
WEIGHTS_FILE_V3 = "restorer-generative-3.safetensors"  # "generative-3" (id 7) and "generative-3b" (id 8)
WEIGHTS_FILE_V2 = "restorer-generative-2.safetensors"  # "generative-2" (header id 6): files written before v3
WEIGHTS_FILE_V1 = "restorer-generative.safetensors"  # "generative-1" (header id 4): files written before v2
DEFAULT_TILE = 256  # base pixels: a 512x512 image's base is one tile
DEFAULT_OVERLAP = 16  # >= receptive radius (15 convolutions)
QP_CENTRE, QP_SCALE = 45.0, 10.0
LEAKY_SLOPE = 0.1

DEFAULT_CONFIG: dict[str, int] = {"channels": 48, "blocks": 6, "cond_hidden": 32}

# torch's bicubic 2x (a = -0.75, align_corners=False) as 5-tap polyphase filters over
# input offsets -2..2: output 2i sits at input i - 1/4, output 2i+1 at i + 1/4.
_EVEN = (-0.03515625, 0.26171875, 0.87890625, -0.10546875, 0.0)
_ODD = (0.0, -0.10546875, 0.87890625, 0.26171875, -0.03515625)


def bicubic_phase_kernel() -> np.ndarray:
    """(12, 3, 5, 5) float32: colour c, row phase dy, column phase dx -> channel 4c+2dy+dx."""
    taps = np.array([_EVEN, _ODD], dtype=np.float64)
    k = np.zeros((12, 3, 5, 5), dtype=np.float64)
    for c in range(3):
        for dy in range(2):
            for dx in range(2):
                k[4 * c + 2 * dy + dx, c] = np.outer(taps[dy], taps[dx])
    return k.astype(np.float32)


def default_weights_path(name: str = WEIGHTS_FILE) -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / name


def normalise_qp(qp: float) -> float:
    return (float(qp) - QP_CENTRE) / QP_SCALE


def check_strength(s: object) -> float:
    try:
        v = float(s)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"strength must be a number in [0, 1], got {s!r}") from None
    if not 0.0 <= v <= 1.0:
        raise InputError(f"strength must be in [0, 1], got {v}")
    return v


def macs_per_base_pixel(channels: int = 48, blocks: int = 6, **_: int) -> int:
    """Multiply-accumulates per base pixel (convolutions incl. the fixed bicubic one)."""
    c = channels
    return 9 * (3 * c + 2 * blocks * c * c + c * c + c * 12) + 25 * 3 * 12


def build_net(channels: int = 48, blocks: int = 6, cond_hidden: int = 32) -> Any:
    """The network as a torch ``nn.Module`` (training and the port test); imports torch here only."""
    import torch
    import torch.nn.functional as F

    from sggic.restore._film import film_trunk

    class GenerativeNet(film_trunk(channels, blocks, cond_hidden, cond_in=2, slope=LEAKY_SLOPE)):
        """x: (N, 3, h, w) in [0, 1]; cond: (N, 2) = (normalised qp, strength) -> (N, 3, 2h, 2w)."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("bicubic", torch.from_numpy(bicubic_phase_kernel()), persistent=False)

        def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
            up = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), self.bicubic)
            return F.pixel_shuffle(self.residual(x, cond) + up, 2)

    return GenerativeNet()


def load_state(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the weights (numpy arrays, no torch) and the metadata; never unpickles."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    p = Path(path)
    if not p.is_file():
        raise MissingWeights(
            f"generative restorer weights not found at {p}; rebuild them with "
            f"`python scripts/train_generative.py` or decode with --restorer fitted"
        )
    try:
        with safe_open(str(p), framework="np") as f:
            meta = dict(f.metadata() or {})
        state = load_file(str(p))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise MissingWeights(f"cannot read generative restorer weights {p}: {exc}") from None
    cfg = dict(DEFAULT_CONFIG)
    cfg.update(json.loads(meta.get("config", "{}")))
    want = expected_shapes(**cfg)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        raise MissingWeights(f"generative restorer weights {p} do not match the network (config {cfg})")
    meta["config"] = cfg  # type: ignore[assignment]
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}, meta


def expected_shapes(channels: int = 48, blocks: int = 6, cond_hidden: int = 32) -> dict[str, tuple[int, ...]]:
    c = channels
    s: dict[str, tuple[int, ...]] = {"head.weight": (c, 3, 3, 3), "head.bias": (c,),
                                     "fuse.weight": (c, c, 3, 3), "fuse.bias": (c,),
                                     "tail.weight": (12, c, 3, 3), "tail.bias": (12,),
                                     "cond.0.weight": (cond_hidden, 2), "cond.0.bias": (cond_hidden,),
                                     "cond.2.weight": (2 * c * blocks, cond_hidden), "cond.2.bias": (2 * c * blocks,)}
    for i in range(blocks):
        for j in (1, 2):
            s[f"blocks.{i}.conv{j}.weight"] = (c, c, 3, 3)
            s[f"blocks.{i}.conv{j}.bias"] = (c,)
    return s


def film(state: dict[str, np.ndarray], qp: float, strength: float, channels: int, blocks: int) -> np.ndarray:
    """The conditioning MLP in float32 numpy: (blocks, 2, channels) scale and shift."""
    x = np.array([normalise_qp(qp), strength], dtype=np.float32)
    h = state["cond.0.weight"] @ x + state["cond.0.bias"]
    h = h / (1.0 + np.exp(-h))  # SiLU
    out = state["cond.2.weight"] @ h + state["cond.2.bias"]
    return out.astype(np.float32).reshape(blocks, 2, channels)


def folded_convs(state: dict[str, np.ndarray], qp: float, strength: float, channels: int, blocks: int,
                 **_: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Plain (weight, bias) per convolution for one (qp, strength): FiLM folded into conv1.

    ``conv1(x) * (1 + g) + b`` equals a convolution with weights scaled by ``1 + g`` per
    output channel and bias ``bias * (1 + g) + b``.
    """
    fm = film(state, qp, strength, channels, blocks)
    convs = {n: (state[f"{n}.weight"], state[f"{n}.bias"]) for n in ("head", "fuse", "tail")}
    for i in range(blocks):
        g, b = 1.0 + fm[i, 0], fm[i, 1]
        w1, b1 = state[f"blocks.{i}.conv1.weight"], state[f"blocks.{i}.conv1.bias"]
        convs[f"b{i}c1"] = ((w1 * g[:, None, None, None]).astype(np.float32), (b1 * g + b).astype(np.float32))
        convs[f"b{i}c2"] = (state[f"blocks.{i}.conv2.weight"], state[f"blocks.{i}.conv2.bias"])
    return convs


class GenerativeRestorer(CPUThreadsRestorer):
    """qp- and strength-conditioned CNN on VVC bases (ncnn at decode); bicubic for other codecs.

    ``strength``: the default when the context gives none (None: the weights' calibrated
    default, metadata ``default_strength``). ``threads``: ncnn threads. ``tile``/``overlap``:
    tiling in base pixels. ``weights``: path to the safetensors file (default: this
    class's shipped file, ``weights_file``).

    ``generative`` (header id 9) is v4: v3's recipe (v2 fine-tuned with the teacher on every
    base and a strength-weighted adversarial term) with the adversarial weight 0.1 instead
    of 0.03, trained on a CPU, where the documented command reproduces the weights bit for
    bit; default strength 0.4375; with the adaptive model whose target weighs BRISQUE by 0.3
    (docs/adapt.md). :class:`GenerativeRestorerV3b` (``generative-3b``, id 8:
    v3's GPU-trained weights and their 0.3 model), :class:`GenerativeRestorerV3`
    (``generative-3``, id 7: v3's weights, its first adaptive model), :class:`GenerativeRestorerV2`
    (``generative-2``, id 6: QPA-off bases, band-split loss) and :class:`GenerativeRestorerV1`
    (``generative-1``, id 4) keep their weights, so files that name those ids decode to
    the same pixels as before (docs/restorer-generative.md).
    """

    name = "generative"
    weights_file = WEIGHTS_FILE
    uses_strength = True  # the adaptive policy chooses s per image (docs/adapt.md)

    def __init__(self, threads: int = 2, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                 weights: str | Path | None = None, strength: float | None = None) -> None:
        if int(threads) < 1:
            raise InputError(f"the generative restorer needs at least 1 thread, got {threads}")
        if int(tile) < 1 or int(overlap) < 0:
            raise InputError(f"bad tiling: tile {tile}, overlap {overlap}")
        self.threads, self.tile, self.overlap = int(threads), int(tile), int(overlap)
        self.weights = Path(weights) if weights is not None else default_weights_path(self.weights_file)
        self.strength = None if strength is None else check_strength(strength)
        self._state: dict[str, np.ndarray] | None = None
        self._meta: dict[str, Any] = {}
        self._nets: dict[tuple[float, float], Any] = {}
        self._lock = threading.Lock()

    def check_available(self) -> None:
        """Raise MissingWeights/BackendUnavailable now instead of at the first restore."""
        self._load()
        _import_ncnn()

    def _load(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        with self._lock:
            if self._state is None:
                self._state, self._meta = load_state(self.weights)
            return self._state, self._meta

    @property
    def default_strength(self) -> float:
        _, meta = self._load()
        return check_strength(meta.get("default_strength", "0.5"))

    def resolve_strength(self, ctx: RestoreContext) -> float:
        s = getattr(ctx, "strength", None)
        if s is not None:
            return check_strength(s)
        return self.strength if self.strength is not None else self.default_strength

    def _net(self, qp: float, strength: float) -> Any:
        from sggic.restore._ncnn_graph import build_ncnn_net

        state, meta = self._load()
        key = (float(qp), float(strength))
        with self._lock:
            if key not in self._nets:
                self._nets.clear()  # one (qp, strength) alive at a time: a file has one
                cfg = meta["config"]
                convs = folded_convs(state, qp, strength, **cfg)
                self._nets[key] = build_ncnn_net(convs, cfg["blocks"], bicubic_phase_kernel(), self.threads)
            return self._nets[key]

    def upscale(self, rgb: np.ndarray, qp: float, strength: float) -> np.ndarray:
        """The network on one (h, w, 3) uint8 array, untiled -> (2h, 2w, 3) uint8."""
        from sggic.restore._ncnn_graph import run_ncnn

        y = run_ncnn(self._net(qp, strength), rgb)  # (12, h, w) float32, before the pixel shuffle
        return pixel_shuffle_to_u8(y)

    def restore(self, base: np.ndarray, ctx: RestoreContext) -> np.ndarray:
        rgb = as_rgb_u8(base)
        strength = self.resolve_strength(ctx)
        if ctx.codec_id != VVC_CODEC_ID:
            return bicubic_2x(rgb)  # fallback: see module docstring
        from sggic.codecs.vvc import qp_of_quality  # the header may pack qp with a chroma offset

        qp = qp_of_quality(ctx.quality)
        return tiled_upscale(rgb, lambda t: self.upscale(t, qp, strength), 2,
                             tile=self.tile, overlap=self.overlap)


class GenerativeRestorerV3b(GenerativeRestorer):
    """``generative-3b`` (header id 8): v3's weights (v2 fine-tuned on a GPU) with the adaptive
    model whose target weighs BRISQUE by 0.3 (``adapt-generative-3b.safetensors``); the
    default for files written before v4, which decode to the same pixels."""

    name = "generative-3b"
    weights_file = WEIGHTS_FILE_V3


class GenerativeRestorerV3(GenerativeRestorerV3b):
    """``generative-3`` (header id 7): v3's weights, as ``generative-3b``; a separate name and id
    only because the adaptive stage keeps the model it had when these files were written
    (``adapt-generative-3.safetensors``, target SSIMULACRA2 - 0.1 BRISQUE), so they decode to
    the same pixels."""

    name = "generative-3"


class GenerativeRestorerV2(GenerativeRestorer):
    """v2 of the generative restorer (header id 6, ``generative-2``): same network and
    decode path, the weights of files written before v3 (band-split distillation, no
    adversarial term)."""

    name = "generative-2"
    weights_file = WEIGHTS_FILE_V2


class GenerativeRestorerV1(GenerativeRestorer):
    """v1 of the generative restorer (header id 4, ``generative-1``): same network and
    decode path, the weights of files written before v2 (QPA-on bases, MSE distillation)."""

    name = "generative-1"
    weights_file = WEIGHTS_FILE_V1


def pixel_shuffle_to_u8(y: np.ndarray) -> np.ndarray:
    """(12, h, w) float in [0, 1] (channel 4c+2dy+dx) -> (2h, 2w, 3) uint8, rounded."""
    _, h, w = y.shape
    img = y.reshape(3, 2, 2, h, w).transpose(3, 1, 4, 2, 0).reshape(2 * h, 2 * w, 3)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)

