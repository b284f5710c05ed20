"""Convert DiffBIR v2's stage-2 checkpoint into the IRControlNet folder sggic loads.

    python scripts/convert_diffbir.py v2.pth OUT_DIR [--head-channels 64] [--half]

Same as ``python -m sggic.restore.diffusion.convert``; see docs/diffusion-restorer.md.
"""

import sys

from sggic.restore.diffusion.convert import main

if __name__ == "__main__":
    sys.exit(main())
