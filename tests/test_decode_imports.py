"""A fresh ``sggic decode`` that runs the content-adaptive stage imports no scipy.

scipy costs 0.12-0.19 s to import (a fifth of a 512x512 decode); the adaptive stage's
features (Canny, BRISQUE, NIQE) use numpy replacements that equal scipy's results
(tests/test_filters.py, test_hysteresis.py, test_matfile.py).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the command-line decoder in this fresh interpreter, then reports what it imported.
_PROBE = """
import sys
from sggic.cli import main
rc = main(["decode", sys.argv[1], "-o", sys.argv[2], "-v"])
print("RC", rc)
print("SCIPY", sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy.")))
"""


def test_decode_with_the_adaptive_stage_imports_no_scipy(tmp_path) -> None:
    stored = json.loads(Path(__file__).with_name("golden.json").read_text())
    sgc = tmp_path / "adaptive.sgc"
    sgc.write_bytes(base64.b64decode(stored["vvc-adaptive"]["sgc"]))  # 224x240: base 112x120 >= 96x96
    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "-c", _PROBE, str(sgc), str(tmp_path / "out.png")], cwd=root,
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(root)})
    out = p.stdout + p.stderr
    assert "RC 0" in out, out
    assert "adaptive (" in out, out  # the settings line of -v: the features were computed
    if "SCIPY []" not in out:
        pytest.fail("decode imported scipy: " + out[out.index("SCIPY"):][:500])
    assert (tmp_path / "out.png").stat().st_size > 0
