"""The coding loop: one code path walks a semantics for the encoder and the decoder alike.

A :class:`Session` holds the adaptive state (small models, word model) and a channel: the
encoding channel codes the symbol it is given, the decoding channel returns the symbol it
reads. Every call therefore runs the same model updates on both sides. Work is bounded by
the schema's limits: a field stops (:class:`BitstreamError`) as soon as it would exceed its
limit, and spelled words and escaped bytes are capped by what is left of that limit.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import BitstreamError
from . import _tokens as tk
from ._arith import ArithmeticDecoder, ArithmeticEncoder, Distribution
from ._params import CoderParams
from ._smallmodels import BYTE_END, Categorical, byte_init, case_init, sep_init
from ._wordmodel import END_LETTER, WordModel
from .schema import FIELD_LIMITS, MAX_OBJECTS, SemanticObject, Semantics

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_OBJECT_COUNT_FREQS = (1, 2, 4, 64, 4, 2, 1, 1, 1)  # 0 .. MAX_OBJECTS objects
assert len(_OBJECT_COUNT_FREQS) == MAX_OBJECTS + 1


class Channel(Protocol):
    def code(self, dist: Distribution, symbol: int | None) -> int: ...


class EncodeChannel:
    def __init__(self) -> None:
        self.coder = ArithmeticEncoder()

    def code(self, dist: Distribution, symbol: int | None) -> int:
        assert symbol is not None
        return self.coder.encode(dist, symbol)


class DecodeChannel:
    def __init__(self, data: bytes) -> None:
        self.coder = ArithmeticDecoder(data)

    def code(self, dist: Distribution, symbol: int | None) -> int:
        return self.coder.decode(dist)


class Session:
    """The adaptive state of one encode or decode (``None`` arguments mean: decode it)."""

    def __init__(self, params: CoderParams, channel: Channel) -> None:
        self.ch = channel
        self.words = WordModel(params)
        w, self.inc = params.prior_weight, params.adapt_inc
        self.sep = [Categorical(sep_init(k, c, w)) for k, c in enumerate(params.sep_prior)]
        self.case = [Categorical(case_init(c, w)) for c in params.case_prior]
        self.upper_flag = Categorical([4, 1])
        self.letters = [Categorical(row) for row in self.words.static.letter_freqs]
        self.bytes_first = Categorical(byte_init(first=True))
        self.bytes_next = Categorical(byte_init(first=False))

    # -- structure

    def code_semantics(self, sem: Semantics | None) -> Semantics:
        n = self.ch.code(Categorical(_OBJECT_COUNT_FREQS), None if sem is None else len(sem.objects))
        objects = []
        for i in range(n):
            obj = None if sem is None else sem.objects[i]
            name = self.code_field(tk.NAME, None if obj is None else obj.name)
            detail = self.code_field(tk.DETAIL, None if obj is None else obj.detail)
            objects.append(SemanticObject(name, detail))
        desc = self.code_field(tk.DESCRIPTION, None if sem is None else sem.description)
        return Semantics(tuple(objects), desc)

    def code_field(self, kind: int, text: str | None) -> str:
        limit = FIELD_LIMITS[tk.FIELD_KINDS[kind]]
        seps, words = tk.split_field(text) if text is not None else ([], [])
        cur = tk.FieldCursor(kind)
        out: list[str] = []
        length = 0
        while True:
            i = cur.index
            if text is not None:
                sep, end = self.code_sep(cur.sep_context, seps[i], i == len(words), limit - length)
            else:
                sep, end = self.code_sep(cur.sep_context, None, None, limit - length)
            out.append(sep)
            length += len(sep)
            if length > limit:
                raise BitstreamError(f"semantics payload is corrupt (a {tk.FIELD_KINDS[kind]} exceeds {limit} characters)")
            cur.after_sep(sep)
            if end:
                return "".join(out)
            case_ctx, tag = cur.word_contexts()
            if tag is not None:
                self.words.prev = tag
            word = self.code_word(case_ctx, None if text is None else words[i], limit - length)
            out.append(word)
            length += len(word)
            if length > limit:
                raise BitstreamError(f"semantics payload is corrupt (a {tk.FIELD_KINDS[kind]} exceeds {limit} characters)")
            cur.after_word()

    # -- separators

    def code_sep(self, ctx: int, sep: str | None, end: bool | None, budget: int) -> tuple[str, bool]:
        model = self.sep[ctx]
        symbol = self.ch.code(model, None if sep is None else tk.sep_symbol(sep, bool(end)))
        model.bump(symbol, self.inc)
        end_flag = bool(symbol & 1)
        if symbol >= tk.SEP_ESCAPE:
            sep = self.code_bytes(sep, budget)
            if not sep or tk.has_letter(sep) or tk.is_inventory_sep(sep):
                raise BitstreamError("semantics payload is corrupt (bad escaped separator)")
            return sep, end_flag
        return tk.SEPARATORS[symbol >> 1], end_flag

    def code_bytes(self, text: str | None, budget: int) -> str:
        """UTF-8 bytes of an escaped separator; at most 4 bytes per character of ``budget``."""
        raw = None if text is None else text.encode("utf-8", "surrogatepass")  # lone surrogates too
        out = bytearray()
        while True:
            i = len(out)
            model = self.bytes_first if i == 0 else self.bytes_next
            sym = self.ch.code(model, None if raw is None else (raw[i] if i < len(raw) else BYTE_END))
            if sym == BYTE_END:
                break
            model.bump(sym, self.inc)
            out.append(sym)
            if len(out) > 4 * budget:
                raise BitstreamError("semantics payload is corrupt (escaped text too long)")
        try:
            return out.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise BitstreamError("semantics payload is corrupt (invalid UTF-8 in escaped text)") from None

    # -- words

    def code_word(self, case_ctx: int, word: str | None, budget: int) -> str:
        lower = self.code_lower(None if word is None else word.lower(), budget)
        cls = self.ch.code(self.case[case_ctx], None if word is None else tk.case_class(word))
        self.case[case_ctx].bump(cls, self.inc)
        if cls != tk.CASE_MIXED:
            return tk.apply_case(lower, cls)
        letters = []
        for j, c in enumerate(lower):
            flag = self.ch.code(self.upper_flag, None if word is None else int(word[j].isupper()))
            self.upper_flag.bump(flag, 1)
            letters.append(c.upper() if flag else c)
        return "".join(letters)

    def code_lower(self, word: str | None, budget: int) -> str:
        model = self.words
        symbol = self.ch.code(model.distribution(), None if word is None else model.symbol_of(word))
        known = model.word_of(symbol)
        if known is None:
            word = self.spell(word, budget)
            if model.is_known(word):
                raise BitstreamError("semantics payload is corrupt (spelled a known word)")
        else:
            word = known
        model.observe(word, symbol)
        return word

    def spell(self, word: str | None, budget: int) -> str:
        prev = END_LETTER
        out: list[str] = []
        while True:
            j = len(out)
            sym = None if word is None else (ord(word[j]) - 97 if j < len(word) else END_LETTER)
            sym = self.ch.code(self.letters[prev], sym)
            if sym == END_LETTER:
                return "".join(out)
            out.append(_LETTERS[sym])
            if len(out) > budget:
                raise BitstreamError("semantics payload is corrupt (spelled word too long)")
            prev = sym
