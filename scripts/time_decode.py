"""Fresh-process `sggic decode` wall times, one or more sggic trees timed in turn.

    PYTHONPATH=. python scripts/time_decode.py --repeat 3 runs/eval-generative5/*-0.03.sgc \\
        [--tree CHECKOUT ...]

Each file is decoded ``--repeat`` times by every tree (this checkout first), the trees
taking turns so that a changing load hits them alike; outputs go to a temporary folder.
A tree runs through its console-script entry (``sggic.cli.run``, or ``main`` in trees
older than it). Each tree is byte-compiled first, as an installed package is, and warmed
with one decode (its text-model cache file written). Prints the median, min and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = "import sys, sggic.cli as c; c.run() if hasattr(c, 'run') else sys.exit(c.main())"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to time in turn")
    args = ap.parse_args(argv)
    trees = [Path(__file__).resolve().parents[1], *(t.resolve() for t in args.tree)]
    times: dict[Path, list[float]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory(prefix="sggic-time-") as tmp:
        out = str(Path(tmp) / "out.png")

        def decode(tree: Path, f: Path) -> float:
            env = dict(os.environ, PYTHONPATH=str(tree))
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-P", "-c", ENTRY, "decode", str(f), "-o", out], env=env, check=True,
                           capture_output=True)
            return time.perf_counter() - t0

        for t in trees:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(t / "sggic")], check=True, capture_output=True)
            decode(t, args.files[0])
        print(f"command: {' '.join(sys.argv)}; load average before: {os.getloadavg()[0]:.2f}")
        for f in args.files:
            for _ in range(args.repeat):
                for t in trees:
                    times[t].append(decode(t, f))
    for t, v in times.items():
        print(f"{t}: median {statistics.median(v):.3f} s over {len(v)} decodes (min {min(v):.3f}, max {max(v):.3f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
