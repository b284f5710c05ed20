"""Cheng2020 (CompressAI ``Cheng2020Attention``) as a base-layer codec, frozen id 6.

The paper codes its 256x256 base layer with CompressAI's ``cheng2020-attn`` (N=192)
fine-tuned at low lambda. Here:

* **quality** = the index into the ``[cheng2020] levels`` list of the model registry
  (:mod:`sggic.models.registry`), smallest files first. The built-in list is CompressAI's
  six pretrained MSE models (zoo quality 1-6, lambda 0.0018-0.0483); fine-tuned
  checkpoints (``sggic models finetune-cheng2020``) go in a models TOML. Encoder and
  decoder must use the same list.
* **payload** = what ``decompress`` needs and the decoder cannot rebuild: the
  hyperprior string ``z`` (length as a varint) followed by the latent string ``y``.
  The latent shape is not stored: it is ``ceil(h / 64) x ceil(w / 64)``, known from the
  header's size. File sizes are these real ``compress()`` bytes, never likelihoods.
* The image is edge-padded to a multiple of 64 (the model downsamples 64x before the
  hyperprior's entropy coder) and cropped back after decoding.
* Entropy coding runs on the CPU in float32 with the CDF tables stored in the
  checkpoint (computed once by ``update()`` only when a checkpoint lacks them), so the
  same file decodes to the same pixels in any process on the same kind of machine
  (one torch thread during coding, whatever the process's setting).
  A different CPU/GPU can change float results of the context model and break the
  stream; keep the codec on ``device = "cpu"`` (the default for this component).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import varint
from ..config import DEFAULT_CONFIG, RunConfig
from ..errors import BackendUnavailable, BitstreamError, InputError, MissingWeights
from ..models.hub import registry_for, require, torch_threads
from ..models.registry import Level, Registry
from ._pixels import check_rgb, check_size, pad_edge, padded_size
from .base import BaseCodec

COMPONENT = "cheng2020"
PAD = 64
ARCHITECTURE = "cheng2020-attn"
_CDF_KEY = "gaussian_conditional._quantized_cdf"
# Encoder and decoder recompute the context model's means and scales in float; a fixed
# thread count keeps those sums in the same order in every process (bit-exact decoding).
THREADS = 1


def pack_payload(z: bytes, y: bytes) -> bytes:
    return varint.encode(len(z)) + z + y


def unpack_payload(payload: bytes) -> tuple[bytes, bytes]:
    try:
        n, pos = varint.decode(payload, 0)
    except varint.VarintError:
        raise BitstreamError("corrupt cheng2020 payload: bad length field") from None
    if n == 0 or pos + n > len(payload):
        raise BitstreamError("corrupt cheng2020 payload: hyperprior length out of range")
    return payload[pos:pos + n], payload[pos + n:]


def padded(width: int, height: int) -> tuple[int, int]:
    """(w, h) rounded up to a multiple of 64: what the model codes."""
    return padded_size(width, height, PAD, PAD)


def read_state_dict(path: Path) -> dict[str, Any]:
    """A checkpoint's tensors: safetensors, or torch.load(weights_only=True); never a pickle of objects."""
    torch = require("torch", COMPONENT)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd: Any = load_file(str(path), device="cpu")
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise MissingWeights(f"{COMPONENT}: checkpoint {path} does not exist") from None
    except Exception as e:  # torch raises several types for a bad or unsafe file
        raise BackendUnavailable(f"{COMPONENT}: cannot read checkpoint {path}: "
                                 f"{(str(e).splitlines() or [type(e).__name__])[0][:200]}") from None
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise BackendUnavailable(f"{COMPONENT}: {path} is not a state dict of tensors")
    return sd


def model_from_state_dict(sd: dict[str, Any], where: str) -> Any:
    """A Cheng2020Attention in eval mode with CDF tables (kept from the checkpoint if there)."""
    require("compressai", COMPONENT)
    from compressai.models import Cheng2020Attention
    from compressai.zoo.pretrained import load_pretrained as rename_keys

    sd = rename_keys(dict(sd))
    try:
        model = Cheng2020Attention.from_state_dict(sd)
    except (KeyError, RuntimeError) as e:
        raise BackendUnavailable(f"{COMPONENT}: {where} is not a cheng2020-attn checkpoint "
                                 f"({(str(e).splitlines() or [type(e).__name__])[0][:160]})") from None
    model.eval()
    if sd.get(_CDF_KEY) is None or sd[_CDF_KEY].numel() == 0:
        model.update(force=True)
    return model


def zoo_cache_path(quality: int) -> tuple[str, Path]:
    """CompressAI's URL for a pretrained cheng2020-attn and where torch's hub cache keeps it."""
    torch = require("torch", COMPONENT)
    require("compressai", COMPONENT)
    from compressai.zoo.image import model_urls

    url = model_urls[ARCHITECTURE]["mse"][quality]
    return url, Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def level_source(level: Level, reg: Registry) -> str:
    """Where a level's weights would load from, without loading; MissingWeights if nowhere."""
    if level.path is not None:
        if not level.path.is_file():
            raise MissingWeights(f"{COMPONENT}: checkpoint {level.path} does not exist; "
                                 f"{reg.get(COMPONENT).how_to_get()}")
        return f"local {level.path}"
    url, cached = zoo_cache_path(int(level.zoo_quality or 0))
    if cached.is_file():
        return f"torch hub cache {cached.name}"
    if reg.downloads_allowed():
        return f"download {url}"
    raise MissingWeights(f"{COMPONENT}: CompressAI's pretrained cheng2020-attn quality {level.zoo_quality} "
                         f"is not in torch's hub cache and downloads are off; {reg.get(COMPONENT).how_to_get()}")


