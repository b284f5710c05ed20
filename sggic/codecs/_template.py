"""Store a file as a patch against a template the decoder can regenerate.

Why: container formats (HEIF/AVIF boxes, RIFF/VP8 headers, JPEG markers and tables) cost
150-600 bytes that depend only on the encoder settings and the picture size. The decoder
re-encodes a flat picture of the same size with the same settings (the *template*) and
rebuilds the real file from it plus this patch, so only the bytes that differ are stored.

Patch format, read until it ends: groups of ``uvarint copy``, ``uvarint skip``,
``uvarint n`` and ``n`` literal bytes. Each group appends ``copy`` bytes of the template at
the current template position, then advances that position by ``skip`` more bytes, then
appends the ``n`` literal bytes. A patch may stop right after a ``copy`` (skip = n = 0).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from .. import varint

MIN_MATCH = 6  # shorter matches cost more in group headers than they save


def make_patch(template: bytes, target: bytes) -> bytes:
    """The smallest-effort patch such that ``apply_patch(template, patch) == target``."""
    matcher = SequenceMatcher(None, template, target, autojunk=False)
    blocks = [m for m in matcher.get_matching_blocks() if m.size >= MIN_MATCH]
    out = bytearray()
    t_pos = f_pos = 0
    pending_copy = 0
    for a, b, size in blocks:
        # literal target[f_pos:b] replacing template[t_pos:a], then copy `size` bytes
        if b > f_pos or a > t_pos:
            out += varint.encode(pending_copy) + varint.encode(a - t_pos)
            out += varint.encode(b - f_pos) + target[f_pos:b]
            pending_copy = 0
        pending_copy += size
        t_pos, f_pos = a + size, b + size
    if f_pos < len(target):
        out += varint.encode(pending_copy) + varint.encode(0)
        out += varint.encode(len(target) - f_pos) + target[f_pos:]
    elif pending_copy:
        out += varint.encode(pending_copy)
    return bytes(out)


def apply_patch(template: bytes, patch: bytes) -> bytes:
    """Rebuild the file; ValueError if the patch is malformed or runs off the template."""
    out = bytearray()
    t_pos = pos = 0
    while pos < len(patch):
        copy, pos = varint.decode(patch, pos)
        if t_pos + copy > len(template):
            raise ValueError("patch copies past the end of the template")
        out += template[t_pos : t_pos + copy]
        t_pos += copy
        if pos == len(patch):
            break
        skip, pos = varint.decode(patch, pos)
        n, pos = varint.decode(patch, pos)
        if pos + n > len(patch) or t_pos + skip > len(template):
            raise ValueError("patch literal or skip runs past the end")
        out += patch[pos : pos + n]
        pos += n
        t_pos += skip
    return bytes(out)
