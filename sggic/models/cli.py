"""``sggic models``: make-tiny, check, finetune-cheng2020 (docs/full-profile.md).

Only argparse lives here at import time; torch, transformers and CompressAI are
imported by the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, MissingWeights


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="the full profile's model registry: make-tiny, check, finetune-cheng2020")
    msub = m.add_subparsers(dest="models_command", required=True)

    t = msub.add_parser("make-tiny", help="write tiny random models of every component and a models TOML")
    t.add_argument("directory", help="new or empty folder")

    c = msub.add_parser("check", help="say per component whether it loads here, from where, how to get it")
    c.add_argument("--models", help="models TOML (default: the built-in registry, the paper's checkpoints)")
    c.add_argument("--device", default="cpu", help="torch device to load on (default cpu)")

    f = msub.add_parser("finetune-cheng2020", help="fine-tune Cheng2020 at a low lambda on a folder of images")
    f.add_argument("--images", required=True, help="folder of training images")
    f.add_argument("-o", "--output", required=True, help="output checkpoint (.safetensors)")
    f.add_argument("--lambda", dest="lmbda", type=float, default=0.0045,
                   help="rate-distortion lambda (paper: 0.0045 -> ~0.022 bpp, 0.018 -> ~0.048 bpp)")
    f.add_argument("--init", default="zoo:6",
                   help="start from zoo:Q (CompressAI pretrained quality Q, default zoo:6) or a checkpoint file")
    f.add_argument("--models", help="models TOML (its download setting applies to --init zoo:Q)")
    f.add_argument("--steps", type=int, default=20000, help="optimiser steps (default 20000)")
    f.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    f.add_argument("--crop", type=int, default=256, help="training crop, a multiple of 64 (default 256)")
    f.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    f.add_argument("--downsample", type=int, default=2, help="downsample images first, as the base layer is (2)")
    f.add_argument("--seed", type=int, default=0, help="seed for crops and initialisation (default 0)")
    f.add_argument("--device", default="cpu", help="torch device to train on (default cpu)")
    f.add_argument("--log-every", type=int, default=100, help="print the loss every N steps (default 100)")


def run_models(a: argparse.Namespace) -> None:
    if a.models_command == "make-tiny":
        from .tiny import make_tiny

        toml = make_tiny(Path(a.directory), log=lambda m: print(f"  {m}", file=sys.stderr))
        print(toml)
    elif a.models_command == "check":
        from ..config import RunConfig
        from .check import check, format_rows
        from .registry import load_registry

        models = Path(a.models) if a.models else None
        reg = load_registry(models)
        rows = check(RunConfig(profile="full", device=a.device, models=models), reg)
        print(format_rows(rows, reg.label(), models))
        bad = [r.component for r in rows if not r.ok]
        if bad:
            raise MissingWeights(f"{len(bad)} component(s) cannot load here: {', '.join(bad)}")
    elif a.models_command == "finetune-cheng2020":
        from .finetune import finetune_cheng2020
        from .registry import load_registry

        r = finetune_cheng2020(Path(a.images), Path(a.output), a.lmbda, load_registry(a.models), init=a.init,
                               steps=a.steps, batch=a.batch, crop=a.crop, lr=a.lr, downsample=a.downsample,
                               seed=a.seed, device=a.device, log=lambda m: print(f"sggic: {m}", file=sys.stderr),
                               log_every=max(1, a.log_every))
        print(f"{r.path}: {r.steps} steps in {r.seconds:.0f} s, last {r.last_bpp:.4f} bpp (likelihood), "
              f"mse {r.last_mse:.6f}")
        print("add to [cheng2020] levels in your models TOML (smallest files first):")
        print(r.toml_line())
    else:  # pragma: no cover - argparse enforces the choices
        raise InputError(f"unknown models command {a.models_command!r}")
