"""``sggic models make-tiny DIR``: tiny random models of every component, and a TOML.

Each model is the same class as the paper's checkpoint, built from a config with the
same structure as the public ``config.json`` (same model type, options, processor type,
number of extracted layers) but tiny sizes, then written with ``save_pretrained`` (or
safetensors for CompressAI). Users smoke-test the full profile with them without
downloading gigabytes; the tests use them. Their outputs are meaningless.

Public configs the shapes follow (read November 2026):

* CLIPSeg: huggingface.co/CIDAS/clipseg-rd64-refined ``config.json`` (reduce_dim 64,
  extract_layers [3, 6, 9], use_complex_transposed_convolution true, decoder 4 heads /
  2048) and ``preprocessor_config.json`` (ViTImageProcessor, 352x352, ImageNet mean/std).
* CLIP: huggingface.co/openai/clip-vit-base-patch16 ``config.json`` (CLIPModel,
  projection 512; CLIPImageProcessor 224, shortest edge + centre crop).
* Cheng2020: CompressAI ``Cheng2020Attention(N)``, N=192 for zoo quality 4-6.
* The diffusion restorer: :func:`sggic.restore.diffusion.tiny.write_tiny_models` (SD
  2.1-base's diffusers layout, our IRControlNet folder, a diffusers tile ControlNet)
  under ``diffusion/``, and a ``[diffusion]`` table for them (:data:`TINY_DIFFUSION`);
  written only when diffusers is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, SggicError
from .hub import quiet_transformers, require
from .registry import Component, Level, Registry, default_registry, render_toml

TOML_NAME = "models.toml"
TINY_N = 8
TINY_LEVEL_SCALES = (1.0, 4.0, 16.0)  # latent gains: later levels give larger files


def byte_level_vocab() -> dict[str, int]:
    """A CLIP BPE vocabulary of single byte symbols (any text tokenizes; no merges)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = [b for b in range(256) if b not in printable]
    symbols = [chr(c) for c in printable] + [chr(256 + i) for i in range(len(extra))]
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab.update({s + "</w>": len(symbols) + i for i, s in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def _tokenizer() -> Any:
    transformers = require("transformers", "make-tiny")
    return transformers.CLIPTokenizer(vocab=byte_level_vocab(), merges=[])


def _text_config(vocab: dict[str, int], hidden: int = 32, projection: bool = False) -> dict[str, Any]:
    cfg = dict(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=2 * hidden, num_attention_heads=2,
               num_hidden_layers=4, max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"],
               eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"])
    if projection:
        cfg["projection_dim"] = 16
    return cfg


def make_clipseg(out: Path, seed: int = 0) -> None:
    transformers = require("transformers", "clipseg")
    torch = require("torch", "clipseg")
    vocab = byte_level_vocab()
    cfg = transformers.CLIPSegConfig(
        text_config=_text_config(vocab),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_hidden_layers=4,
                           image_size=32, patch_size=16),
        projection_dim=16, reduce_dim=8, extract_layers=[1, 2, 3], conditional_layer=0,
        decoder_num_attention_heads=2, decoder_intermediate_size=32, use_complex_transposed_convolution=True)
    torch.manual_seed(seed)
    model = transformers.CLIPSegForImageSegmentation(cfg).eval()
    images = transformers.ViTImageProcessor(do_resize=True, size={"height": 64, "width": 64}, resample=2,
                                            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    processor = transformers.CLIPSegProcessor(image_processor=images, tokenizer=_tokenizer())
    model.save_pretrained(out)
    processor.save_pretrained(out)


def make_clip(out: Path, seed: int = 1) -> None:
    transformers = require("transformers", "clip")
    torch = require("torch", "clip")
    vocab = byte_level_vocab()
    cfg = transformers.CLIPConfig(
        text_config=_text_config(vocab),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_hidden_layers=2,
                           image_size=32, patch_size=16),
        projection_dim=16)
    torch.manual_seed(seed)
    model = transformers.CLIPModel(cfg).eval()
    images = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                             do_center_crop=True, resample=3)
    processor = transformers.CLIPProcessor(image_processor=images, tokenizer=_tokenizer())
    model.save_pretrained(out)
    processor.save_pretrained(out)


def make_cheng2020_levels(out: Path, n: int = TINY_N, seed: int = 2) -> list[Path]:
    """One random Cheng2020Attention(N=n) whose latents are scaled up per level, CDFs included."""
    torch = require("torch", "cheng2020")
    require("compressai", "cheng2020")
    from compressai.models import Cheng2020Attention
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, scale in enumerate(TINY_LEVEL_SCALES):
        torch.manual_seed(seed)
        model = Cheng2020Attention(N=n).eval()
        with torch.no_grad():  # the analysis transform's last plain conv sets the latent range
            last = [m for m in model.g_a.children() if isinstance(m, torch.nn.Conv2d)][-1]
            last.weight.mul_(scale)
            if last.bias is not None:
                last.bias.mul_(scale)
        model.update(force=True)
        p = out / f"level{i}.safetensors"
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(p),
                  metadata={"architecture": "cheng2020-attn", "N": str(n), "tiny": "random weights"})
        paths.append(p)
    return paths


# The [diffusion] table make-tiny writes: the tiny folders of
# sggic.restore.diffusion.tiny.write_tiny_models, no upscaling to SD's 512 px, small tiles
# and 2 sampler steps so that a full decode of a small image takes seconds on a CPU.
TINY_DIFFUSION: dict[str, Any] = {
    "base": "diffusion/sd",
    "controlnet": "diffusion/ir_controlnet",
    "control": "ir",
    "min_side": 0,
    "steps": 2,
    "refine_steps": 2,
    "latent_tile": 16,
    "latent_overlap": 4,
    "vae_tile": 16,
    "vae_overlap": 4,
    "vae_context": 4,
    "refine_margin": 8,
}


def make_tiny(directory: Path | str, log: Callable[[str], None] = lambda m: None) -> Path:
    """Write every tiny component under ``directory`` and ``directory/models.toml``; return the TOML path."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        raise InputError(f"{root} is not empty; give a new or empty folder")
    require("torch", "make-tiny")
    require("transformers", "make-tiny")
    require("compressai", "make-tiny")
    root.mkdir(parents=True, exist_ok=True)
    comps: dict[str, Component] = dict(default_registry().components)
    with quiet_transformers():
        make_clipseg(root / "clipseg")
        comps["clipseg"] = Component("clipseg", path=root / "clipseg")
        log("clipseg: CLIPSegForImageSegmentation")
        make_clip(root / "clip")
        comps["clip"] = Component("clip", path=root / "clip")
        log("clip: CLIPModel")
        levels = make_cheng2020_levels(root / "cheng2020")
        comps["cheng2020"] = Component("cheng2020", levels=tuple(Level(path=p) for p in levels))
        log(f"cheng2020: {len(levels)} levels of Cheng2020Attention(N={TINY_N})")
        diffusion = None
        try:
            require("diffusers", "make-tiny")
        except SggicError:  # only the diffusion restorer needs diffusers
            log("diffusion: skipped (diffusers is not installed; the full profile's restorer needs it)")
        else:
            from ..restore.diffusion.tiny import write_tiny_models

            write_tiny_models(root / "diffusion")
            diffusion = dict(TINY_DIFFUSION)
            log("diffusion: SD (UNet2DConditionModel, AutoencoderKL, CLIPTextModel), IRControlNet "
                "and a diffusers tile ControlNet")
    toml = root / TOML_NAME
    toml.write_text(render_toml(Registry(comps, diffusion=diffusion), root), encoding="utf-8")
    return toml
