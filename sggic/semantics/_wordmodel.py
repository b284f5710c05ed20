"""The word model: one distribution over ~289k words, updated incrementally.

Static part (built once per parameter set): wordfreq's English list plus a domain unigram
fitted on the train descriptions, then an escape symbol (spell an unknown word letter by
letter under a letter-bigram model, also here). Adaptive part, additive and one interval
per word: a cache bonus for every word already seen in this semantics (words spelled earlier
get symbols after the escape) and a bigram bonus for the successors of the previous word.

Cost: static and cache frequencies live in a Fenwick tree (point update, prefix sum and
search in O(log V)), so a word costs O(log V + s), s = number of distinct successors of the
previous word (bounded by the words of one semantics), instead of a rebuild over every
cached word. The distribution is the same, integer for integer, as the per-word rebuild of
text model 1's first implementation, so its payloads are unchanged.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Protocol, Sequence

import numpy as np

from ..errors import BackendUnavailable, BitstreamError
from ._params import Q16, CoderParams
from ._smallmodels import Unencodable
from ._vocab import english_words
from .schema import MAX_TOTAL_CHARS

END_LETTER = 26
"""Letter-model symbol that ends a spelled word (letters are 0-25)."""

CACHE_CAPACITY = MAX_TOTAL_CHARS + 64
"""Symbols reserved after the escape for spelled words (a word has at least one character)."""


class WordIndex(Protocol):
    """word -> symbol, the two lookups the coder makes."""

    def get(self, word: str, default: int | None = None, /) -> int | None: ...

    def __contains__(self, word: object, /) -> bool: ...


@dataclass(frozen=True, eq=False)
class StaticWords:
    """Static word distribution: words, then the escape symbol; and its Fenwick tree."""

    # Sequences: tuple and lists when built here; from the model cache, views of the file's
    # bytes (a lazily decoded word list, int64 memoryviews: indexing gives Python ints)
    words: Sequence[str]
    index: WordIndex  # word -> symbol: a dict when built here, a sorted-array index from the model cache
    freq: Sequence[int]  # len V + 1 (last = escape)
    total: int
    tree: Sequence[int]  # Fenwick tree over V + 1 + CACHE_CAPACITY symbols, index 0 unused
    letter_freqs: tuple[tuple[int, ...], ...]  # [previous letter or 26 = start][next or 26 = end]

    @property
    def escape(self) -> int:
        return len(self.words)


def _check_fingerprint(params: CoderParams, fingerprint: str) -> None:
    if params.vocab_fingerprint and fingerprint != params.vocab_fingerprint:
        raise BackendUnavailable(
            f"installed wordfreq data differs from the one the text model was built on "
            f"(fingerprint {fingerprint}, expected {params.vocab_fingerprint}); install wordfreq 3.1.1"
        )


def _build_static(params: CoderParams) -> tuple[StaticWords, str]:
    words_wf, freqs_wf, fingerprint = english_words(params.vocab_limit)
    _check_fingerprint(params, fingerprint)
    words = list(words_wf)
    freq = list(freqs_wf)
    index = dict(zip(words, range(len(words))))
    t_wf = sum(freqs_wf)
    d_total = sum(c for _, c in params.domain_words) or 1
    for w, c in params.domain_words:  # sorted by word: deterministic
        extra = t_wf * params.domain_q16 * c // (Q16 * d_total)
        if w in index:
            freq[index[w]] += extra
        elif extra > 0:
            index[w] = len(words)
            words.append(w)
            freq.append(extra)
    freq.append(max(1, t_wf * params.esc_q16 // Q16))  # escape: spell the word
    static = StaticWords(tuple(words), index, freq, sum(freq), _fenwick(freq, CACHE_CAPACITY), _letter_model(words_wf))
    return static, fingerprint


@lru_cache(maxsize=8)
def _static_parts(params: CoderParams) -> tuple[StaticWords, dict[str, tuple[dict[int, int], list[int]]]]:
    """The static model and the fitted bigram table, from the on-disk cache when it has them
    (:mod:`._modelcache`), else built (and cached)."""
    from . import _modelcache
    from ._vocab import wordfreq_data_file

    key = _modelcache.cache_key(params, wordfreq_data_file())
    hit = _modelcache.load(key)
    if hit is not None and len(hit["tree"]) != len(hit["freq"]) + CACHE_CAPACITY + 1:
        hit = None  # a tree for another capacity: rebuilt (and the file rewritten)
    if hit is not None:
        _check_fingerprint(params, hit["fingerprint"])
        words = hit["words"]
        static = StaticWords(words, _modelcache.SortedIndex(words, hit["order"]), hit["freq"], hit["total"],
                             hit["tree"], hit["letters"])
        rows = hit["bigrams"]
    else:
        static, fingerprint = _build_static(params)
        rows = []
        for prev, word, count in params.bigrams:
            sym = static.index.get(word)
            if sym is not None:
                rows.append((prev, sym, count))
        _modelcache.save(key, static.words, static.freq, static.tree, static.letter_freqs, rows, fingerprint)
    table: dict[str, dict[int, int]] = {}
    for prev, sym, count in rows:
        table.setdefault(prev, {})[sym] = count
    return static, {prev: (succ, sorted(succ)) for prev, succ in table.items()}


def static_words(params: CoderParams) -> StaticWords:
    return _static_parts(params)[0]


def _fenwick(freq: Sequence[int], extra: int) -> list[int]:
    """Fenwick tree of ``freq`` followed by ``extra`` zeros (node i sums (i - lowbit(i), i])."""
    n = len(freq) + extra
    if sum(freq) >= 1 << 62:  # int64 below; the word model's totals are ~2**41
        raise ValueError("static word frequencies too large")
    cum = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.asarray(freq, dtype=np.int64), out=cum[1 : len(freq) + 1])
    cum[len(freq) + 1 :] = cum[len(freq)]
    idx = np.arange(1, n + 1, dtype=np.int64)
    tree = cum[idx] - cum[idx - (idx & -idx)]
    return [0, *tree.tolist()]


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


def bigram_table(params: CoderParams) -> dict[str, tuple[dict[int, int], list[int]]]:
    """Fitted successor counts by previous word (successors as word-model symbols), each with
    its successors sorted. Shared: a session copies an entry before changing it."""
    return _static_parts(params)[1]


class WordModel:
    """The adaptive word distribution of one encode or decode.

    The Fenwick tree of the frequencies is the static tree (shared, never changed) plus a
    sparse tree of the cache bonuses (node-wise sum), so a session copies nothing large.
    """

    def __init__(self, params: CoderParams) -> None:
        self.static = static_words(params)
        self._base = self.static.tree
        self._delta: dict[int, int] = {}  # sparse Fenwick tree of the cache bonuses
        self._n = len(self._base) - 1
        self._top = 1 << (self._n.bit_length() - 1)
        self._fen_total = self.static.total
        self._cache_bonus: dict[int, int] = {}
        self.cache: dict[str, list[int]] = {}  # word -> [symbol, count]
        self.cache_only: list[str] = []  # spelled words, symbols escape + 1, + 2, ...
        self._fitted = bigram_table(params)
        self._succ: dict[str, tuple[dict[int, int], list[int]]] = {}  # this session's copies
        self.prev = ""
        t = self.static.total
        self._cache_q = (t, params.cache_q16, params.cache_rep_q16)
        self._bigram_k = t * params.bigram_q16
        self._bigram_wb = params.bigram_wb
        self._bigram_add = params.bigram_distinct_add
        self._bigram_doc = params.bigram_doc

    # -- Fenwick tree over static + cache frequencies

    def _add(self, i: int, delta: int) -> None:
        tree, n = self._delta, self._n
        i += 1
        while i <= n:
            tree[i] = tree.get(i, 0) + delta
            i += i & -i

    def _prefix(self, i: int) -> int:
        """Sum of the frequencies of symbols 0 .. i - 1."""
        base, delta = self._base, self._delta
        s = 0
        while i > 0:
            s += base[i] + delta.get(i, 0)
            i &= i - 1
        return s

    def _find(self, t: int) -> tuple[int, int]:
        """(symbol, its cumulative start) with start <= t < start + frequency."""
        base, delta, n = self._base, self._delta, self._n
        pos, rem, step = 0, t, self._top
        while step:
            nxt = pos + step
            if nxt <= n:
                v = base[nxt] + delta.get(nxt, 0)
                if v <= rem:
                    pos = nxt
                    rem -= v
            step >>= 1
        if pos >= n:
            raise Unencodable(pos)
        return pos, t - rem

    def _base_freq(self, s: int) -> int:
        freq = self.static.freq
        return (freq[s] if s < len(freq) else 0) + self._cache_bonus.get(s, 0)

    # -- one step

    def _successors(self, prev: str) -> tuple[dict[int, int], list[int]] | None:
        entry = self._succ.get(prev)
        return entry if entry is not None else self._fitted.get(prev)

    def distribution(self) -> "_StepDistribution":
        """The distribution of the next word, given the cache and the previous word."""
        entry = self._successors(self.prev)
        if not entry or not entry[0]:
            return _StepDistribution(self, [], [], [0])
        succ, syms = entry
        scale = Q16 * (len(succ) + self._bigram_add) if self._bigram_wb else Q16
        k = self._bigram_k
        bonus = [k * succ[s] // scale for s in syms]
        return _StepDistribution(self, syms, bonus, [0, *accumulate(bonus)])

    def symbol_of(self, word: str) -> int:
        """Symbol to code the lower-case ``word`` with (the escape if it must be spelled)."""
        entry = self.cache.get(word)
        if entry:
            return entry[0]
        symbol = self.static.index.get(word, self.static.escape)
        assert symbol is not None
        return symbol

    def word_of(self, symbol: int) -> str | None:
        """The word of a decoded symbol; None for the escape (the word is spelled next)."""
        esc = self.static.escape
        if symbol < esc:
            return self.static.words[symbol]
        if symbol == esc:
            return None
        return self.cache_only[symbol - esc - 1]

    def is_known(self, word: str) -> bool:
        return word in self.static.index or word in self.cache

    def observe(self, word: str, symbol: int) -> None:
        """Update cache and bigrams after ``word`` was coded with ``symbol``."""
        t, cq, crq = self._cache_q
        entry = self.cache.get(word)
        if entry:
            symbol = entry[0]
            delta = t * (cq + crq * entry[1]) // Q16 - t * (cq + crq * (entry[1] - 1)) // Q16
            entry[1] += 1
        else:
            if symbol == self.static.escape:
                if len(self.cache_only) >= CACHE_CAPACITY:
                    raise BitstreamError("semantics payload is corrupt (too many spelled words)")
                self.cache_only.append(word)
                symbol = self.static.escape + len(self.cache_only)
            self.cache[word] = [symbol, 1]
            delta = t * cq // Q16
        if delta:
            self._add(symbol, delta)
            self._cache_bonus[symbol] = self._cache_bonus.get(symbol, 0) + delta
            self._fen_total += delta
        if self._bigram_doc:
            own = self._succ.get(self.prev)
            if own is None:
                fitted = self._fitted.get(self.prev)
                own = self._succ[self.prev] = (dict(fitted[0]), list(fitted[1])) if fitted else ({}, [])
            succ, syms = own
            if symbol not in succ:
                bisect.insort(syms, symbol)
            succ[symbol] = succ.get(symbol, 0) + self._bigram_doc
        self.prev = word


class _StepDistribution:
    """Fenwick (static + cache) plus this step's bigram bonuses at sorted symbols ``syms``."""

    __slots__ = ("_m", "_syms", "_bonus", "_pre", "total")

    def __init__(self, model: WordModel, syms: list[int], bonus: list[int], pre: list[int]) -> None:
        self._m = model
        self._syms = syms
        self._bonus = bonus
        self._pre = pre
        self.total = model._fen_total + pre[-1]

    def interval(self, symbol: int) -> tuple[int, int]:
        m = self._m
        if not 0 <= symbol < m._n:
            raise Unencodable(symbol)
        j = bisect.bisect_left(self._syms, symbol)
        own = self._bonus[j] if j < len(self._syms) and self._syms[j] == symbol else 0
        freq = m._base_freq(symbol) + own
        if freq <= 0:
            raise Unencodable(symbol)
        return m._prefix(symbol) + self._pre[j], freq

    def lookup(self, target: int) -> tuple[int, int, int]:
        m, syms, pre = self._m, self._syms, self._pre
        lo, hi = 0, len(syms)  # last successor whose interval starts at or before target
        while lo < hi:
            mid = (lo + hi) // 2
            if m._prefix(syms[mid]) + pre[mid] <= target:
                lo = mid + 1
            else:
                hi = mid
        j = lo - 1
        if j >= 0:
            s = syms[j]
            start = m._prefix(s) + pre[j]
            freq = m._base_freq(s) + self._bonus[j]
            if target < start + freq:
                return s, start, freq
        offset = pre[j + 1]  # target lies between two successors: bigram part is constant there
        s, start = m._find(target - offset)
        return s, start + offset, m._base_freq(s)
