"""Entropy coder for the structured semantics (object names, details, description): the public API.

Why a dedicated coder: the semantics are ~400 characters of plain English, and at our rates
(a few hundred bytes per image) zlib's ~4.6 bits/char would spend more on the text than on
the base layer. English words are cheap under a word-level model; what is not a word goes
through an escape path, so any Unicode text round-trips exactly.

Modules, one job each:

- :mod:`._tokens`: the tokenizer (separators, words, case, contexts), shared with fitting;
- :mod:`._smallmodels`, :mod:`._wordmodel`: the probability models (integer-only);
- :mod:`._arith`: the exact arithmetic coder;
- :mod:`._coder`: the coding loop, one code path for encoder and decoder;
- :mod:`._params`, :mod:`._textprior`: what defines a model, and model 1's frozen values;
- :mod:`._fit`: counting priors on training semantics;
- this module: the payload format and the table of model ids.

Payload: ``[model id byte][arithmetic-coded stream]``; the stream ends with an 8-bit check
value. Empty semantics give ``b""``. The decoder looks the id up in :data:`MODELS`, refuses
oversized payloads before decoding, stops as soon as a field would exceed the schema's
limit, and re-encodes what it read, demanding the identical bytes.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from ..errors import BitstreamError, InputError
from ._coder import DecodeChannel, EncodeChannel, Session
from ._params import CoderParams
from ._smallmodels import Categorical, Unencodable
from .schema import MAX_TOTAL_CHARS, Semantics


def _model_1() -> CoderParams:
    from ._textprior import PARAMS

    return PARAMS


MODELS: dict[int, Callable[[], CoderParams]] = {1: _model_1}
"""Model id (first payload byte) -> its frozen parameters. Ids are never reused or changed:
a changed model (word list, priors, hyper-parameters, tokenizer) gets a new id here, and the
old entries stay so that old payloads keep decoding."""

MODEL_ID = 1
"""The model the encoder uses."""

MAX_PAYLOAD_BYTES = 1 + 16 * MAX_TOTAL_CHARS + 64
"""No valid payload is longer: every character costs well under 16 bytes (measured worst
case about 4 bytes, a UTF-8 4-byte character spelled as escaped bytes), plus a small
per-field overhead. Checked before any decoding."""

_CHECK = (1,) * 256


def check_symbol(sem: Semantics) -> int:
    """8-bit hash of the content, coded last at a cost of exactly 8 bits.

    Why: a good arithmetic code has no redundancy, so nearly every prefix or bit-flipped
    payload decodes to *some* valid text; only a check value lets a truncated or corrupted
    payload be rejected (missed with probability 1/256) without the container's help.
    """
    h = hashlib.blake2b(digest_size=1)
    for _, text in sem.fields():
        raw = text.encode("utf-8", "surrogatepass")
        h.update(len(raw).to_bytes(4, "big") + raw)
    return h.digest()[0]


def encode_with(sem: Semantics, params: CoderParams, model_id: int = MODEL_ID) -> bytes:
    """Encode under explicit parameters (experiments and tests; use :func:`encode_semantics`)."""
    if not isinstance(sem, Semantics):
        raise InputError(f"semantics must be a Semantics, not {type(sem).__name__}")
    sem.check_limits()
    if sem.is_empty():
        return b""
    channel = EncodeChannel()
    Session(params, channel).code_semantics(sem)
    channel.code(Categorical(_CHECK), check_symbol(sem))
    return bytes([model_id]) + channel.coder.finish()


def decode_with(data: bytes, params: CoderParams, model_id: int = MODEL_ID) -> Semantics:
    """Decode under explicit parameters; the inverse of :func:`encode_with`."""
    if not data:
        return Semantics()
    if data[0] != model_id:
        raise BitstreamError(f"semantics payload uses unknown text model id {data[0]}")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise BitstreamError(f"semantics payload is corrupt ({len(data)} bytes; at most {MAX_PAYLOAD_BYTES})")
    channel = DecodeChannel(data[1:])
    try:
        sem = Session(params, channel).code_semantics(None)
        check = channel.code(Categorical(_CHECK), None)
    except (IndexError, Unencodable):
        raise BitstreamError("semantics payload is corrupt (impossible symbol)") from None
    if check != check_symbol(sem):
        raise BitstreamError("semantics payload is corrupt or truncated (check byte mismatch)")
    if encode_with(sem, params, model_id) != data:
        raise BitstreamError("semantics payload is corrupt or truncated (does not re-encode to itself)")
    return sem


def default_params() -> CoderParams:
    """The frozen parameters of :data:`MODEL_ID`."""
    return MODELS[MODEL_ID]()


def encode_semantics(sem: Semantics) -> bytes:
    """Payload bytes for ``sem`` (``b""`` when it is empty); :class:`InputError` over the limits."""
    return encode_with(sem, default_params())


def decode_semantics(data: bytes) -> Semantics:
    """Exact inverse of :func:`encode_semantics` for every model id in :data:`MODELS`.

    :class:`BitstreamError` (one line) on an unknown id or bad data.
    """
    if not data:
        return Semantics()
    loader = MODELS.get(data[0])
    if loader is None:
        raise BitstreamError(f"semantics payload uses unknown text model id {data[0]}")
    return decode_with(data, loader(), data[0])
