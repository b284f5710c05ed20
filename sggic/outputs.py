"""Checks on an output path, made before any long computation.

Why: outputs are written atomically (a temporary file renamed over the target), which
would *replace* a device node, a FIFO or the input file itself. A user who names such a
target gets one clear error instead, and gets it before a 90-second encode, not after.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from .errors import InputError
from .limits import check_path


def check_output(path: object, inputs: Iterable[object] = ()) -> Path:
    """The output path if a regular file can be written there; InputError otherwise.

    Refused: an empty name, an existing directory, an existing non-regular file
    (character or block device, FIFO, socket), a missing or unwritable folder, and any
    of ``inputs`` (``encode x.png -o x.png`` must not destroy the input).
    """
    p = check_path(path, "output file")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InputError(f"cannot use output {p}: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"output {p} is a directory; name a file")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"output {p} is not a regular file (device, FIFO or socket); name a file")
        for src in inputs:
            try:
                if isinstance(src, (str, os.PathLike)) and os.path.samefile(src, p):
                    raise InputError(f"output {p} is the input file; choose another name")
            except OSError:
                continue
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {parent}")
    return p
