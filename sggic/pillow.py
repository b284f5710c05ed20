"""A Pillow plugin for .sgc files, registered explicitly (the pattern pillow-heif uses)::

    import sggic.pillow
    sggic.pillow.register()
    im = Image.open("photo.sgc")   # reads the header only: size and mode, no model loaded
    im.load()                      # decodes (base layer + restoration), as sggic.decode does
    im.save("thumb.sgc", bpp=0.05) # or bytes=2000; also base=, restorer=, semantics=, seed=, fixed=

``open`` sniffs the magic and parses only the header section (checksum included); the
pixels are decoded on ``load()``, so listing a folder of .sgc files with Pillow costs no
decoding. Nothing is registered at import time.
"""

from __future__ import annotations

from typing import IO, Any

from PIL import Image, ImageFile

FORMAT = "SGC"
EXTENSION = ".sgc"
MIME = "image/x-sgc"

_SAVE_OPTIONS = ("bpp", "base", "semantics", "restorer", "seed", "fixed")


def _accept(prefix: bytes) -> bool:
    from .container import MAGIC, VERSION

    return prefix[: len(MAGIC)] == MAGIC and (len(prefix) <= len(MAGIC) or prefix[len(MAGIC)] == VERSION)


class SgcImageFile(ImageFile.ImageFile):
    """An .sgc file: size and mode from the header at open time, pixels on ``load()``."""

    format = FORMAT
    format_description = "sggic semantics-guided generative image compression"

    def _open(self) -> None:
        from .container import HEADER_PEEK_BYTES, peek_header

        assert self.fp is not None
        self._sgc_start = self.fp.tell()
        header = peek_header(self.fp.read(HEADER_PEEK_BYTES))
        self._size = (header.width, header.height)
        self._mode = "L" if header.grayscale else "RGB"
        self.info["sgc_header"] = header
        self.tile = []

    def load(self) -> Any:
        if self._im is None:
            from .container import MAX_FILE_BYTES
            from .errors import BitstreamError
            from .pipeline import decode

            if self.fp is None:
                raise ValueError("cannot load a closed .sgc image")
            self.fp.seek(self._sgc_start)
            data = self.fp.read(MAX_FILE_BYTES + 1)
            img = decode(data)
            if img.size != self.size or img.mode != self.mode:  # pragma: no cover - decoder contract
                raise BitstreamError("decoded image does not match the .sgc header")
            img.load()
            self.im = img.im
            if self._exclusive_fp:
                self.fp.close()
            self.fp = None
        return Image.Image.load(self)


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from .pipeline import encode

    info = dict(im.encoderinfo)
    kwargs = {k: info[k] for k in _SAVE_OPTIONS if k in info}
    if "bytes" in info or "target_bytes" in info:
        kwargs["target_bytes"] = info.get("bytes", info.get("target_bytes"))
    fp.write(encode(im, **kwargs))


def register() -> None:
    """Teach Pillow to open and save .sgc files (idempotent)."""
    Image.register_open(FORMAT, SgcImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, EXTENSION)
    Image.register_mime(FORMAT, MIME)
