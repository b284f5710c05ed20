"""Load the diffusion restorer's components from local folders (never from a hub).

The base model is a diffusers folder (what ``save_pretrained`` writes and what
``stabilityai/stable-diffusion-2-1-base`` ships): ``unet/``, ``vae/``, ``text_encoder/``,
``tokenizer/``, ``scheduler/``. The ControlNet is either our IRControlNet folder
(``control = "ir"``, see :mod:`.ircontrolnet`) or a diffusers ``ControlNetModel`` folder
conditioned on the image (``control = "tile"``, e.g. an SD 1.5 tile ControlNet beside an
SD 1.5 base). Every load passes ``local_files_only=True``; a missing part is one line of
:class:`~sggic.errors.MissingWeights` naming the folder.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sggic.errors import InputError, MissingWeights

from ._deps import require_all
from .ircontrolnet import LATENT_SCALE, is_ircontrolnet_folder, load_ircontrolnet
from .spec import DiffusionSpec

BASE_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
_SCHEDULERS = {"ddim": "DDIMScheduler", "dpmpp": "DPMSolverMultistepScheduler",
               "euler": "EulerDiscreteScheduler"}


@dataclass
class DiffusionModels:
    """The loaded components, on one device, in eval mode."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    controlnet: Any
    control: str  # "ir" or "tile"
    device: Any
    dtype: Any

    @property
    def vae_factor(self) -> int:
        """Image pixels per latent pixel (8 for SD's VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_scale(self) -> float:
        return float(getattr(self.vae.config, "scaling_factor", LATENT_SCALE) or LATENT_SCALE)


def check_folders(spec: DiffusionSpec) -> None:
    """MissingWeights (one line) unless every folder the spec names is there; loads nothing."""
    if spec.base is None or spec.controlnet is None:
        raise MissingWeights("the diffusion restorer needs [diffusion] base = SD folder and "
                             "controlnet = folder in the model registry (--models T.toml)")
    missing = [p for p in BASE_PARTS if not (spec.base / p).is_dir()]
    if missing:
        raise MissingWeights(f"Stable Diffusion folder {spec.base} lacks {', '.join(missing)}/ "
                             "(a diffusers save_pretrained layout is expected)")
    if spec.control == "ir" and not is_ircontrolnet_folder(spec.controlnet):
        raise MissingWeights(f"no IRControlNet in {spec.controlnet}; convert DiffBIR's v2.pth with: "
                             "python -m sggic.restore.diffusion.convert v2.pth DIR")
    if spec.control == "tile" and not (spec.controlnet / "config.json").is_file():
        raise MissingWeights(f"no diffusers ControlNet (config.json) in {spec.controlnet}")


def resolve_dtype(torch: Any, name: str, device: Any) -> Any:
    if name == "auto":
        return torch.float16 if torch.device(device).type == "cuda" else torch.float32
    return getattr(torch, name)


def _load(what: str, folder: Path, fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(str(folder), local_files_only=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MissingWeights(f"cannot load the {what} from {folder}: {first[:200]}") from None


def make_scheduler(diffusers: Any, kind: str, folder: Path) -> Any:
    """The sampler's scheduler: the folder's noise schedule with the class ``kind`` picks."""
    config = _load("scheduler", folder, diffusers.DDIMScheduler.load_config)
    name = config.get("_class_name") if kind == "config" else _SCHEDULERS[kind]
    cls = getattr(diffusers, str(name), None)
    if cls is None:
        raise InputError(f"diffusion: unknown scheduler class {name!r} in {folder}")
    return cls.from_config(config)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """diffusers/transformers draw their own "Loading weights" bars; ours is the sampler's."""
    import diffusers.utils.logging as dlog
    import transformers.utils.logging as tlog

    was = [(m, m.is_progress_bar_enabled()) for m in (dlog, tlog)]
    for m, _ in was:
        m.disable_progress_bar()
    try:
        yield
    finally:
        for m, on in was:
            if on:
                m.enable_progress_bar()


def load_models(spec: DiffusionSpec, device: str = "cpu") -> DiffusionModels:
    """Load every component named by ``spec`` onto ``device``."""
    require_all()
    check_folders(spec)
    with quiet_loading():
        return _load_all(spec, device)


def _load_all(spec: DiffusionSpec, device: str) -> DiffusionModels:
    torch, diffusers, transformers = require_all()
    assert spec.base is not None and spec.controlnet is not None
    dev = torch.device(device)
    dtype = resolve_dtype(torch, spec.dtype, dev)
    base = spec.base
    unet = _load("UNet", base / "unet", diffusers.UNet2DConditionModel.from_pretrained, torch_dtype=dtype)
    vae = _load("VAE", base / "vae", diffusers.AutoencoderKL.from_pretrained, torch_dtype=dtype)
    text_encoder = _load("text encoder", base / "text_encoder",
                         transformers.CLIPTextModel.from_pretrained, torch_dtype=dtype)
    tokenizer = _load("tokenizer", base / "tokenizer", transformers.CLIPTokenizer.from_pretrained)
    scheduler = make_scheduler(diffusers, spec.scheduler, base / "scheduler")
    if spec.control == "ir":
        controlnet = load_ircontrolnet(spec.controlnet, dtype)
    else:
        controlnet = _load("ControlNet", spec.controlnet, diffusers.ControlNetModel.from_pretrained,
                           torch_dtype=dtype)
    ucfg, ccfg = unet.config, controlnet.config
    if (int(ucfg.cross_attention_dim) != int(ccfg.cross_attention_dim)
            or list(ucfg.block_out_channels) != list(ccfg.block_out_channels)):
        raise InputError(f"ControlNet {spec.controlnet} does not fit the UNet in {base} "
                         f"(widths {list(ccfg.block_out_channels)} vs {list(ucfg.block_out_channels)}, "
                         f"text width {ccfg.cross_attention_dim} vs {ucfg.cross_attention_dim}): "
                         "an SD 1.5 ControlNet needs an SD 1.5 base")
    for module in (unet, vae, text_encoder, controlnet):
        module.to(dev).eval().requires_grad_(False)
    return DiffusionModels(unet, vae, text_encoder, tokenizer, scheduler, controlnet,
                           spec.control, dev, dtype)
