"""The tokenizer of the text coder: how a field becomes separators and words, and in which contexts.

One tokenizer serves both the coder (:mod:`._coder`) and the prior counting
(:mod:`._fit`), so the counts a model is fitted on are exactly the events it codes.

A field ``text`` splits into ``sep0 word1 sep1 ... wordN sepN`` (``re.split("([A-Za-z]+)")``).
A separator is one symbol of the inventory :data:`SEPARATORS` joined with a flag "the field
ends here"; anything outside the inventory is the escape symbol (its UTF-8 bytes follow). A
word is coded lower-cased in the context of the previous word (or a field / sentence tag),
then its case pattern in the context field kind x sentence start. :class:`FieldCursor` holds
these context rules. Everything here is part of text model 1: changing it changes the bits.
"""

from __future__ import annotations

import re

FIELD_KINDS = ("name", "detail", "description")
NAME, DETAIL, DESCRIPTION = 0, 1, 2
KIND_INDEX = {k: i for i, k in enumerate(FIELD_KINDS)}

SEPARATORS: tuple[str, ...] = (
    "", " ", ", ", ". ", "-", ".", ",", "'", "; ", ": ", "!", "?", "! ", "? ",
    " (", ") ", ")", " - ", "/", "\n", " & ", "...", ":", ".\n",
)
"""Separator inventory. Symbol = 2 * index + (1 if the field ends); two escape symbols follow."""

N_SEP_SYMBOLS = 2 * len(SEPARATORS) + 2
SEP_ESCAPE = 2 * len(SEPARATORS)
_SEP_INDEX = {s: i for i, s in enumerate(SEPARATORS)}
N_SEP_CONTEXTS = 2 * len(FIELD_KINDS)  # kind x (field start, later)
N_CASE_CONTEXTS = 2 * len(FIELD_KINDS)  # kind x (inside a sentence, sentence start)

CASE_LOWER, CASE_TITLE, CASE_UPPER, CASE_MIXED = range(4)
N_CASES = 4

FIELD_TAGS = ("<name>", "<detail>", "<description>")
SENTENCE_TAG = "<s>"

_SPLIT = re.compile(r"([A-Za-z]+)")


def split_field(text: str) -> tuple[list[str], list[str]]:
    """(separators, words) with ``len(separators) == len(words) + 1``."""
    parts = _SPLIT.split(text)
    return parts[0::2], parts[1::2]


def has_letter(text: str) -> bool:
    """True if ``text`` holds an ASCII letter (then it cannot be a separator)."""
    return _SPLIT.search(text) is not None


def sep_symbol(sep: str, end: bool) -> int:
    """Separator symbol of ``sep`` (escape if outside the inventory) with the end flag."""
    k = _SEP_INDEX.get(sep)
    return SEP_ESCAPE + int(end) if k is None else 2 * k + int(end)


def is_inventory_sep(sep: str) -> bool:
    return sep in _SEP_INDEX


def case_class(word: str) -> int:
    if word.islower():
        return CASE_LOWER
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return CASE_TITLE
    if word.isupper():
        return CASE_UPPER
    return CASE_MIXED


def apply_case(lower: str, cls: int) -> str:
    """The word for a non-mixed case class (mixed case is coded letter by letter)."""
    if cls == CASE_LOWER:
        return lower
    if cls == CASE_TITLE:
        return lower[0].upper() + lower[1:]
    if cls == CASE_UPPER:
        return lower.upper()
    raise ValueError("mixed case is coded per letter")


def _ends_sentence(sep: str) -> bool:
    s = sep.rstrip(" ")
    return s.endswith((".", "!", "?")) or "\n" in sep


class FieldCursor:
    """Position inside one field and the contexts that follow from it.

    Walk: ``sep_context`` -> code a separator -> ``after_sep(sep)``; unless the field ended,
    ``word_contexts()`` -> code a word -> ``after_word()``; repeat.
    """

    __slots__ = ("kind", "index", "sentence_start")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.index = 0  # words coded so far
        self.sentence_start = True

    @property
    def sep_context(self) -> int:
        return self.kind * 2 + (0 if self.index == 0 else 1)

    def after_sep(self, sep: str) -> None:
        if self.index > 0 and _ends_sentence(sep):
            self.sentence_start = True

    def word_contexts(self) -> tuple[int, str | None]:
        """(case context, tag that replaces the previous word or None to keep it)."""
        if self.index == 0:
            tag: str | None = FIELD_TAGS[self.kind]
        elif self.sentence_start:
            tag = SENTENCE_TAG
        else:
            tag = None
        return self.kind * 2 + int(self.sentence_start), tag

    def after_word(self) -> None:
        self.sentence_start = False
        self.index += 1
