"""Base-layer codecs and their frozen ids (see docs/format.md).

| id | name |
|----|------|
| 1  | vvc  |
| 2  | avif |
| 3  | heic |
| 4  | webp |
| 5  | jpeg |
| 6  | cheng2020 (full profile: CompressAI, optional extra) |
"""

from __future__ import annotations

from importlib import import_module

from ..errors import BitstreamError, InputError
from .base import BaseCodec

# name -> (frozen id, "module:Class"); ids are part of the file format: never change them.
_REGISTRY: dict[str, tuple[int, str]] = {
    "vvc": (1, "vvc:VVCCodec"),
    "avif": (2, "pillow:AVIFCodec"),
    "heic": (3, "pillow:HEICCodec"),
    "webp": (4, "pillow:WebPCodec"),
    "jpeg": (5, "pillow:JPEGCodec"),
    "cheng2020": (6, "cheng2020:Cheng2020Codec"),
}

CODEC_NAMES = tuple(_REGISTRY)


def _load(name: str) -> BaseCodec:
    module, cls = _REGISTRY[name][1].split(":")
    codec = getattr(import_module(f"{__name__}.{module}"), cls)()
    assert codec.codec_id == _REGISTRY[name][0] and codec.name == name
    return codec


def get_codec(name: str) -> BaseCodec:
    """The codec called ``name``; InputError naming the choices otherwise."""
    if name not in _REGISTRY:
        raise InputError(f"unknown base codec {name!r}; choose one of: {', '.join(CODEC_NAMES)}")
    return _load(name)


def codec_by_id(codec_id: int) -> BaseCodec:
    """The codec a file's header names; BitstreamError for an unknown id."""
    for name, (cid, _) in _REGISTRY.items():
        if cid == codec_id:
            return _load(name)
    raise BitstreamError(f"unknown base codec id {codec_id} (file from a newer sggic?)")
