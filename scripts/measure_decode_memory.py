"""Peak memory and wall time of `sggic decode` (default restorer) at several picture sizes.

Usage: python scripts/measure_decode_memory.py OUTDIR 1000,3000,5000
For each side S it writes OUTDIR/mS.sgc (the astronaut photo resized to SxS, VVC base at
qp 50, encoded once), then decodes it in a child process and prints
``S MP PROBE rc seconds peak_MB_of_sggic peak_MB_of_largest_child``. Peak memory is
VmHWM from /proc/self/status (ru_maxrss would carry the parent's over exec) and the
largest child's ru_maxrss (ffmpeg). Linux only. Numbers are in docs/format.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

PROBE = (
    "import resource, sys, time\n"
    "from sggic.cli import main\n"
    "t = time.perf_counter(); rc = main(sys.argv[1:])\n"
    "hwm = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024\n"
    "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
    "print('PROBE', rc, round(time.perf_counter() - t, 1), hwm, kids, flush=True)\n"
)


def main(outdir: str, sides: str) -> None:
    from skimage import data

    from sggic import container
    from sggic.codecs import get_codec
    from sggic.pipeline import downsample2x

    os.makedirs(outdir, exist_ok=True)
    photo = data.astronaut()
    for side in (int(x) for x in sides.split(",")):
        path = os.path.join(outdir, f"m{side}.sgc")
        if not os.path.exists(path):
            img = np.asarray(Image.fromarray(photo).resize((side, side), Image.BICUBIC))
            payload = get_codec("vvc").encode(downsample2x(img), 50)
            with open(path, "wb") as f:
                f.write(container.write(container.Header(side, side, 1, 50), payload))
        r = subprocess.run([sys.executable, "-c", PROBE, "decode", path, "-o", path[:-4] + ".png"],
                           capture_output=True, text=True)
        print(side, side * side / 1e6, "MP", r.stdout.strip(), r.stderr.strip()[-300:], flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
