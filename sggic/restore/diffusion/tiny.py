"""Tiny random-weight models in the exact folder layout users give the restorer.

For tests and the full profile's ``make-tiny``: a diffusers SD folder (``unet/ vae/
text_encoder/ tokenizer/ scheduler/``) with the SD 2.1 block structure at a few channels,
an IRControlNet folder in our layout and a diffusers "tile" ControlNet folder, all
written with ``save_pretrained`` / :func:`.ircontrolnet.save_ircontrolnet` and loaded back
through :func:`.models.load_models`, the code path real weights take. Outputs are noise:
these models test plumbing, never quality.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._deps import require_all
from .ircontrolnet import controlnet_config_from_unet, build_ircontrolnet, save_ircontrolnet

TINY_UNET: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [8, 8, 16, 16],
    "layers_per_block": 1,
    "cross_attention_dim": 16,
    "attention_head_dim": [1, 1, 2, 2],
    "use_linear_projection": True,
    "norm_num_groups": 8,
}
TINY_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [8, 8, 16, 16],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 8,
    "sample_size": 64,
    "scaling_factor": 0.18215,
}
SCHEDULER: dict[str, Any] = {  # SD 2.1-base's noise schedule (as DiffBIR: "linear" 0.00085..0.012)
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


def _bytes_to_unicode() -> list[str]:
    """The 256 printable stand-ins byte-level BPE (GPT-2/CLIP) uses for bytes."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, n = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + n))
            n += 1
    return chars


def write_tokenizer(folder: Path) -> int:
    """A CLIP tokenizer with single-character tokens only (no merges); returns its size."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    _, _, transformers = require_all()
    tok = transformers.CLIPTokenizer(vocab_file=str(folder / "vocab.json"),
                                     merges_file=str(folder / "merges.txt"), model_max_length=77)
    tok.save_pretrained(str(folder))
    return len(vocab)


def _randomise_zero_convs(torch: Any, model: Any, seed: int) -> None:
    """diffusers zero-initialises the ControlNet's output convs; give them small random
    weights so that the hint visibly steers the tiny UNet."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding")):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def write_tiny_models(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write ``sd/``, ``ir_controlnet/`` and ``tile_controlnet/`` under ``root``."""
    torch, diffusers, transformers = require_all()
    root = Path(root)
    torch.manual_seed(seed)
    sd = root / "sd"
    unet = diffusers.UNet2DConditionModel(**TINY_UNET)
    unet.save_pretrained(str(sd / "unet"))
    diffusers.AutoencoderKL(**TINY_VAE).save_pretrained(str(sd / "vae"))
    vocab = write_tokenizer(sd / "tokenizer")
    text_cfg = transformers.CLIPTextConfig(
        vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, projection_dim=16, bos_token_id=vocab - 2, eos_token_id=vocab - 1,
        pad_token_id=vocab - 1)
    transformers.CLIPTextModel(text_cfg).save_pretrained(str(sd / "text_encoder"))
    diffusers.DDIMScheduler(**SCHEDULER).save_pretrained(str(sd / "scheduler"))

    ir = build_ircontrolnet(controlnet_config_from_unet(TINY_UNET), hint_channels=4)
    _randomise_zero_convs(torch, ir, seed + 1)
    save_ircontrolnet(ir, root / "ir_controlnet")

    tile = diffusers.ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 8, 8))
    _randomise_zero_convs(torch, tile, seed + 2)
    tile.save_pretrained(str(root / "tile_controlnet"))
    return {"base": sd, "ir": root / "ir_controlnet", "tile": root / "tile_controlnet"}
