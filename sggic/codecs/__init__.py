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

from ..config import RunConfig
from ..errors import BitstreamError
from ..registry import Entry, Registry
from .base import BaseCodec

# Ids are part of the file format: never change them.
CODECS: Registry[Entry] = Registry("base codec", (
    Entry("vvc", 1, "sggic.codecs.vvc:VVCCodec", "VVC intra (libvvenc via imageio-ffmpeg), compact payload"),
    Entry("avif", 2, "sggic.codecs.pillow:AVIFCodec", "AVIF (Pillow's libavif)"),
    Entry("heic", 3, "sggic.codecs.pillow:HEICCodec", "HEIC (pillow-heif's x265)"),
    Entry("webp", 4, "sggic.codecs.pillow:WebPCodec", "WebP (Pillow)"),
    Entry("jpeg", 5, "sggic.codecs.pillow:JPEGCodec", "baseline JPEG (Pillow)"),
    Entry("cheng2020", 6, "sggic.codecs.cheng2020:Cheng2020Codec",
          "Cheng2020-attention learned codec of the paper (CompressAI; full profile)"),
))

CODEC_NAMES = CODECS.available_names


def get_codec(name: str, config: RunConfig | None = None) -> BaseCodec:
    """The codec called ``name``; InputError naming the choices otherwise."""
    entry = CODECS.info(name)
    codec: BaseCodec = CODECS.load(name).from_config(config)
    if codec.codec_id != entry.id or codec.name != entry.name:
        raise RuntimeError(f"codec registry: {entry.target} does not match its entry")  # pragma: no cover
    return codec


def codec_by_id(codec_id: int, config: RunConfig | None = None) -> BaseCodec:
    """The codec a file's header names; BitstreamError for an unknown id."""
    try:
        entry = CODECS.by_id(codec_id)
    except BitstreamError:
        raise BitstreamError(f"unknown base codec id {codec_id} (file from a newer sggic?)") from None
    return get_codec(entry.name, config)


__all__ = ["CODECS", "CODEC_NAMES", "BaseCodec", "codec_by_id", "get_codec"]
