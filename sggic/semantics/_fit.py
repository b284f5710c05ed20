"""Fitting a text model's counts on training semantics (used by scripts/measure_textcoder.py).

The events counted are produced by the coder's own tokenizer (:mod:`._tokens`), so the
priors describe exactly what the coder codes.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from . import _tokens as tk
from ._params import CoderParams
from .schema import Semantics


def count_prior(samples: Sequence[Semantics]) -> dict[str, tuple]:
    """The fitted fields of :class:`CoderParams`: domain_words, bigrams, sep_prior, case_prior."""
    words: dict[str, int] = {}
    bigrams: dict[tuple[str, str], int] = {}
    sep = [[0] * tk.N_SEP_SYMBOLS for _ in range(tk.N_SEP_CONTEXTS)]
    case = [[0] * tk.N_CASES for _ in range(tk.N_CASE_CONTEXTS)]
    for sem in samples:
        for kind_name, text in sem.fields():
            seps, ws = tk.split_field(text)
            cur = tk.FieldCursor(tk.KIND_INDEX[kind_name])
            prev = ""
            while True:
                i = cur.index
                end = i == len(ws)
                sep[cur.sep_context][tk.sep_symbol(seps[i], end)] += 1
                cur.after_sep(seps[i])
                if end:
                    break
                case_ctx, tag = cur.word_contexts()
                if tag is not None:
                    prev = tag
                w = ws[i].lower()
                case[case_ctx][tk.case_class(ws[i])] += 1
                words[w] = words.get(w, 0) + 1
                bigrams[(prev, w)] = bigrams.get((prev, w), 0) + 1
                prev = w
                cur.after_word()
    return {
        "domain_words": tuple(sorted(words.items())),
        "bigrams": tuple(sorted((a, b, c) for (a, b), c in bigrams.items())),
        "sep_prior": tuple(tuple(r) for r in sep),
        "case_prior": tuple(tuple(r) for r in case),
    }


def refit(params: CoderParams, samples: Sequence[Semantics], **changes: object) -> CoderParams:
    """``params`` with its counts refitted on ``samples`` (and any other field changed)."""
    return dataclasses.replace(params, **count_prior(samples), **changes)  # type: ignore[arg-type]
