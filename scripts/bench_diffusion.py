"""Benchmark (not a test): the real-size SD 2.1-base + IRControlNet with random weights.

Per sampler step = ControlNet + UNet at batch 2 (classifier-free guidance) on 64x64
latents (a 512x512 image), plus the VAE encode/decode of 512x512, each component in its
own subprocess so that peak memory (``ru_maxrss``) is per component. Random weights cost
the same time as trained ones; outputs are meaningless. Prints a Markdown table and,
with ``--json``, writes the numbers. Example (this is what docs/diffusion-restorer.md
reports)::

    python scripts/bench_diffusion.py --steps 2 --threads 2 --json bench-diffusion.json

Needs the ``full`` extra (diffusers). On a GPU machine add ``--device cuda`` (float16,
peak memory from ``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

PAPER_S_PER_STEP = 12.6  # GTX 1060, 512x512 (paper-facts.md)


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB


def child(part: str, steps: int, threads: int, device: str, size: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import diffusers

    from sggic.restore.diffusion.ircontrolnet import (build_ircontrolnet, controlnet_config_from_unet,
                                                      sd21_unet_config)

    dev = torch.device(device)
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    lat = size // 8
    res: dict = {"part": part, "threads": threads, "device": device, "size": size}
    t0 = time.perf_counter()
    if part == "step":
        ucfg = sd21_unet_config()
        unet = diffusers.UNet2DConditionModel(**ucfg).to(dev, dtype).eval()
        cn = build_ircontrolnet(controlnet_config_from_unet(ucfg)).to(dev, dtype).eval()
        res["params_unet_M"] = sum(p.numel() for p in unet.parameters()) / 1e6
        res["params_controlnet_M"] = sum(p.numel() for p in cn.parameters()) / 1e6
        res["build_s"] = time.perf_counter() - t0
        res["rss_after_build_GiB"] = rss_gib()
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 4, lat, lat, generator=g).to(dev, dtype)
        hint = torch.randn(2, 4, lat, lat, generator=g).to(dev, dtype)
        emb = torch.randn(2, 77, 1024, generator=g).to(dev, dtype)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        with torch.inference_mode():
            for i in range(steps):
                t = torch.tensor(999 - 20 * i, device=dev)
                t1 = time.perf_counter()
                down, mid = cn(x, t, encoder_hidden_states=emb, controlnet_cond=hint, return_dict=False)
                eps = unet(x, t, encoder_hidden_states=emb, down_block_additional_residuals=down,
                           mid_block_additional_residual=mid).sample
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t1)
                print(f"step {i + 1}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
        res["step_s"] = times
        assert eps.shape == x.shape
    elif part == "vae":
        vcfg = {"in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
                "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [128, 256, 512, 512],
                "layers_per_block": 2, "latent_channels": 4, "sample_size": 768}
        vae = diffusers.AutoencoderKL(**vcfg).to(dev, dtype).eval()
        res["params_vae_M"] = sum(p.numel() for p in vae.parameters()) / 1e6
        res["rss_after_build_GiB"] = rss_gib()
        img = torch.rand(1, 3, size, size).to(dev, dtype)
        with torch.inference_mode():
            t1 = time.perf_counter()
            z = vae.encode(img * 2 - 1).latent_dist.mode()
            res["encode_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            vae.decode(z).sample
            res["decode_s"] = time.perf_counter() - t1
    if dev.type == "cuda":
        res["cuda_peak_GiB"] = torch.cuda.max_memory_allocated() / 2 ** 30
    res["rss_peak_GiB"] = rss_gib()
    return res


def table(results: list[dict], args: argparse.Namespace) -> str:
    """Markdown rows: per-step time and memory, and whole-decode estimates."""
    rows = [f"| what | {args.device}, {args.threads} threads, {args.size}x{args.size} |", "|---|---|"]
    step = next((r for r in results if r["part"] == "step"), None)
    vae = next((r for r in results if r["part"] == "vae"), None)
    per = None
    if step:
        timed = step["step_s"][1:] or step["step_s"]  # the first step includes warm-up
        per = sorted(timed)[len(timed) // 2]
        all_s = ", ".join(f"{s:.1f}" for s in step["step_s"])
        rows.append(f"| UNet {step['params_unet_M']:.0f}M + IRControlNet {step['params_controlnet_M']:.0f}M, "
                    f"one CFG step (batch 2) | {per:.1f} s (all: {all_s}) |")
        rows.append(f"| paper, GTX 1060 | {PAPER_S_PER_STEP} s |")
        rows.append(f"| peak RSS, step | {step['rss_peak_GiB']:.2f} GiB "
                    f"(after build {step['rss_after_build_GiB']:.2f}) |")
    vae_pass = 0.0
    if vae:
        vae_pass = vae["encode_s"] + vae["decode_s"]
        rows.append(f"| VAE {vae['params_vae_M']:.0f}M encode / decode, {vae['size']} px | "
                    f"{vae['encode_s']:.1f} s / {vae['decode_s']:.1f} s |")
        rows.append(f"| peak RSS, VAE | {vae['rss_peak_GiB']:.2f} GiB "
                    f"(after build {vae['rss_after_build_GiB']:.2f}) |")
    if per is not None:
        # (label, sampler steps, VAE encode+decode passes); objects: 3, each sampled at >= 512 px
        for label, n, passes in (("pass 1 only, 40 steps (w/o CAD)", 40, 1),
                                 ("pass 1 + 3 objects, 40 steps each", 160, 4),
                                 ("pass 1 + 3 objects, CAD mean 47.7 steps each", 4 * 47.7, 4),
                                 ("pass 1 40 steps + 3 objects x 3 steps (MISC's local schedule)", 49, 4)):
            here = n * per + passes * vae_pass
            rows.append(f"| decode estimate: {label} | {here:.0f} s here; {n * PAPER_S_PER_STEP:.0f} s of "
                        "sampling at the paper's 12.6 s/step |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=512, help="image side (latent = size / 8)")
    ap.add_argument("--parts", default="step,vae")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--from-json", nargs="+", help="only print the table of earlier --json files")
    args = ap.parse_args()
    if args.from_json:
        results = [r for path in args.from_json for r in json.load(open(path, encoding="utf-8"))]
        print(table(results, args))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.threads, args.device, args.size)))
        return 0
    results = []
    for part in args.parts.split(","):
        cmd = [sys.executable, __file__, "--child", part, "--steps", str(args.steps), "--threads",
               str(args.threads), "--device", args.device, "--size", str(args.size)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(table(results, args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
