"""What defines a text model: fitted counts and hyper-parameters (no defaults, one source).

The values of each frozen model live in exactly one place, its generated module
(model 1: :mod:`._textprior`); scripts/measure_textcoder.py --write-prior refits the counts
and writes back the hyper-parameters it read from there.
"""

from __future__ import annotations

from dataclasses import dataclass

Q16 = 1 << 16
"""Rates below are integers in parts of 2**16, so that no float arithmetic enters a model."""


@dataclass(frozen=True)
class CoderParams:
    """Counts from the *training* descriptions and hyper-parameters tuned by leave-one-out on them."""

    vocab_limit: int  # most frequent wordfreq words kept
    vocab_fingerprint: str  # of the word list; "" skips the check (only for experiments)
    domain_words: tuple[tuple[str, int], ...]  # (word, count), sorted by word
    sep_prior: tuple[tuple[int, ...], ...]  # [separator context][separator symbol]
    case_prior: tuple[tuple[int, ...], ...]  # [case context][case class]
    bigrams: tuple[tuple[str, str, int], ...]  # (previous word or context tag, word, count)
    domain_q16: int  # domain unigram mass relative to the wordfreq mass
    esc_q16: int  # escape (spell the word) mass relative to the wordfreq mass
    cache_q16: int  # bonus of a word already seen in this semantics, relative to the static total
    cache_rep_q16: int  # extra bonus per further repetition
    prior_weight: int  # weight of the fitted separator / case counts against the adaptive ones
    adapt_inc: int  # adaptive count increment of the small models
    bigram_q16: int  # bigram mass relative to the static total, per unit of count / distinct
    bigram_doc: int  # count added for each bigram seen in this semantics (adaptive)
    bigram_wb: int  # 1: Witten-Bell style, bonus divided by the number of distinct successors
    bigram_distinct_add: int  # added to that number of distinct successors

    @staticmethod
    def hyper_names() -> tuple[str, ...]:
        """The hand-set fields (everything that is not a fitted count or the word list)."""
        return (
            "domain_q16", "esc_q16", "cache_q16", "cache_rep_q16", "prior_weight", "adapt_inc",
            "bigram_q16", "bigram_doc", "bigram_wb", "bigram_distinct_add",
        )
