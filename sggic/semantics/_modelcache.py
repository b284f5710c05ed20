"""An on-disk cache of the text model's static part, so that a decode does not rebuild it.

Building the static word model (wordfreq's ~289k words, the domain words merged in, the
Fenwick tree, the letter model, the fitted bigram table) takes ~0.2 s of pure Python,
a fifth of a fresh-process 512x512 decode. Everything in it is a function of the model's
parameters and the installed wordfreq data file, so the first build is written to
``<cache dir>/textmodel-<key>.bin`` and later processes read it back in ~2 ms.

* Cache dir: ``$SGGIC_CACHE_DIR`` if set (an empty value turns the cache off), else
  ``$XDG_CACHE_HOME/sggic``, else ``~/.cache/sggic``. Nothing is written anywhere else;
  an unwritable dir only costs the rebuild. At most ``KEEP_FILES`` model files (~10 MB
  each) are kept: writing one deletes the oldest beyond that, and every ``textmodel-*.npz``
  of the previous format (no sggic from now on can read one).
* Key: sha256 of the cache format, the parameters (their ``repr``: ints and strings), the
  wordfreq data file's path, size and modification time, and the source of the modules
  that build the model. Another wordfreq install, another model or another sggic gets
  another file.
* Format: one flat file, read with a single ``read_bytes`` (not mapped: a file truncated
  under a mapping would kill the process). A fixed header (magic, format, a byte-order
  marker, the key, the counts), then native 8-byte-aligned arrays: word frequencies, the
  Fenwick tree, the letter model, the bigram rows, the sorted word order, the words' start
  offsets, then the words' UTF-8 bytes, the bigram contexts and the fingerprint. Nothing is
  converted on load: frequencies and tree are ``memoryview`` casts (indexing gives Python
  ints), the words a :class:`Words` sequence that decodes a word when asked for it, and
  the word -> symbol index a binary search over the stored order (:class:`SortedIndex`).
* Safety: no pickle, no eval; the counts in the header must add up to the file's size,
  and a file whose parts do not fit together (ranges of the rows, the order and the
  offsets, frequencies that could overflow, a tree whose total is not the frequencies')
  is ignored and rebuilt. The word list's fingerprint is stored and checked like a freshly
  built one.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Any, Iterator, Sequence, overload

import numpy as np

FORMAT = 3
SEP = "\0"  # between the bigram contexts in the stored list (no context tag contains it)
MAGIC = b"SGGICTM\0"
_BOM = 0x01020304  # written natively: a file from a machine of the other byte order is ignored
# magic, format, byte-order marker, key, then counts: words, tree nodes, bigram rows, and the
# byte lengths of the words, of the bigram contexts and of the fingerprint
_HEADER = struct.Struct("=8sII32s6Q")
_KEY_LEN = 32


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
    return h.hexdigest()[:_KEY_LEN]


def _path(key: str) -> Path | None:
    d = cache_dir()
    return None if d is None else d / f"textmodel-{key}.bin"


def _pad8(n: int) -> int:
    return -n % 8


class Words(Sequence[str]):
    """The static words, stored back to back as UTF-8 with their start offsets: a word is
    decoded when it is asked for (the coder asks for a few dozen), not all ~289k on load."""

    __slots__ = ("_data", "_base", "_off")

    def __init__(self, data: bytes, base: int, offsets: Sequence[int]) -> None:
        self._data, self._base, self._off = data, base, offsets  # word i: data[base + off[i]: base + off[i + 1]]

    def __len__(self) -> int:
        return len(self._off) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self._off) - 1
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("word index out of range")
        b, off = self._base, self._off
        return self._data[b + off[i] : b + off[i + 1]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


def load(key: str | None) -> dict[str, Any] | None:
    """The cached parts for ``key``, or None (missing, off, or not a valid cache file)."""
    p = _path(key) if key is not None else None
    if p is None or not p.is_file():
        return None
    try:
        data = p.read_bytes()
    except OSError:
        return None
    try:
        return _parse(data, key)
    except (ValueError, TypeError, IndexError, UnicodeDecodeError, struct.error):
        return None


def _sections(header: bytes) -> dict[str, tuple[int, int]]:
    """Where each part of a file with this header lies: name -> (start, end) byte offsets,
    in file order, ending with ``"end"`` (the file's size). Arrays start 8-byte aligned."""
    nw, nt, nr, lw, lp, lf = _HEADER.unpack_from(header)[4:]
    sizes = [("freq", 8 * (nw + 1)), ("tree", 8 * nt), ("letters", 8 * 27 * 27), ("rows", 8 * 3 * nr),
             ("order", 4 * nw + _pad8(4 * nw)), ("offsets", 8 * (nw + 1)), ("words", lw), ("prev", lp), ("fp", lf),
             ("end", 0)]
    at, pos = {}, _HEADER.size
    for name, size in sizes:
        at[name] = (pos, pos + size)
        pos += size
    return at


def _parse(data: bytes, key: str) -> dict[str, Any] | None:
    if len(data) < _HEADER.size:
        return None
    magic, fmt, bom, fkey, nw, nt, nr, lw, lp, lf = _HEADER.unpack_from(data)
    if magic != MAGIC or fmt != FORMAT or bom != _BOM or fkey != key.encode("ascii"):
        return None
    at = _sections(data)
    if at["end"][0] != len(data):  # truncated, extended, or counts that do not fit the file
        return None
    mv = memoryview(data)

    def arr(name: str, dtype: type, count: int) -> np.ndarray:
        return np.frombuffer(data, dtype=dtype, count=count, offset=at[name][0])

    freq_a, off_a, order_a = arr("freq", np.int64, nw + 1), arr("offsets", np.int64, nw + 1), arr("order", np.int32, nw)
    letters_a, rows_a = arr("letters", np.int64, 27 * 27), arr("rows", np.int64, 3 * nr).reshape(-1, 3)
    # frequencies >= 0 and small enough that their sum fits an int64 (and the coder's 2**62)
    if int(freq_a.min()) < 0 or int(freq_a.max()) > (1 << 62) // (nw + 1) or int(letters_a.min()) < 0:
        return None
    if nw and not 0 <= int(order_a.min()) <= int(order_a.max()) < nw:
        return None
    if off_a[0] != 0 or off_a[-1] != lw or (nw and int(np.diff(off_a).min()) < 0):
        return None
    w0, w1 = at["words"]
    if not data[w0:w1].isascii():  # every word must decode: valid UTF-8, cut at character starts
        data[w0:w1].decode("utf-8")
        starts = off_a[:-1][off_a[:-1] < lw]
        if np.any(np.frombuffer(data, np.uint8, lw, w0)[starts] & 0xC0 == 0x80):
            return None
    prev = data[at["prev"][0] : at["prev"][1]].decode("utf-8").split(SEP) if lp else []
    if nr and not (0 <= int(rows_a[:, 0].min()) and int(rows_a[:, 0].max()) < len(prev)
                   and 0 <= int(rows_a[:, 1].min()) and int(rows_a[:, 1].max()) < nw):
        return None
    freq, tree = mv[slice(*at["freq"])].cast("q"), mv[slice(*at["tree"])].cast("q")
    total = int(freq_a.sum())
    if nt < nw + 2 or tree[0] != 0 or _fenwick_total(tree) != total:
        return None
    return {"words": Words(data, w0, mv[slice(*at["offsets"])].cast("q")), "freq": freq, "total": total,
            "tree": tree, "letters": tuple(tuple(row) for row in letters_a.reshape(27, 27).tolist()),
            "bigrams": [(prev[i], s, c) for i, s, c in rows_a.tolist()],
            "fingerprint": data[at["fp"][0] : at["fp"][1]].decode("utf-8"),
            "order": mv[at["order"][0] : at["order"][0] + 4 * nw].cast("i")}


def _fenwick_total(tree: Sequence[int]) -> int:
    """Sum of all frequencies of a Fenwick tree (nodes 1 .. len - 1)."""
    i, s = len(tree) - 1, 0
    while i > 0:
        s += tree[i]
        i &= i - 1
    return s


def save(key: str | None, words: Sequence[str], freq: Sequence[int], tree: Sequence[int],
         letters: tuple[tuple[int, ...], ...], bigrams: list[tuple[str, int, int]], fingerprint: str) -> None:
    """Write the cache file atomically; any OS error (read-only home, full disk) is ignored."""
    p = _path(key) if key is not None else None
    if (p is None or len(key) != _KEY_LEN or not key.isascii() or len(set(words)) != len(words)
            or any(SEP in b[0] for b in bigrams) or len(freq) != len(words) + 1):
        return
    # the word -> symbol index as the symbols in word order (binary search, SortedIndex): a
    # 1 MB array that loads in a millisecond, where a dict of all words takes ~40 ms to build
    order = sorted(range(len(words)), key=words.__getitem__)
    prevs = sorted({b[0] for b in bigrams})
    pid = {w: i for i, w in enumerate(prevs)}
    rows = np.array([(pid[a], s, c) for a, s, c in bigrams], dtype=np.int64).reshape(-1, 3)
    encoded = [w.encode("utf-8") for w in words]
    blob, prev_blob, fp = b"".join(encoded), SEP.join(prevs).encode("utf-8"), fingerprint.encode("utf-8")
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in encoded], out=offsets[1:])
    order_b = np.asarray(order, dtype=np.int32).tobytes()
    parts = [_HEADER.pack(MAGIC, FORMAT, _BOM, key.encode("ascii"), len(words), len(tree), len(rows), len(blob),
                          len(prev_blob), len(fp)),
             np.asarray(freq, dtype=np.int64).tobytes(), np.asarray(tree, dtype=np.int64).tobytes(),
             np.asarray(letters, dtype=np.int64).reshape(27 * 27).tobytes(), rows.tobytes(),
             order_b, bytes(_pad8(len(order_b))), offsets.tobytes(), blob, prev_blob, fp]
    tmp = p.with_name(f"{p.name}.tmp{os.getpid()}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(b"".join(parts))
        os.replace(tmp, p)
        _prune(p.parent, keep=p)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


KEEP_FILES = 4  # text models kept in the cache dir (several sggic versions or models in use)


def _prune(folder: Path, keep: Path) -> None:
    """Delete all but the ``KEEP_FILES`` most recently written model files (``keep`` stays),
    and every model file of the previous format (``.npz``: nothing reads them any more)."""
    files = sorted(folder.glob("textmodel-*.bin"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for f in [f for f in files if f != keep][KEEP_FILES - 1:] + list(folder.glob("textmodel-*.npz")):
        try:
            f.unlink()
        except OSError:
            pass


class SortedIndex:
    """word -> symbol by binary search over the words in sorted order (``order[i]`` is the
    symbol of the i-th smallest word): the two lookups the coder makes (``get`` and ``in``)
    without building a dict of every word. It compares UTF-8 bytes in the file, not decoded
    words (UTF-8 sorts as the code points, so as ``str``)."""

    def __init__(self, words: Words, order: Sequence[int]) -> None:
        self._words, self._order = words, order

    def get(self, word: str, default: int | None = None) -> int | None:
        try:
            key = word.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no stored word (valid UTF-8) has one
            return default
        data, base, off = self._words._data, self._words._base, self._words._off
        order = self._order
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            i = order[mid]
            if data[base + off[i] : base + off[i + 1]] < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(order):
            i = order[lo]
            if data[base + off[i] : base + off[i + 1]] == key:
                return i
        return default

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None