def load_level(level: Level, reg: Registry) -> tuple[Any, str]:
    """The model for one level and where it came from."""
    where = level_source(level, reg)
    if level.path is not None:
        return model_from_state_dict(read_state_dict(level.path), str(level.path)), where
    url, cached = zoo_cache_path(int(level.zoo_quality or 0))
    if cached.is_file():
        return model_from_state_dict(read_state_dict(cached), str(cached)), where
    torch = require("torch", COMPONENT)
    try:
        sd = torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True)
    except Exception as e:  # network errors come in many types
        raise MissingWeights(f"{COMPONENT}: could not download {url}: "
                             f"{(str(e).splitlines() or [type(e).__name__])[0][:160]}") from None
    return model_from_state_dict(sd, url), where


def fingerprint(model: Any) -> str:
    """8 hex digits over every tensor of a model (weights and CDF tables), key order sorted."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:8]


class Cheng2020Codec(BaseCodec):
    name = "cheng2020"
    codec_id = 6
    cache_size = 2  # loaded levels kept in memory (rate control tries a few)

    def __init__(self, config: RunConfig | None = None, registry: Registry | None = None):
        self.config = config or DEFAULT_CONFIG
        self._registry = registry
        self._models: OrderedDict[int, Any] = OrderedDict()
        self._versions: dict[int, int] = {}
        self.sources: dict[int, str] = {}

    @classmethod
    def from_config(cls, config: RunConfig | None = None) -> "Cheng2020Codec":
        """Built from the RunConfig: its models TOML names the levels (``[cheng2020] levels``)."""
        return cls(config)

    def weights_version_at(self, quality: int) -> int:
        """The level's :func:`fingerprint` as a 32-bit number (recorded in the profile section).

        Encoder and decoder must use the same checkpoint for a level, or entropy decoding
        produces garbage; the decoder compares this with the file's record before decoding.
        """
        q = self._quality(quality, BitstreamError)
        if q not in self._versions:
            self._versions[q] = int(fingerprint(self.model(q)), 16) or 1  # 0 means "no weights"
        return self._versions[q]

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = registry_for(self.config)
        return self._registry

    def levels(self) -> tuple[Level, ...]:
        return self.registry.get(COMPONENT).levels

    def qualities(self) -> Sequence[int]:
        return tuple(range(len(self.levels())))

    def device(self) -> str:
        return self.registry.get(COMPONENT).device or "cpu"

    def check_available(self) -> None:
        """Packages present and every level's weights reachable (nothing is loaded)."""
        require("torch", COMPONENT)
        compressai = require("compressai", COMPONENT)
        if compressai.get_entropy_coder() != "ans":
            raise BackendUnavailable(f"{COMPONENT}: CompressAI's entropy coder must be 'ans', "
                                     f"is {compressai.get_entropy_coder()!r}")
        for level in self.levels():
            level_source(level, self.registry)

    def model(self, quality: int) -> Any:
        """The loaded model of one level (LRU-cached)."""
        if quality in self._models:
            self._models.move_to_end(quality)
            return self._models[quality]
        model, where = load_level(self.levels()[quality], self.registry)
        model = model.to(self.device())
        self._models[quality] = model
        self.sources[quality] = where
        while len(self._models) > self.cache_size:
            self._models.popitem(last=False)
        return model

    def _quality(self, quality: Any, error: type[Exception]) -> int:
        n = len(self.levels())
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= int(quality) < n:
            raise error(f"cheng2020 quality must be a level index 0..{n - 1} of the models registry, "
                        f"got {quality!r}")
        return int(quality)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        q = self._quality(quality, InputError)
        img = check_rgb(rgb)
        self.check_available()
        torch = require("torch", COMPONENT)
        h, w = img.shape[:2]
        pw, ph = padded(w, h)
        x = pad_edge(img, pw, ph)
        model = self.model(q)
        t = torch.from_numpy(np.array(x)).permute(2, 0, 1)[None].float().div(255.0)
        with torch.inference_mode(), torch_threads(THREADS):
            out = model.compress(t.to(self.device()))
        (y,), (z,) = out["strings"]
        if tuple(out["shape"]) != (ph // PAD, pw // PAD):  # the decoder derives it from the size
            raise AssertionError(f"unexpected latent shape {tuple(out['shape'])}")
        return pack_payload(z, y)

    def decode(self, payload: bytes, width: int, height: int, quality: int) -> np.ndarray:
        q = self._quality(quality, BitstreamError)
        check_size(width, height)
        z, y = unpack_payload(bytes(payload))
        self.check_available()
        torch = require("torch", COMPONENT)
        model = self.model(q)
        pw, ph = padded(width, height)
        try:
            with torch.inference_mode(), torch_threads(THREADS):
                x = model.decompress([[y], [z]], torch.Size((ph // PAD, pw // PAD)))["x_hat"]
        except (RuntimeError, ValueError, IndexError) as e:
            raise BitstreamError(f"corrupt cheng2020 payload: {(str(e).splitlines() or ['?'])[0][:160]}") from None
        pix = x[0, :, :height, :width].clamp(0, 1).mul(255).round().to(torch.uint8)
        return np.ascontiguousarray(pix.permute(1, 2, 0).cpu().numpy())
