"""Writing safetensors files whose bytes depend only on their content.

The safetensors library writes the ``__metadata__`` keys in the order of a Rust hash map,
which changes from process to process: two exports of the same tensors and metadata gave
files with different bytes (and so different SHA-256, which the adaptive models and their
label cache record). :func:`save_canonical` writes the same format with the metadata keys
and the tensor names sorted, so the same content always gives the same bytes. Files it
writes load with ``safetensors.safe_open`` like any other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

# numpy dtype -> safetensors dtype name
_DTYPES: dict[np.dtype, str] = {np.dtype(k): v for k, v in (
    ("float64", "F64"), ("float32", "F32"), ("float16", "F16"), ("int64", "I64"), ("int32", "I32"),
    ("int16", "I16"), ("int8", "I8"), ("uint8", "U8"), ("bool", "BOOL"))}


def canonical_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The file's bytes: 8-byte little-endian header length, the JSON header (metadata first,
    then the tensors by name, compact, padded with spaces to a multiple of 8), the data."""
    header: dict[str, object] = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"safetensors metadata must map str to str: {sorted(map(str, bad))}")
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if a.dtype not in _DTYPES:
            raise TypeError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name here")
        blob = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def save_canonical(tensors: dict[str, np.ndarray], path: str | os.PathLike,
                   metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` and ``metadata`` to ``path`` (through a temporary file, so a failed
    write leaves no partial file)."""
    path = Path(path)
    data = canonical_bytes(tensors, metadata)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
