"""DiffBIR's IRControlNet, built from diffusers' ``ControlNetModel``.

What DiffBIR's stage-2 ControlNet is (read from its public code, configs/inference/cldm.yaml
and diffbir/model/controlnet.py): a copy of SD 2.1's UNet encoder whose first 3x3 conv
takes ``in_channels + hint_channels = 4 + 4`` channels, the noisy latent concatenated with
the *VAE latent of the stage-1 image* (posterior mode x 0.18215); no pixel-space hint
encoder. One zero-initialised 1x1 conv per encoder block (12) plus one after the middle
block give the 13 residuals added to the UNet's skip connections and middle output, all
with scale 1.

diffusers' ``ControlNetModel`` computes ``conv_in(x) + controlnet_cond_embedding(hint)``.
A 3x3 conv over ``concat(x, hint)`` is exactly ``conv(x; W[:, :4], b) + conv(hint; W[:, 4:])``,
so replacing ``controlnet_cond_embedding`` by one bias-free 3x3 conv from the hint's 4
channels gives DiffBIR's network with diffusers' blocks, and the UNet takes the residuals
through its ``down_block_additional_residuals`` / ``mid_block_additional_residual``.

On disk (our layout, written by :mod:`.convert` or :func:`save_ircontrolnet`):
``ir_controlnet.json`` (format, hint channels, the ``ControlNetModel`` config) and
``ir_controlnet.safetensors`` (the state dict).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sggic.errors import MissingWeights

from ._deps import require

CONFIG_FILE = "ir_controlnet.json"
WEIGHTS_FILE = "ir_controlnet.safetensors"
FORMAT = 1
LATENT_SCALE = 0.18215  # SD 2.1's VAE scaling factor (DiffBIR's latent_scale_factor)


def sd21_unet_config() -> dict[str, Any]:
    """SD 2.1-base's UNet (its public unet/config.json): 865M parameters."""
    return {
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "block_out_channels": [320, 640, 1280, 1280],
        "layers_per_block": 2,
        "cross_attention_dim": 1024,
        "attention_head_dim": [5, 10, 20, 20],
        "use_linear_projection": True,
        "upcast_attention": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
    }


def controlnet_config_from_unet(unet_config: dict[str, Any]) -> dict[str, Any]:
    """The ``ControlNetModel`` config that mirrors a UNet's encoder (as DiffBIR's does)."""
    keys = ("in_channels", "down_block_types", "block_out_channels", "layers_per_block",
            "cross_attention_dim", "attention_head_dim", "use_linear_projection",
            "upcast_attention", "flip_sin_to_cos", "freq_shift", "norm_num_groups", "norm_eps")
    return {k: unet_config[k] for k in keys if k in unet_config}


def build_ircontrolnet(controlnet_config: dict[str, Any], hint_channels: int = 4) -> Any:
    """A ``ControlNetModel`` whose hint path is one bias-free 3x3 conv (random weights)."""
    torch = require("torch")
    diffusers = require("diffusers")
    model = diffusers.ControlNetModel.from_config(dict(controlnet_config))
    width = int(model.config.block_out_channels[0])
    model.controlnet_cond_embedding = torch.nn.Conv2d(hint_channels, width, 3, padding=1, bias=False)
    return model


def _plain_config(model: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(model.config).items()
            if not k.startswith("_")}


def save_ircontrolnet(model: Any, folder: Path, half: bool = False) -> Path:
    """Write ``model`` (from :func:`build_ircontrolnet`) in our layout; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hint_channels = int(model.controlnet_cond_embedding.weight.shape[1])
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": str(FORMAT)})
    meta = {"format": FORMAT, "kind": "ir_controlnet", "hint_channels": hint_channels,
            "controlnet": _plain_config(model)}
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    return folder


def is_ircontrolnet_folder(folder: Path) -> bool:
    return (Path(folder) / CONFIG_FILE).is_file()


def load_ircontrolnet(folder: Path, dtype: Any = None) -> Any:
    """Load our layout (float32 or float16 weights, as written) and cast the network to
    ``dtype`` (default float32); MissingWeights on any gap."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, w_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file() or not w_path.is_file():
        raise MissingWeights(
            f"no IRControlNet in {folder} (expected {CONFIG_FILE} and {WEIGHTS_FILE}); convert "
            "DiffBIR's v2.pth with: python -m sggic.restore.diffusion.convert v2.pth DIR")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("kind") != "ir_controlnet":
            raise ValueError(f"format {meta.get('format')!r}")
        model = build_ircontrolnet(meta["controlnet"], int(meta["hint_channels"]))
        state = load_file(str(w_path))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        if dtype is not None:
            # plain nn.Module.to: ModelMixin.to only adds a warning about float32-pinned
            # submodules, and ControlNetModel has none
            require("torch").nn.Module.to(model, dtype=dtype)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingWeights(f"IRControlNet in {folder} cannot be loaded: {first[:200]}") from None
    return model.eval()
