"""Entropy coder for the structured semantics (object names, details, description).

Why a dedicated coder: the semantics are ~400 characters of plain English, and at our rates
(a few hundred bytes per image) zlib's ~4.6 bits/char would spend more on the text than on
the base layer. English words are cheap under a word-level model; the few things that are
not words (digits, accents, emoji, odd punctuation) go through an escape path so that any
Unicode text still round-trips exactly.

How a field is coded: ``re.split("([A-Za-z]+)")`` turns it into separators and words,
``sep0 w1 sep1 ... wn sepn``. Each separator is one symbol of a small per-context inventory
(" ", ", ", ". ", "-", ...) that also says whether a word or the end of the field follows;
anything outside the inventory is escaped as UTF-8 bytes. Each word is coded lower-cased
(wordfreq English unigram + a domain unigram fitted on the training descriptions + a cache of
the words already seen in this image's semantics, mixed additively; unknown words are
spelled letter by letter) and then its case pattern (lower, Title, UPPER, mixed) with the
sentence start as context. Everything is coded with the exact arithmetic coder of
:mod:`._arith` under integer-only models, so encoder and decoder agree bit for bit.

Payload: one model-id byte (:data:`MODEL_ID`), then the arithmetic-coded stream. Empty
semantics give ``b""``. Decoding is bounded (at most :data:`MAX_OBJECTS` objects and
:data:`MAX_FIELD_CHARS` characters per field) and the decoder re-encodes what it read and
demands the identical bytes, so a stream our encoder cannot have produced is rejected.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Sequence

import numpy as np

from ..errors import BackendUnavailable, BitstreamError, InputError
from ._arith import ArithmeticDecoder, ArithmeticEncoder
from ._vocab import english_words
from .schema import MAX_FIELD_CHARS, MAX_OBJECTS, SemanticObject, Semantics

MODEL_ID = 1
"""First payload byte. Frozen: a changed model (word list, priors, hyper-parameters,
inventory) must get a new id and keep the old one decodable."""

FIELD_KINDS = ("name", "detail", "description")
NAME, DETAIL, DESCRIPTION = 0, 1, 2

SEPARATORS: tuple[str, ...] = (
    "", " ", ", ", ". ", "-", ".", ",", "'", "; ", ": ", "!", "?", "! ", "? ",
    " (", ") ", ")", " - ", "/", "\n", " & ", "...", ":", ".\n",
)
"""Separator inventory (part of model 1). Symbol = 2 * index + (1 if the field ends)."""

_N_SEP_SYMBOLS = 2 * len(SEPARATORS) + 2  # + escape (word follows / field ends)
_SEP_ESCAPE = 2 * len(SEPARATORS)
_SEP_INDEX = {s: i for i, s in enumerate(SEPARATORS)}

CASE_LOWER, CASE_TITLE, CASE_UPPER, CASE_MIXED = range(4)

_SPLIT = re.compile(r"([A-Za-z]+)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_END_LETTER = 26  # letter-model symbol that ends a spelled word
_BYTE_END = 256  # byte-model symbol that ends an escaped separator
_Q16 = 1 << 16
_FIELD_TAGS = ("<name>", "<detail>", "<description>")
_SENTENCE_TAG = "<s>"


@dataclass(frozen=True)
class CoderParams:
    """Everything that defines a model; one frozen instance per :data:`MODEL_ID`.

    Priors are counts from the *training* descriptions; hyper-parameters were tuned by
    leave-one-out on the training descriptions only (see scripts/measure_textcoder.py).
    Rates are integers (parts of 2**16) so that no float arithmetic enters the model.
    """

    vocab_limit: int
    vocab_fingerprint: str  # "" skips the check (only for experiments)
    domain_words: tuple[tuple[str, int], ...]
    sep_prior: tuple[tuple[int, ...], ...]  # [kind * 2 + (0 at field start, 1 later)]
    case_prior: tuple[tuple[int, ...], ...]  # [kind * 2 + (1 at a sentence start)]
    bigrams: tuple[tuple[str, str, int], ...] = ()  # (previous word or context tag, word, count)
    domain_q16: int = 40000
    esc_q16: int = 300
    cache_q16: int = 1500
    cache_rep_q16: int = 1000
    prior_weight: int = 4
    adapt_inc: int = 8
    bigram_q16: int = 30000  # bigram mass relative to the static total, per unit of count / distinct
    bigram_doc: int = 3  # count added for each bigram seen in this semantics (adaptive)
    bigram_wb: int = 1  # 1: Witten-Bell style, bonus divided by the number of distinct successors
    bigram_distinct_add: int = 0


# ----------------------------------------------------------------------------- models


class _Categorical:
    """Small integer-frequency distribution (separators, case, letters, bytes)."""

    __slots__ = ("freqs", "_cum", "total")

    def __init__(self, freqs: Sequence[int]) -> None:
        self.freqs = list(freqs)
        self._cum: list[int] | None = None
        self.total = sum(self.freqs)

    def bump(self, symbol: int, inc: int) -> None:
        self.freqs[symbol] += inc
        self.total += inc
        self._cum = None

    def _cums(self) -> list[int]:
        if self._cum is None:
            self._cum = [0, *accumulate(self.freqs)]
        return self._cum

    def interval(self, symbol: int) -> tuple[int, int]:
        if not 0 <= symbol < len(self.freqs) or self.freqs[symbol] <= 0:
            raise _Unencodable(symbol)
        return self._cums()[symbol], self.freqs[symbol]

    def lookup(self, target: int) -> tuple[int, int, int]:
        cum = self._cums()
        s = bisect.bisect_right(cum, target) - 1
        return s, cum[s], self.freqs[s]


class _Unencodable(Exception):
    """A symbol has zero probability under the model: caller falls back to an escape."""


@dataclass(frozen=True)
class _StaticWords:
    """Static word distribution: wordfreq + domain words, then the escape symbol."""

    words: tuple[str, ...]
    index: dict[str, int]
    freq: np.ndarray  # int64, len V + 1 (last = escape)
    cum: np.ndarray  # int64, len V + 2, cum[0] = 0, cum[-1] = total
    letter_freqs: tuple[tuple[int, ...], ...]  # [previous letter or 26 = start][next or 26 = end]

    @property
    def escape(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        return int(self.cum[-1])


@lru_cache(maxsize=8)
def _static_words(params: CoderParams) -> _StaticWords:
    words_wf, freqs_wf, fingerprint = english_words(params.vocab_limit)
    if params.vocab_fingerprint and fingerprint != params.vocab_fingerprint:
        raise BackendUnavailable(
            f"installed wordfreq data differs from the one text model {MODEL_ID} was built on "
            f"(fingerprint {fingerprint}, expected {params.vocab_fingerprint}); install wordfreq 3.1.1"
        )
    words = list(words_wf)
    freq = list(freqs_wf)
    index = {w: i for i, w in enumerate(words)}
    t_wf = sum(freqs_wf)
    d_total = sum(c for _, c in params.domain_words) or 1
    for w, c in params.domain_words:  # sorted by word: deterministic
        extra = t_wf * params.domain_q16 * c // (_Q16 * d_total)
        if w in index:
            freq[index[w]] += extra
        elif extra > 0:
            index[w] = len(words)
            words.append(w)
            freq.append(extra)
    freq.append(max(1, t_wf * params.esc_q16 // _Q16))  # escape: spell the word
    freq_arr = np.asarray(freq, dtype=np.int64)
    cum = np.zeros(len(freq) + 1, dtype=np.int64)
    np.cumsum(freq_arr, out=cum[1:])
    return _StaticWords(tuple(words), index, freq_arr, cum, _letter_model(words_wf))


def _letter_model(words: Sequence[str]) -> tuple[tuple[int, ...], ...]:
    """Letter-bigram counts over the word types (for spelling unknown words)."""
    blob = np.frombuffer(("\n" + "\n".join(words) + "\n").encode("ascii"), dtype=np.uint8)
    codes = np.where(blob == 10, 26, blob.astype(np.int64) - 97)
    pairs = codes[:-1] * 27 + codes[1:]
    counts = np.bincount(pairs, minlength=27 * 27).reshape(27, 27)
    counts[26, 26] = 0  # "\n\n" is not a word
    table = counts // 16 + 1  # smoothed; small enough that totals stay modest
    table[26, 26] = 0  # a spelled word is never empty
    return tuple(tuple(int(x) for x in row) for row in table)


class _WordDistribution:
    """Static words plus a cache bonus for each word already seen in this semantics.

    Additive mixing keeps one interval per word: a cached word's interval is its static
    interval widened by its bonus; cache-only words (spelled earlier) sit after the escape.
    """

    def __init__(self, static: _StaticWords, cached: list[tuple[int, int]]) -> None:
        self.static = static
        self.cached = cached  # sorted (symbol, bonus)
        self.total = static.total + sum(b for _, b in cached)

    def _static_cum(self, symbol: int) -> int:
        return int(self.static.cum[min(symbol, len(self.static.cum) - 1)])

    def _static_freq(self, symbol: int) -> int:
        return int(self.static.freq[symbol]) if symbol < len(self.static.freq) else 0

    def interval(self, symbol: int) -> tuple[int, int]:
        offset = 0
        bonus = 0
        for s, b in self.cached:
            if s < symbol:
                offset += b
            elif s == symbol:
                bonus = b
            else:
                break
        return self._static_cum(symbol) + offset, self._static_freq(symbol) + bonus

    def lookup(self, target: int) -> tuple[int, int, int]:
        offset = 0
        for s, b in self.cached:
            start = self._static_cum(s) + offset
            if target < start:
                break
            end = start + self._static_freq(s) + b
            if target < end:
                return s, start, end - start
            offset += b
        t = target - offset
        s = int(np.searchsorted(self.static.cum, t, side="right")) - 1
        return s, int(self.static.cum[s]) + offset, int(self.static.freq[s])


# ----------------------------------------------------------------------------- channels


class _EncodeChannel:
    def __init__(self) -> None:
        self.coder = ArithmeticEncoder()

    decoding = False

    def code(self, dist, symbol: int | None) -> int:  # type: ignore[no-untyped-def]
        assert symbol is not None
        return self.coder.encode(dist, symbol)


class _DecodeChannel:
    def __init__(self, data: bytes) -> None:
        self.coder = ArithmeticDecoder(data)

    decoding = True

    def code(self, dist, symbol: int | None) -> int:  # type: ignore[no-untyped-def]
        return self.coder.decode(dist)


# ----------------------------------------------------------------------------- session


def _case_class(word: str) -> int:
    if word.islower():
        return CASE_LOWER
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return CASE_TITLE
    if word.isupper():
        return CASE_UPPER
    return CASE_MIXED


def _ends_sentence(sep: str) -> bool:
    s = sep.rstrip(" ")
    return s.endswith((".", "!", "?")) or "\n" in sep


class _Session:
    """The adaptive state of one encode or decode; the same code path serves both."""

    def __init__(self, params: CoderParams, channel: _EncodeChannel | _DecodeChannel) -> None:
        self.p = params
        self.ch = channel
        self.static = _static_words(params)
        w, inc = params.prior_weight, params.adapt_inc
        self.sep = [_Categorical(_sep_init(k, c, w)) for k, c in enumerate(params.sep_prior)]
        self.case = [_Categorical([c * w + 1 for c in counts]) for counts in params.case_prior]
        self.upper_flag = _Categorical([4, 1])
        self.letters = [_Categorical(row) for row in self.static.letter_freqs]
        self.bytes_first = _Categorical(_byte_init(first=True))
        self.bytes_next = _Categorical(_byte_init(first=False))
        self.cache: dict[str, list[int]] = {}  # word -> [symbol, count]
        self.cache_only: list[str] = []
        self.inc = inc
        self.bigrams = _bigram_table(params)
        self.prev = ""

    # -- structure

    def code_semantics(self, sem: Semantics | None) -> Semantics:
        n_dist = _Categorical([1, 2, 4, 64, 4, 2, 1, 1, 1])
        n = self.ch.code(n_dist, None if sem is None else len(sem.objects))
        objects = []
        for i in range(n):
            obj = None if sem is None else sem.objects[i]
            name = self.code_field(NAME, None if obj is None else obj.name)
            detail = self.code_field(DETAIL, None if obj is None else obj.detail)
            objects.append(SemanticObject(name, detail))
        desc = self.code_field(DESCRIPTION, None if sem is None else sem.description)
        out = Semantics(tuple(objects), desc)
        check = self.ch.code(_Categorical([1] * 256), None if sem is None else _check_symbol(out))
        if check != _check_symbol(out):
            raise BitstreamError("semantics payload is corrupt or truncated (check byte mismatch)")
        return out

    def code_field(self, kind: int, text: str | None) -> str:
        if text is not None:
            parts = _SPLIT.split(text)
            seps, words = parts[0::2], parts[1::2]
        out: list[str] = []
        length = 0
        sentence_start = True
        i = 0
        while True:
            ctx = kind * 2 + (0 if i == 0 else 1)
            if text is not None:
                sep, end = self.code_sep(ctx, seps[i], i == len(words))
            else:
                sep, end = self.code_sep(ctx, None, None)
            out.append(sep)
            length += len(sep)
            if i > 0 and _ends_sentence(sep):
                sentence_start = True
            if end:
                break
            if i == 0:
                self.prev = _FIELD_TAGS[kind]
            elif sentence_start:
                self.prev = _SENTENCE_TAG
            word = self.code_word(kind * 2 + int(sentence_start), None if text is None else words[i])
            out.append(word)
            length += len(word)
            if length > MAX_FIELD_CHARS:
                raise BitstreamError(f"semantics payload is corrupt (a field exceeds {MAX_FIELD_CHARS} characters)")
            sentence_start = False
            i += 1
        return "".join(out)

    # -- separators

    def code_sep(self, ctx: int, sep: str | None, end: bool | None) -> tuple[str, bool]:
        model = self.sep[ctx]
        if sep is not None:
            k = _SEP_INDEX.get(sep)
            symbol = _SEP_ESCAPE + int(bool(end)) if k is None else 2 * k + int(bool(end))
        else:
            symbol = None
        symbol = self.ch.code(model, symbol)
        model.bump(symbol, self.inc)
        end_flag = bool(symbol & 1)
        if symbol >= _SEP_ESCAPE:
            sep = self.code_bytes(sep)
            if not sep or _SPLIT.search(sep) or sep in _SEP_INDEX:
                raise BitstreamError("semantics payload is corrupt (bad escaped separator)")
            return sep, end_flag
        return SEPARATORS[symbol >> 1], end_flag

    def code_bytes(self, text: str | None) -> str:
        raw = None if text is None else text.encode("utf-8", "surrogatepass")  # lone surrogates too
        out = bytearray()
        i = 0
        while True:
            model = self.bytes_first if i == 0 else self.bytes_next
            sym = None if raw is None else (raw[i] if i < len(raw) else _BYTE_END)
            sym = self.ch.code(model, sym)
            if sym == _BYTE_END:
                break
            model.bump(sym, self.inc)
            out.append(sym)
            i += 1
            if i > 4 * MAX_FIELD_CHARS:
                raise BitstreamError("semantics payload is corrupt (escaped text too long)")
        try:
            return out.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise BitstreamError("semantics payload is corrupt (invalid UTF-8 in escaped text)") from None

    # -- words

    def code_word(self, case_ctx: int, word: str | None) -> str:
        lower = self.code_lower(None if word is None else word.lower())
        cls = self.ch.code(self.case[case_ctx], None if word is None else _case_class(word))
        self.case[case_ctx].bump(cls, self.inc)
        if cls == CASE_LOWER:
            return lower
        if cls == CASE_TITLE:
            return lower[0].upper() + lower[1:]
        if cls == CASE_UPPER:
            return lower.upper()
        letters = []
        for j, c in enumerate(lower):
            flag = self.ch.code(self.upper_flag, None if word is None else int(word[j].isupper()))
            self.upper_flag.bump(flag, 1)
            letters.append(c.upper() if flag else c)
        return "".join(letters)

    def _word_distribution(self) -> _WordDistribution:
        total = self.static.total
        bonus: dict[int, int] = {}
        for sym, count in self.cache.values():
            bonus[sym] = total * (self.p.cache_q16 + self.p.cache_rep_q16 * (count - 1)) // _Q16
        successors = self.bigrams.get(self.prev)
        if successors:
            scale = _Q16 * (len(successors) + self.p.bigram_distinct_add) if self.p.bigram_wb else _Q16
            for sym, count in successors.items():
                bonus[sym] = bonus.get(sym, 0) + total * self.p.bigram_q16 * count // scale
        return _WordDistribution(self.static, sorted(bonus.items()))

    def code_lower(self, word: str | None) -> str:
        dist = self._word_distribution()
        esc = self.static.escape
        symbol = None
        if word is not None:
            entry = self.cache.get(word)
            symbol = entry[0] if entry else self.static.index.get(word, esc)
        symbol = self.ch.code(dist, symbol)
        if symbol == esc:
            word = self.spell(word)
            if word in self.static.index or word in self.cache:
                raise BitstreamError("semantics payload is corrupt (spelled a known word)")
        elif symbol < esc:
            word = self.static.words[symbol]
        else:
            word = self.cache_only[symbol - esc - 1]
        entry = self.cache.get(word)
        if entry:
            entry[1] += 1
        else:
            if symbol == esc:
                self.cache_only.append(word)
                symbol = esc + len(self.cache_only)
            self.cache[word] = [symbol, 1]
        if self.p.bigram_doc:
            succ = self.bigrams.setdefault(self.prev, {})
            succ[symbol] = succ.get(symbol, 0) + self.p.bigram_doc
        self.prev = word
        return word

    def spell(self, word: str | None) -> str:
        prev = _END_LETTER
        out = []
        for j in range(MAX_FIELD_CHARS + 1):
            sym = None if word is None else (ord(word[j]) - 97 if j < len(word) else _END_LETTER)
            sym = self.ch.code(self.letters[prev], sym)
            if sym == _END_LETTER:
                return "".join(out)
            out.append(_LETTERS[sym])
            prev = sym
        raise BitstreamError("semantics payload is corrupt (spelled word too long)")


def _check_symbol(sem: Semantics) -> int:
    """8-bit hash of the content, coded last at a cost of exactly 8 bits.

    Why: a good arithmetic code has no redundancy, so nearly every prefix or bit-flipped
    payload decodes to *some* valid text; only a check value lets a truncated or corrupted
    payload be rejected (missed with probability 1/256) without the container's help.
    """
    h = hashlib.blake2b(digest_size=1)
    for text in [t for o in sem.objects for t in (o.name, o.detail)] + [sem.description]:
        raw = text.encode("utf-8", "surrogatepass")
        h.update(len(raw).to_bytes(4, "big") + raw)
    return h.digest()[0]


def _bigram_table(params: CoderParams) -> dict[str, dict[int, int]]:
    """Successor counts by previous word, with successors as word-model symbols."""
    static = _static_words(params)
    table: dict[str, dict[int, int]] = {}
    for prev, word, count in params.bigrams:
        sym = static.index.get(word)
        if sym is not None:
            table.setdefault(prev, {})[sym] = count
    return table


def _sep_init(ctx: int, counts: Sequence[int], weight: int) -> list[int]:
    freqs = [c * weight + 1 for c in counts]
    if ctx % 2 == 1:
        freqs[0] = 0  # an empty separator between two words cannot occur
    return freqs


def _byte_init(first: bool) -> list[int]:
    freqs = []
    for b in range(257):
        if b == _BYTE_END:
            freqs.append(0 if first else 16)
        elif 65 <= b <= 90 or 97 <= b <= 122:
            freqs.append(0)  # ASCII letters are never part of a separator
        elif 32 <= b < 127 or b == 10:
            freqs.append(8)
        else:
            freqs.append(1)
    return freqs


# ----------------------------------------------------------------------------- prior fitting


def count_prior(samples: Sequence[Semantics]) -> tuple:
    """Counts for :class:`CoderParams`: (domain words, bigrams, separator counts, case counts)."""
    words: dict[str, int] = {}
    bigrams: dict[tuple[str, str], int] = {}
    sep = [[0] * _N_SEP_SYMBOLS for _ in range(6)]
    case = [[0] * 4 for _ in range(6)]
    for sem in samples:
        fields = [(k, t) for o in sem.objects for k, t in ((NAME, o.name), (DETAIL, o.detail))]
        fields.append((DESCRIPTION, sem.description))
        for kind, text in fields:
            parts = _SPLIT.split(text)
            seps, ws = parts[0::2], parts[1::2]
            sentence_start = True
            for i, s in enumerate(seps):
                end = i == len(ws)
                k = _SEP_INDEX.get(s)
                sym = _SEP_ESCAPE + int(end) if k is None else 2 * k + int(end)
                sep[kind * 2 + (0 if i == 0 else 1)][sym] += 1
                if i > 0 and _ends_sentence(s):
                    sentence_start = True
                if end:
                    break
                w = ws[i]
                case[kind * 2 + int(sentence_start)][_case_class(w)] += 1
                words[w.lower()] = words.get(w.lower(), 0) + 1
                if i == 0:
                    prev = _FIELD_TAGS[kind]
                elif sentence_start:
                    prev = _SENTENCE_TAG
                bigrams[(prev, w.lower())] = bigrams.get((prev, w.lower()), 0) + 1
                prev = w.lower()
                sentence_start = False
    return (
        tuple(sorted(words.items())),
        tuple(sorted((a, b, c) for (a, b), c in bigrams.items())),
        tuple(tuple(r) for r in sep),
        tuple(tuple(r) for r in case),
    )


# ----------------------------------------------------------------------------- public API


def _check_encodable(sem: Semantics) -> None:
    if len(sem.objects) > MAX_OBJECTS:
        raise InputError(f"semantics: at most {MAX_OBJECTS} objects, got {len(sem.objects)}")
    for text in [sem.description] + [t for o in sem.objects for t in (o.name, o.detail)]:
        if not isinstance(text, str):
            raise InputError("semantics: every field must be a string")
        if len(text) > MAX_FIELD_CHARS:
            raise InputError(f"semantics: a field is longer than {MAX_FIELD_CHARS} characters")


def encode_with(sem: Semantics, params: CoderParams, model_id: int = MODEL_ID) -> bytes:
    """Encode under explicit parameters (experiments and tests; use :func:`encode_semantics`)."""
    _check_encodable(sem)
    if sem.is_empty():
        return b""
    channel = _EncodeChannel()
    _Session(params, channel).code_semantics(sem)
    return bytes([model_id]) + channel.coder.finish()


def decode_with(data: bytes, params: CoderParams, model_id: int = MODEL_ID) -> Semantics:
    """Decode under explicit parameters; the inverse of :func:`encode_with`."""
    if not data:
        return Semantics()
    if data[0] != model_id:
        raise BitstreamError(f"semantics payload uses unknown text model id {data[0]}")
    channel = _DecodeChannel(data[1:])
    try:
        sem = _Session(params, channel).code_semantics(None)
    except (IndexError, _Unencodable):
        raise BitstreamError("semantics payload is corrupt (impossible symbol)") from None
    if encode_with(sem, params, model_id) != data:
        raise BitstreamError("semantics payload is corrupt or truncated (does not re-encode to itself)")
    return sem


def default_params() -> CoderParams:
    """The frozen parameters of :data:`MODEL_ID` (priors fitted on the train split)."""
    from ._textprior import PARAMS

    return PARAMS


def encode_semantics(sem: Semantics) -> bytes:
    """Payload bytes for ``sem`` (``b""`` when it is empty)."""
    return encode_with(sem, default_params())


def decode_semantics(data: bytes) -> Semantics:
    """Exact inverse of :func:`encode_semantics`; :class:`BitstreamError` on bad data."""
    return decode_with(data, default_params())
