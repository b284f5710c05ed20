"""Text from a file, made safe to print on a terminal.

Why: semantics and file names come from strangers. Printed raw, an ESC sequence can
clear the screen or recolour it, a CR or newline can forge a line of output, a bidi
override can reorder it, and a lone surrogate makes ``print`` crash half-way through.
:func:`printable` keeps every printable character (any script) and writes the rest as a
Python-style escape, so what you see is exactly what the file holds.
"""

from __future__ import annotations

import json
from typing import Any

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def printable(text: object) -> str:
    """``text`` with control, format, separator, surrogate and unassigned characters escaped.

    A backslash is doubled so that an escape in the output cannot be forged by the input.
    """
    s = str(text)
    if s.isprintable() and "\\" not in s:
        return s
    return "".join(ch if ch.isprintable() and ch != "\\" else _escape(ch) for ch in s)


def dumps_exact(obj: Any, indent: int | None = 2) -> str:
    """JSON that round-trips exactly; ``\\u`` escapes only when a lone surrogate needs them."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, indent=indent, ensure_ascii=True)
    return text
