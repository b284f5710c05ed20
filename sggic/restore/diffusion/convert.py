"""Convert DiffBIR v2's stage-2 checkpoint (``v2.pth``) into the IRControlNet folder we load.

Usage::

    python -m sggic.restore.diffusion.convert v2.pth OUT_DIR [--head-channels 64] [--half]

DiffBIR loads ``v2.pth`` with ``ControlNet.load_state_dict(sd, strict=True)``: its keys
are the ControlNet's own (latent-diffusion naming). The mapping to diffusers'
``ControlNetModel`` naming is fixed by the architecture (facts read from DiffBIR's public
code); the configuration (widths, levels, attention, cross-attention width) is *inferred
from the checkpoint's shapes*, except the attention head width, which weights cannot
tell: DiffBIR v2 uses ``num_head_channels: 64`` (``--head-channels``).

* ``time_embed.{0,2}`` -> ``time_embedding.linear_{1,2}``
* ``input_blocks.0.0`` (3x3 conv over 4 + 4 channels) -> ``conv_in`` (first 4 input
  channels, bias) + ``controlnet_cond_embedding`` (last 4, no bias)
* ``input_blocks.i`` (i >= 1), in order per level: ResBlock ``.0`` -> ``down_blocks.L.resnets.r``,
  SpatialTransformer ``.1`` -> ``down_blocks.L.attentions.r``; a Downsample ``.0.op`` ->
  ``down_blocks.L.downsamplers.0.conv`` and the next level starts
* ``middle_block.{0,1,2}`` -> ``mid_block.resnets.0`` / ``mid_block.attentions.0`` / ``mid_block.resnets.1``
* ``zero_convs.i.0`` -> ``controlnet_down_blocks.i``; ``middle_block_out.0`` -> ``controlnet_mid_block``
* inside a ResBlock: ``in_layers.0/2`` -> ``norm1``/``conv1``, ``emb_layers.1`` -> ``time_emb_proj``,
  ``out_layers.0/3`` -> ``norm2``/``conv2``, ``skip_connection`` -> ``conv_shortcut``;
  transformer keys keep their names (``norm``, ``proj_in``, ``transformer_blocks.*``, ``proj_out``)

Every key must be used exactly once and the result must load strictly, or the command
fails in one line. Numerical parity with DiffBIR's own network on its real weights could
not be checked offline (docs/diffusion-restorer.md says what was checked instead).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from sggic.errors import InputError, SggicError

from .ircontrolnet import build_ircontrolnet, save_ircontrolnet

DIFFBIR_HEAD_CHANNELS = 64
LATENT_CHANNELS = 4

_RES = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
        "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}


def _res_key(rest: str) -> str:
    for old, new in _RES.items():
        if rest.startswith(old + "."):
            return new + rest[len(old):]
    raise InputError(f"unexpected ResBlock key '{rest}' in the checkpoint")


def _input_block_layout(sd: Mapping[str, Any]) -> dict[int, tuple[str, int, int]]:
    """input block index -> ("res" | "down", level, index in level)."""
    indices = sorted({int(m.group(1)) for k in sd if (m := re.match(r"input_blocks\.(\d+)\.", k))})
    layout: dict[int, tuple[str, int, int]] = {}
    level, res = 0, 0
    for i in indices:
        if i == 0:
            continue
        if f"input_blocks.{i}.0.op.weight" in sd:
            layout[i] = ("down", level, 0)
            level, res = level + 1, 0
        elif f"input_blocks.{i}.0.in_layers.0.weight" in sd:
            layout[i] = ("res", level, res)
            res += 1
        else:
            raise InputError(f"input block {i} of the checkpoint is neither a ResBlock nor a Downsample")
    return layout


def infer_config(sd: Mapping[str, Any], head_channels: int = DIFFBIR_HEAD_CHANNELS,
                 latent_channels: int = LATENT_CHANNELS) -> tuple[dict[str, Any], int]:
    """(ControlNetModel config, hint channels) read from a DiffBIR ControlNet state dict."""
    if "input_blocks.0.0.weight" not in sd or "middle_block_out.0.weight" not in sd:
        raise InputError("this is not a DiffBIR IRControlNet state dict "
                         "(no input_blocks.0.0.weight / middle_block_out.0.weight)")
    conv0 = sd["input_blocks.0.0.weight"]
    hint_channels = int(conv0.shape[1]) - latent_channels
    if hint_channels < 1:
        raise InputError(f"first conv has {conv0.shape[1]} input channels; expected latent + hint")
    layout = _input_block_layout(sd)
    widths: dict[int, int] = {}
    has_attn: dict[int, bool] = {}
    per_level: dict[int, int] = {}
    for i, (kind, level, r) in layout.items():
        if kind != "res":
            continue
        widths[level] = int(sd[f"input_blocks.{i}.0.out_layers.3.weight"].shape[0])
        has_attn[level] = has_attn.get(level, False) or f"input_blocks.{i}.1.norm.weight" in sd
        per_level[level] = r + 1
    levels = sorted(widths)
    if not levels or len(set(per_level.values())) != 1:
        raise InputError("cannot infer the ControlNet's levels from the checkpoint")
    attn_keys = [k for k in sd if k.endswith("attn2.to_k.weight")]
    if not attn_keys:
        raise InputError("the checkpoint has no cross-attention layers")
    proj_in = next(v for k, v in sd.items() if k.endswith(".proj_in.weight"))
    depth = len({m.group(1) for k in sd
                 if (m := re.match(r"middle_block\.1\.transformer_blocks\.(\d+)\.", k))})
    block_out = [widths[level] for level in levels]
    if any(w % head_channels for w in block_out):
        raise InputError(f"widths {block_out} are not multiples of --head-channels {head_channels}")
    config = {
        "in_channels": latent_channels,
        "conditioning_channels": hint_channels,
        "down_block_types": ["CrossAttnDownBlock2D" if has_attn[lv] else "DownBlock2D" for lv in levels],
        "block_out_channels": block_out,
        "layers_per_block": per_level[levels[0]],
        "cross_attention_dim": int(sd[attn_keys[0]].shape[1]),
        "attention_head_dim": [w // head_channels for w in block_out],  # diffusers: = number of heads
        "use_linear_projection": proj_in.ndim == 2,
        "transformer_layers_per_block": max(depth, 1),
        "norm_num_groups": 32,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
    }
    return config, hint_channels


def convert_state_dict(sd: Mapping[str, Any], latent_channels: int = LATENT_CHANNELS) -> dict[str, Any]:
    """Rename (and split the first conv of) a DiffBIR ControlNet state dict; every key used once."""
    layout = _input_block_layout(sd)
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if key == "input_blocks.0.0.weight":
            out["conv_in.weight"] = value[:, :latent_channels].clone()
            out["controlnet_cond_embedding.weight"] = value[:, latent_channels:].clone()
            continue
        if key == "input_blocks.0.0.bias":
            new = "conv_in.bias"
        elif m := re.match(r"time_embed\.(0|2)\.(.+)$", key):
            new = f"time_embedding.linear_{1 if m.group(1) == '0' else 2}.{m.group(2)}"
        elif m := re.match(r"zero_convs\.(\d+)\.0\.(.+)$", key):
            new = f"controlnet_down_blocks.{m.group(1)}.{m.group(2)}"
        elif m := re.match(r"middle_block_out\.0\.(.+)$", key):
            new = f"controlnet_mid_block.{m.group(1)}"
        elif m := re.match(r"middle_block\.(0|1|2)\.(.+)$", key):
            part, rest = m.group(1), m.group(2)
            new = (f"mid_block.attentions.0.{rest}" if part == "1"
                   else f"mid_block.resnets.{0 if part == '0' else 1}.{_res_key(rest)}")
        elif m := re.match(r"input_blocks\.(\d+)\.(0|1)\.(.+)$", key):
            i, sub, rest = int(m.group(1)), m.group(2), m.group(3)
            if i not in layout:
                raise InputError(f"unexpected key '{key}' in the checkpoint")
            kind, level, r = layout[i]
            if kind == "down":
                if not rest.startswith("op."):
                    raise InputError(f"unexpected Downsample key '{key}'")
                new = f"down_blocks.{level}.downsamplers.0.conv.{rest[3:]}"
            elif sub == "0":
                new = f"down_blocks.{level}.resnets.{r}.{_res_key(rest)}"
            else:
                new = f"down_blocks.{level}.attentions.{r}.{rest}"
        else:
            raise InputError(f"unexpected key '{key}' in the checkpoint")
        if new in out:
            raise InputError(f"two checkpoint keys map to '{new}'")
        out[new] = value
    return out


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A state dict from ``.safetensors`` or a ``.pth``/``.ckpt`` read with weights_only=True."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is one line to the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot read checkpoint {path}: {first[:200]}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"checkpoint {path} is not a state dict of tensors")
    prefix = "module."
    if obj and all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def convert(src: Path, dst: Path, head_channels: int = DIFFBIR_HEAD_CHANNELS, half: bool = False) -> Path:
    """Read ``src``, build the diffusers IRControlNet, load strictly, write ``dst``."""
    sd = read_checkpoint(src)
    config, hint_channels = infer_config(sd, head_channels)
    state = convert_state_dict(sd)
    model = build_ircontrolnet(config, hint_channels)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or ["?"])[0]
        raise InputError(f"converted checkpoint does not fit the inferred network: {first[:200]}") from None
    return save_ircontrolnet(model, dst, half=half)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sggic.restore.diffusion.convert",
        description="Convert DiffBIR v2's stage-2 IRControlNet checkpoint (v2.pth) into the folder "
                    "the diffusion restorer loads (ir_controlnet.json + ir_controlnet.safetensors).")
    parser.add_argument("checkpoint", type=Path, help="DiffBIR v2.pth (or a .safetensors of the same keys)")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--head-channels", type=int, default=DIFFBIR_HEAD_CHANNELS,
                        help="attention head width (DiffBIR v2: 64)")
    parser.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    args = parser.parse_args(argv)
    try:
        out = convert(args.checkpoint, args.out, args.head_channels, args.half)
    except SggicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
