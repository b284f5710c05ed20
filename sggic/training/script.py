"""Setup pieces the training scripts (scripts/train_restorer.py, scripts/train_generative.py) share."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable


def add_schedule_args(ap: argparse.ArgumentParser, *, steps: int, lr: float) -> None:
    """--steps, --seed, --batch, --crop, --lr (only the step count and learning rate differ by default)."""
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=64, help="base-resolution crop side")
    ap.add_argument("--lr", type=float, default=lr)


def open_log(out: Path) -> Callable[[str], None]:
    """Create ``out`` and return a logger that prints timestamped lines and appends them to out/train.log."""
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "train.log", "a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    return log


def holdout_split(photos: list[Any]) -> tuple[list[str], list[str]]:
    """(hold-out ids, fit ids): every 7th photo of ``photos`` in the given order is held out."""
    val_ids = [p.id for p in photos][::7]
    return val_ids, [p.id for p in photos if p.id not in val_ids]
