"""Real-size cost of the full profile's models with RANDOM weights (a benchmark, not a test).

Builds each model at the size of the public checkpoint, with random weights, writes it
to a temporary models folder, and times sggic's own code paths (registry loading
included) on one 512x512 photo:

* CLIPSeg (huggingface.co/CIDAS/clipseg-rd64-refined ``config.json``: CLIPSegConfig with
  reduce_dim 64, extract_layers [3, 6, 9], use_complex_transposed_convolution true,
  conditional_layer 0, decoder 4 heads / 2048, projection 512, vision patch 16; every
  other field is transformers' default, which is how that config.json is written;
  ``preprocessor_config.json``: ViTImageProcessor 352x352, ImageNet mean/std), per object;
* CLIP ViT-B/16 patch maps (huggingface.co/openai/clip-vit-base-patch16 ``config.json``:
  CLIPConfig with projection 512, vision patch 16, the rest default; CLIPImageProcessor
  224, shortest edge + centre crop), 64 cells + object names;
* Cheng2020Attention(N=192) (CompressAI zoo ``cheng2020-attn`` quality 4-6, the paper's
  quality-6 architecture), encode and decode at 512x512 and at 256x256 (the paper's base
  layer size).

Random weights give the right compute but meaningless outputs and payload sizes: the
entropy coder's share of the time depends on the latents, so real-weight times differ.
The text side uses sggic's byte-level tiny tokenizer (vocabulary < 49408): prompts are a
few tokens longer than with CLIP's BPE, a negligible cost next to the vision encoder.

    python scripts/bench_full_profile.py [--repeats 3] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_models(root: Path) -> Path:
    import torch
    import transformers
    from compressai.models import Cheng2020Attention
    from safetensors.torch import save_file

    from sggic.models.tiny import _tokenizer, byte_level_vocab

    vocab = byte_level_vocab()
    ids = dict(bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
               pad_token_id=vocab["<|endoftext|>"])
    torch.manual_seed(0)
    seg_cfg = transformers.CLIPSegConfig(
        text_config=dict(**ids), vision_config=dict(patch_size=16), projection_dim=512, reduce_dim=64,
        extract_layers=[3, 6, 9], conditional_layer=0, decoder_num_attention_heads=4, decoder_intermediate_size=2048,
        decoder_hidden_act="quick_gelu", use_complex_transposed_convolution=True)
    transformers.CLIPSegForImageSegmentation(seg_cfg).save_pretrained(root / "clipseg")
    transformers.CLIPSegProcessor(
        image_processor=transformers.ViTImageProcessor(size={"height": 352, "width": 352}, resample=2,
                                                       image_mean=[0.485, 0.456, 0.406],
                                                       image_std=[0.229, 0.224, 0.225]),
        tokenizer=_tokenizer()).save_pretrained(root / "clipseg")
    clip_cfg = transformers.CLIPConfig(text_config=dict(**ids), vision_config=dict(patch_size=16), projection_dim=512)
    transformers.CLIPModel(clip_cfg).save_pretrained(root / "clip")
    transformers.CLIPProcessor(
        image_processor=transformers.CLIPImageProcessor(size={"shortest_edge": 224},
                                                        crop_size={"height": 224, "width": 224}),
        tokenizer=_tokenizer()).save_pretrained(root / "clip")
    model = Cheng2020Attention(N=192).eval()
    model.update(force=True)
    (root / "cheng2020").mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "cheng2020" / "n192.safetensors"))
    toml = root / "models.toml"
    toml.write_text('[clipseg]\npath = "clipseg"\n[clip]\npath = "clip"\n'
                    '[cheng2020]\nlevels = [{ path = "cheng2020/n192.safetensors" }]\n')
    return toml


def timed(fn, repeats: int) -> tuple[tuple[float, float], object]:
    """Median wall seconds and median CPU seconds of this process (all its threads)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return (statistics.median(walls), statistics.median(cpus)), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the segmenters (default: torch's)")
    a = ap.parse_args()

    import torch
    from skimage import data

    from sggic.codecs.cheng2020 import THREADS, Cheng2020Codec
    from sggic.config import RunConfig
    from sggic.segment.clipseg import CLIPSegSegmenter
    from sggic.segment.patchmap import CLIPPatchMapper

    img512 = np.ascontiguousarray(data.astronaut())
    from PIL import Image

    img256 = np.asarray(Image.fromarray(img512).resize((256, 256), Image.Resampling.LANCZOS))
    names = ["astronaut", "flag", "helmet"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        toml = build_models(Path(tmp))
        print(f"built random real-size models in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        cfg = RunConfig(profile="full", device=a.device, threads=a.threads, models=toml)

        seg = CLIPSegSegmenter(cfg)
        t, c = time.perf_counter(), time.process_time()
        seg.load()
        rows.append(("CLIPSeg load (150M params)", "-", (time.perf_counter() - t, time.process_time() - c)))
        seg.segment(img512, names[:1], size=(512, 512))  # warm-up
        s1, _ = timed(lambda: seg.segment(img512, names[:1], size=(512, 512)), a.repeats)
        rows.append(("CLIPSeg, 1 object, masks at 512x512", "512x512", s1))
        s3, _ = timed(lambda: seg.segment(img512, names, size=(512, 512)), a.repeats)
        rows.append(("CLIPSeg, 3 objects (one batch)", "512x512", s3))
        rows.append(("CLIPSeg per object (3-object batch / 3)", "512x512", (s3[0] / 3, s3[1] / 3)))
        del seg

        mapper = CLIPPatchMapper(cfg)
        mapper.load()
        mapper.similarity(img512, names)
        sp, _ = timed(lambda: mapper.maps(img512, names), a.repeats)
        rows.append(("CLIP ViT-B/16 patch maps, 64 cells + 3 names (encoder)", "512x512", sp))
        del mapper

        codec = Cheng2020Codec(cfg)
        codec.model(0)
        for img in (img512, img256):
            h, w = img.shape[:2]
            enc, payload = timed(lambda: codec.encode(img, 0), a.repeats)
            dec, _ = timed(lambda: codec.decode(payload, w, h, 0), a.repeats)
            rows.append((f"Cheng2020 N=192 encode ({len(payload)} B, random weights)", f"{w}x{h}", enc))
            rows.append(("Cheng2020 N=192 decode", f"{w}x{h}", dec))

    cpu = platform.processor() or platform.machine()
    print(f"\ndevice {a.device}, torch {torch.__version__}, {os.cpu_count()} CPUs ({cpu}), "
          f"segmenter threads {a.threads or torch.get_num_threads()}, codec threads {THREADS}, "
          f"median of {a.repeats}; load average {os.getloadavg()[0]:.1f}")
    print("\n| step | input | wall s | CPU s |\n|---|---|---|---|")
    for name, size, (wall, cpu_s) in rows:
        print(f"| {name} | {size} | {wall:.2f} | {cpu_s:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
