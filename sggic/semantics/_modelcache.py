"""An on-disk cache of the text model's static part, so that a decode does not rebuild it.

Building the static word model (wordfreq's ~289k words, the domain words merged in, the
Fenwick tree, the letter model, the fitted bigram table) takes ~0.2 s of pure Python,
a fifth of a fresh-process 512x512 decode. Everything in it is a function of the model's
parameters and the installed wordfreq data file, so the first build is written to
``<cache dir>/textmodel-<key>.npz`` and later processes read it back (~0.03 s).

* Cache dir: ``$SGGIC_CACHE_DIR`` if set (an empty value turns the cache off), else
  ``$XDG_CACHE_HOME/sggic``, else ``~/.cache/sggic``. Nothing is written anywhere else;
  an unwritable dir only costs the rebuild. At most ``KEEP_FILES`` model files (~8 MB
  each) are kept: writing one deletes the oldest beyond that.
* Key: sha256 of the cache format, the parameters (their ``repr``: ints and strings), the
  wordfreq data file's path, size and modification time, and the source of the modules
  that build the model. Another wordfreq install, another model or another sggic gets
  another file.
* The word -> symbol index is stored as a sorted array and searched (:class:`SortedIndex`).
* Safety: plain arrays in an ``.npz`` read with ``allow_pickle=False``. A file that does
  not parse, or whose arrays do not fit together, is ignored and rebuilt; the word list's
  fingerprint is stored and checked like a freshly built one.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2
SEP = "\0"  # between words in the stored lists (no word or context tag contains it)


def cache_dir() -> Path | None:
    """Where the cache lives, or None when ``SGGIC_CACHE_DIR`` is set empty (cache off)."""
    env = os.environ.get("SGGIC_CACHE_DIR")
    if env is not None:
        return Path(env) if env.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "sggic"
    try:
        return Path.home() / ".cache" / "sggic"
    except (RuntimeError, KeyError):  # no home directory to be found: no cache
        return None


# The modules whose code builds what is cached: any edit to them is another key, so a
# changed constant (e.g. the Fenwick tree's reserved symbols) never meets a stale file.
_BUILDERS = ("_wordmodel.py", "_vocab.py", "_modelcache.py")


def cache_key(params: Any, data_file: Path) -> str | None:
    """The cache file's key, or None where it cannot be made (then nothing is cached)."""
    try:
        return _key(params, data_file)
    except OSError:  # e.g. sggic's sources are not plain files (a zip) or the data file vanished
        return None


def _key(params: Any, data_file: Path) -> str:
    st = data_file.stat()
    h = hashlib.sha256(f"textmodel {FORMAT}\n{data_file.resolve()}\n{st.st_size}\n{st.st_mtime_ns}\n".encode())
    h.update(repr(params).encode("utf-8"))
    here = Path(__file__).resolve().parent
    for name in _BUILDERS:
        h.update(hashlib.sha256((here / name).read_bytes()).digest())
    return h.hexdigest()[:32]


def _path(key: str) -> Path | None:
    d = cache_dir()
    return None if d is None else d / f"textmodel-{key}.npz"


def load(key: str | None) -> dict[str, Any] | None:
    """The cached parts for ``key``, or None (missing, off, or not a valid cache file)."""
    p = _path(key) if key is not None else None
    if p is None or not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            words = bytes(z["words"]).decode("utf-8").split(SEP)
            freq, tree, letters = z["freq"], z["tree"], z["letters"]
            prev = bytes(z["bigram_prev"]).decode("utf-8").split(SEP) if z["bigram_prev"].size else []
            rows = z["bigrams"]
            fingerprint = str(z["fingerprint"])
            order = z["order"]
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile, EOFError):
        return None
    if (freq.ndim != 1 or len(freq) != len(words) + 1 or tree.ndim != 1 or letters.shape != (27, 27)
            or rows.ndim != 2 or rows.shape[1] != 3
            or (len(rows) and not (0 <= rows[:, 0].min() and rows[:, 0].max() < len(prev)
                                   and 0 <= rows[:, 1].min() and rows[:, 1].max() < len(words)))
            or order.shape != (len(words),) or order.dtype != np.int32
            or (len(order) and not 0 <= int(order.min()) <= int(order.max()) < len(words))):
        return None
    return {"words": words, "freq": freq.tolist(), "tree": [0, *tree[1:].tolist()],
            "letters": tuple(tuple(int(x) for x in row) for row in letters.tolist()),
            "bigrams": [(prev[i], s, c) for i, s, c in rows.tolist()], "fingerprint": fingerprint,
            "order": order}


def save(key: str | None, words: tuple[str, ...], freq: list[int], tree: list[int],
         letters: tuple[tuple[int, ...], ...], bigrams: list[tuple[str, int, int]], fingerprint: str) -> None:
    """Write the cache file atomically; any OS error (read-only home, full disk) is ignored."""
    p = _path(key) if key is not None else None
    if p is None or len(set(words)) != len(words) or any(SEP in w for w in words) or any(SEP in b[0] for b in bigrams):
        return
    # the word -> symbol index as the symbols in word order (binary search, SortedIndex): a
    # 1 MB array that loads in a millisecond, where a dict of all words takes ~40 ms to build
    order = sorted(range(len(words)), key=words.__getitem__)
    prevs = sorted({b[0] for b in bigrams})
    pid = {w: i for i, w in enumerate(prevs)}
    rows = np.array([(pid[a], s, c) for a, s, c in bigrams], dtype=np.int64).reshape(-1, 3)
    tmp = p.with_name(f"{p.name}.tmp{os.getpid()}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), fingerprint=np.array(fingerprint),
                     words=np.frombuffer(SEP.join(words).encode("utf-8"), dtype=np.uint8),
                     freq=np.asarray(freq, dtype=np.int64), tree=np.asarray(tree, dtype=np.int64),
                     letters=np.asarray(letters, dtype=np.int64),
                     bigram_prev=np.frombuffer(SEP.join(prevs).encode("utf-8"), dtype=np.uint8), bigrams=rows,
                     order=np.asarray(order, dtype=np.int32))
        os.replace(tmp, p)
        _prune(p.parent, keep=p)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


KEEP_FILES = 4  # text models kept in the cache dir (several sggic versions or models in use)


def _prune(folder: Path, keep: Path) -> None:
    """Delete all but the ``KEEP_FILES`` most recently written model files (``keep`` stays)."""
    files = sorted(folder.glob("textmodel-*.npz"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for f in [f for f in files if f != keep][KEEP_FILES - 1:]:
        try:
            f.unlink()
        except OSError:
            pass


class SortedIndex:
    """word -> symbol by binary search over the words in sorted order (``order[i]`` is the
    symbol of the i-th smallest word): the two lookups the coder makes (``get`` and ``in``)
    without building a dict of every word."""

    def __init__(self, words: tuple[str, ...], order: np.ndarray) -> None:
        self._words, self._order = words, order

    def get(self, word: str, default: int | None = None) -> int | None:
        words, order = self._words, self._order
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            if words[order[mid]] < word:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(order) and words[order[lo]] == word:
            return int(order[lo])
        return default

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None
