"""English word list with integer frequencies, rebuilt from the installed ``wordfreq`` data.

Why integers: encoder and decoder must build bit-identical models on any machine. wordfreq
stores each word in a centibel bucket ``b`` (frequency ``10**(-b/100)``); we map buckets to
integers with :mod:`decimal` (a deterministic software implementation), never with the
platform's floating-point ``pow``. Why a fingerprint: a future wordfreq release may ship a
different list; a model id is only valid for the exact list it was built from, so the
fingerprint is checked and a mismatch is reported instead of silently mis-decoding.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_FLOOR, Context, Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable

FREQ_SCALE_BITS = 40
"""Frequency 1.0 maps to 2**40; the rarest wordfreq bucket (~1e-8) still maps to > 10^4."""


@lru_cache(maxsize=None)
def _bucket_freq(bucket: int) -> int:
    ctx = Context(prec=50)
    value = ctx.power(Decimal(10), ctx.divide(Decimal(-bucket), Decimal(100)))
    scaled = ctx.multiply(value, Decimal(1 << FREQ_SCALE_BITS))
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR, context=ctx))


def wordfreq_data_file() -> Path:
    """wordfreq's 'large' English list file (found without importing wordfreq)."""
    import importlib.util

    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the text coder needs the 'wordfreq' package (pip install wordfreq==3.1.1)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "large_en.msgpack.gz"


def _large_english_buckets() -> list[list[str]]:
    """wordfreq's 'large' English list, read from its data file without importing wordfreq.

    Importing wordfreq costs ~0.1 s (it loads its tokenizers and language matching), a
    sixth of a 512x512 decode; the list itself is one gzipped msgpack file ("cBpack",
    documented in wordfreq: a header ``{"format": "cB", "version": 1}``, then one list of
    words per centibel bucket). ``wordfreq.get_frequency_list("en", "large")`` gives the
    same lists (tested); the text model's fingerprint catches any other difference.
    """
    import gzip

    path = wordfreq_data_file()
    try:
        import msgpack

        with gzip.open(path, "rb") as f:
            data = msgpack.load(f, raw=False)
    except (ImportError, OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot read wordfreq's English list {path}: {exc}") from None
    if not data or data[0] != {"format": "cB", "version": 1}:
        raise BackendUnavailable(f"wordfreq's English list {path} is not a cBpack version 1 file")
    return data[1:]


@lru_cache(maxsize=4)
def english_words(limit: int) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """The ``limit`` most frequent lowercase ASCII-letter words of wordfreq's 'large' English list.

    Returns (words, integer frequencies, fingerprint). Order is wordfreq's own (by bucket,
    then as stored), which is part of the model.
    """
    buckets = _large_english_buckets()
    words: list[str] = []
    freqs: list[int] = []
    for bucket, bucket_words in enumerate(buckets):
        if not bucket_words:
            continue
        kept = [w for w in bucket_words if w.isascii() and w.isalpha() and w.islower()]  # == [a-z]+
        kept = kept[: limit - len(words)]
        words.extend(kept)
        freqs.extend([_bucket_freq(bucket)] * len(kept))
        if len(words) >= limit:
            break
    h = hashlib.sha256("\n".join(words).encode("ascii"))
    h.update(np.asarray(freqs, dtype=">i8").tobytes())
    return tuple(words), tuple(freqs), h.hexdigest()[:16]
