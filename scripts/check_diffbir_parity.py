"""Offline check that our IRControlNet (diffusers blocks + converted keys) computes what
DiffBIR's own ControlNet computes, on random weights (no real weights are reachable here).

Needs a checkout of https://github.com/XPixelGroup/DiffBIR (its code is imported from
there, never copied) and its model deps ``einops`` and ``omegaconf`` on ``sys.path``::

    python scripts/check_diffbir_parity.py --diffbir PATH/TO/DiffBIR [--keys-out FILE.json]

1. Builds DiffBIR's ControlNet at a tiny configuration with random weights, converts its
   state dict with :mod:`sggic.restore.diffusion.convert` and compares the 13 residuals.
2. Builds DiffBIR's ControlNet at the real v2 configuration (configs/inference/cldm.yaml)
   on the meta device, and checks every key/shape converts into our real-size network;
   ``--keys-out`` writes that key -> shape list (facts about the checkpoint layout).
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path


def import_diffbir_controlnet(root: Path):  # noqa: ANN201
    """Import diffbir.model.controlnet without running diffbir/model/__init__.py (CLIP etc.)."""
    for name, sub in (("diffbir", "diffbir"), ("diffbir.model", "diffbir/model")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(root / sub)]
        sys.modules[name] = mod
    import importlib

    return importlib.import_module("diffbir.model.controlnet")


def diffbir_cfg(model_channels: int, mult: list[int], heads_ch: int, context: int) -> dict:
    return dict(use_checkpoint=False, image_size=32, in_channels=4, hint_channels=4,
                model_channels=model_channels, attention_resolutions=[4, 2, 1], num_res_blocks=2,
                channel_mult=mult, num_head_channels=heads_ch, use_spatial_transformer=True,
                use_linear_in_transformer=True, transformer_depth=1, context_dim=context, legacy=False)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--diffbir", type=Path, required=True)
    ap.add_argument("--keys-out", type=Path)
    args = ap.parse_args()
    import torch

    from sggic.restore.diffusion.convert import convert_state_dict, infer_config
    from sggic.restore.diffusion.ircontrolnet import build_ircontrolnet

    cn = import_diffbir_controlnet(args.diffbir.resolve())
    torch.manual_seed(0)
    # 1. tiny parity: widths 32/64/64/64 (4 levels as in SD 2.1), 8-channel heads
    ref = cn.ControlNet(**diffbir_cfg(32, [1, 2, 2, 2], 8, 16)).eval()
    with torch.no_grad():
        for p in ref.parameters():  # zero-convs are zero-initialised: randomise everything
            p.copy_(torch.randn_like(p) * 0.05)
    sd = ref.state_dict()
    config, hint = infer_config(sd, head_channels=8)
    ours = build_ircontrolnet(config, hint).eval()
    ours.load_state_dict(convert_state_dict(sd), strict=True)
    x, h = torch.randn(2, 4, 32, 32), torch.randn(2, 4, 32, 32)
    t, ctx = torch.tensor([10, 700]), torch.randn(2, 7, 16)
    with torch.no_grad():
        want = ref(x=x, hint=h, timesteps=t, context=ctx)
        down, mid = ours(x, t, encoder_hidden_states=ctx, controlnet_cond=h, return_dict=False)
    got = list(down) + [mid]
    assert len(got) == len(want) == 13, (len(got), len(want))
    worst = max(float((a - b).abs().max() / (b.abs().max() + 1e-12)) for a, b in zip(got, want))
    print(f"tiny ControlNet parity: 13 residuals, max relative difference {worst:.2e}")
    # 2. real v2 shapes on the meta device
    with torch.device("meta"):
        real = cn.ControlNet(**diffbir_cfg(320, [1, 2, 4, 4], 64, 1024))
    rsd = real.state_dict()
    config, hint = infer_config(rsd)
    with torch.device("meta"):
        big = build_ircontrolnet(config, hint)
    conv = convert_state_dict(rsd)
    mine = big.state_dict()
    assert set(conv) == set(mine), (set(conv) ^ set(mine))
    assert all(tuple(conv[k].shape) == tuple(mine[k].shape) for k in mine)
    n = sum(v.numel() for v in rsd.values())
    print(f"real v2 layout: {len(rsd)} keys, {n / 1e6:.1f}M parameters, all converted with matching shapes")
    print(f"inferred config: {json.dumps(config)}")
    if args.keys_out:
        args.keys_out.write_text(json.dumps({k: list(v.shape) for k, v in rsd.items()}, indent=0) + "\n")
        print(f"wrote {args.keys_out}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
