"""Rate control: the largest file that fits the byte budget, with as few slow encodes as possible.

One search serves sggic's encoder and the benchmark's baselines (``search_index``), so
every codec gets the same rule: the largest file whose size is <= the budget among the
codec's quality settings, found by interpolation/bisection over a list ordered from the
smallest file to the largest, then a look at the next ``LOOKAHEAD`` settings (sizes are
only nearly monotone). What happens when even the smallest file is too large is the
caller's ``unreachable`` policy: ``"raise"`` (RateError; sggic never writes an
over-budget file) or ``"smallest"`` (the smallest file, flagged ``above_target``; the
benchmark reports such points at their real rate).

Two things make sggic's encoder fast and full (issue 13, numbers in docs/codecs.md):

* A codec may offer a cheap *size probe* (VVC: the same settings at libvvenc's
  ``faster`` preset, 2-15x less CPU than ``medium``, sizes within 0.74-1.15x). The search
  then runs on probe sizes (two at a time, starting at the codec's ``anchors``), and only
  the last steps encode for real, correcting the probe by an estimated real / probe ratio
  so that the first round of real encodes is usually the last: small pictures two
  settings at a time in parallel (one process per core), the ratio estimated by one
  slower, closer probe run beside the probe search (``calibration_probe``, VVC: ``fast``);
  large ones one setting at a time with ``workers`` threads, the ratio estimated on a
  mosaic of the picture (``probe_ratio``).
* A codec may offer *refinements* of a quality: settings between it and the next
  coarser step (VVC: chroma qp offsets between qp and qp - 1), searched after the coarse
  step is found, so files fill their budget more closely. With a ``refinement_shape``
  (where they lie between the quality and its last refinement) only the last one is
  probed and the others are estimated.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

from .budgets import bpp_at_least
from .codecs._ffmpeg import FFmpegTimeout
from .codecs.base import BaseCodec, RateHints
from .errors import InputError, RateError, SggicError

MAX_BPP = 8.0
LOOKAHEAD = 2  # settings above the found one that are also tried (sizes are only nearly monotone)
UNREACHABLE_POLICIES = ("raise", "smallest")
Unreachable = Literal["raise", "smallest"]
MAX_REAL_ROUNDS = 3  # rounds of real encodes after the probe search
GOOD_FILL = 0.96  # large pictures: a real file this full ends the search
SMALL_GOOD_FILL = 0.95  # small pictures: a real file this full ends the search
AIM = (1.01, 0.97)  # small pictures, round 1: predicted fills the two real encodes aim under
AIM_MEASURED = (1.0, 0.975)  # later rounds (the ratio measured by the previous round)
BOTH_REFINED = 0.9  # small pictures: also probe the refinements below a coarse setting predicted this full
PROBE_GROWTH = 1.13  # prior size ratio between neighbouring coarse settings (VVC qp: 1.05-1.2)
SINGLE_PIXELS = 500_000  # from this many (base) pixels on: one encode per round with `workers` threads
SINGLE_ROUNDS = 2  # large pictures: real encodes after which a fitting file is good enough
SAFE = 0.985  # large pictures: aim the probe-predicted size this far below the budget
GROWTH_RANGE = (1.04, 1.35)  # clamp for a growth measured from two probes (extrapolation)
PROBE_ANCHORS = (0.16, 0.43)  # first probe round, unless the codec says (VVC: anchors()): ladder fractions
REFUSED = math.inf  # the size of a setting the encoder refuses: "too large" for the search


@dataclass(frozen=True)
class RateChoice:
    quality: int
    payload: bytes
    file_bytes: int
    tries: int  # real encodes (probes not counted)
    above_target: bool = False  # only with unreachable="smallest": the smallest file, over budget
    probes: int = 0  # cheap probe encodes


def budget_bytes(bpp: float, width: int, height: int) -> int:
    """Whole-file byte budget for a target in bits per pixel of the original image."""
    if not isinstance(bpp, (int, float)) or math.isnan(bpp) or not (0 < bpp <= MAX_BPP):
        raise InputError(f"--bpp must be a number in (0, {MAX_BPP:g}], got {bpp}")
    return int(math.floor(bpp * width * height / 8.0))


def default_workers() -> int:
    """Parallel encodes: one per core, at most 2 (the second halves the wall time; more do not help)."""
    return max(1, min(2, os.cpu_count() or 1))


SizeBatch = Callable[[list[int]], list[float]]


def search_index(sizes: SizeBatch, n: int, budget: float, workers: int = 1,
                 lookahead: int = LOOKAHEAD, growth: float | None = None) -> int | None:
    """Index of the largest size <= ``budget`` in a list of ``n`` settings (smallest first).

    ``sizes(indexes)`` returns the sizes of those settings (it may evaluate them in
    parallel; up to ``workers`` are asked per round). None when ``sizes([0])`` is over
    the budget. The search interpolates log(size) between the bracketing settings (sizes
    grow roughly geometrically), bisects when that does not halve the bracket, and
    finally tries the ``lookahead`` settings above the one found. Without ``growth`` it
    never evaluates the top of the list just to bound the search; with it (a prior size
    ratio between neighbours, or None) it jumps from the smallest size straight to the
    predicted setting and asks its neighbour too.
    """
    known: dict[int, float] = {}

    def ask(indexes: list[int]) -> None:
        need = sorted({i for i in indexes if 0 <= i < n and i not in known})
        if need:
            for i, s in zip(need, sizes(need)):
                known[i] = s

    ask([0])
    if known[0] > budget:
        return None
    lo, hi = 0, n  # known[lo] fits; hi is the first index known not to (n: none known)
    bisect_next = growth is None
    while hi - lo > 1:
        width = hi - lo
        i = (lo + hi) // 2
        if hi < n and math.isfinite(known[hi]) and known[hi] > known[lo] > 0 and not bisect_next:
            frac = math.log(budget / known[lo]) / math.log(known[hi] / known[lo])
            i = min(max(lo + int(math.floor(frac * width)), lo + 1), hi - 1)
        elif hi == n and growth is not None and known[lo] > 0:
            i = min(max(lo + int(math.floor(math.log(budget / known[lo]) / math.log(growth))), lo + 1), hi - 1)
        batch = [i]
        if workers > 1:  # and a neighbour, to close the bracket in one round
            batch.append(i + 1 if i + 1 < hi else i - 1)
        ask([j for j in batch if lo < j < hi][:workers])
        inside = sorted(j for j in known if lo < j < hi)
        for j in inside:  # treat sizes as monotone: first misfit closes the bracket
            if known[j] <= budget:
                lo = j
            else:
                hi = j
                break
        bisect_next = (hi - lo) * 2 > width and growth is None  # interpolation did not halve it
    ahead = [j for j in range(lo + 1, lo + 1 + lookahead) if j < n]
    for k in range(0, len(ahead), max(1, workers)):
        ask(ahead[k : k + max(1, workers)])
    fits = [j for j in [lo, *ahead] if j in known and known[j] <= budget]
    return max(fits)


def _predict(known: dict[int, float], budget: float, lo: int, hi: int) -> int:
    """The index strictly inside (lo, hi) whose size a log-linear model puts at ``budget``.

    ``known``: sizes by index (lo fits, hi does not; -1 / len: unknown edge). Between two
    finite sizes: interpolation; at an open edge: extrapolation from the nearest known size
    with the growth per step measured between it and its known neighbour (clamped to
    ``GROWTH_RANGE``; ``PROBE_GROWTH`` when there is none). Bisection when nothing applies.
    """
    pos = {j: math.log(s) for j, s in known.items() if 0 < s < math.inf}
    target = math.log(budget) if budget > 0 else -math.inf
    x: float | None = None
    if lo in pos and hi in pos and pos[hi] > pos[lo]:
        x = lo + (target - pos[lo]) / (pos[hi] - pos[lo]) * (hi - lo)
    else:
        edge = lo if lo in pos and hi not in pos else hi if hi in pos else None
        if edge is not None:
            side = [j for j in pos if (j < edge if edge == lo else j > edge)]
            nb = max(side) if side and edge == lo else min(side) if side else None
            growth = PROBE_GROWTH
            if nb is not None and pos[edge] != pos[nb]:
                growth = math.exp((pos[edge] - pos[nb]) / (edge - nb))
            slope = math.log(min(max(growth, GROWTH_RANGE[0]), GROWTH_RANGE[1]))
            x = edge + (target - pos[edge]) / slope
    if x is None or not math.isfinite(x):
        return (lo + hi) // 2
    return min(max(int(math.floor(x)), lo + 1), hi - 1)


def _first_misfit(ladder: list[Any], real: dict[Any, tuple[bytes, float]], budget: float) -> int:
    """Index of the first setting of ``ladder`` known (by a real encode) to exceed ``budget``."""
    return min([j for j, q in enumerate(ladder) if q in real and real[q][1] > budget], default=len(ladder))


def _map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:  # encoders are subprocesses
        return list(pool.map(fn, items))


def search(encode: Callable[[Any], bytes], qualities: Sequence[Any], budget: int,
           file_size: Callable[[Any, bytes], int] | None = None, unreachable: Unreachable = "raise",
           workers: int = 1, what: str = "the codec") -> RateChoice:
    """The largest file within ``budget`` over ``qualities``, by real encodes only.

    ``file_size(quality, data)`` is what is counted (default: ``len(data)``).
    """
    return _Search(encode, None, budget, file_size, workers).run(list(qualities), lambda q: (), unreachable, what, None)


def fit_rate(
    codec: BaseCodec,
    rgb: np.ndarray,
    budget: int,
    file_size: Callable[[int, bytes], int],
    pixels: int | None = None,
    unreachable: Unreachable = "raise",
    workers: int | None = None,
    probe: bool = True,
) -> RateChoice:
    """The largest file within ``budget`` that ``codec`` makes for ``rgb``.

    ``file_size(quality, payload)`` gives the size of the complete file with that
    payload (framing and semantics included), so the budget is the whole file's; it
    must depend on the payload only through its length. ``pixels`` (of the original
    image) is used for the bits-per-pixel figures of the RateError message.
    ``probe=False`` searches with real encodes only (the encoder before issue 13 did,
    without refinements; kept for comparisons).
    """
    workers = default_workers() if workers is None else max(1, int(workers))
    prepared = codec.encoder(rgb)  # VVC: the picture converted once, encodes with threads
    if prepared is not None:
        probe_fn = prepared.probe if probe else None
        batch = 1 if probe and workers > 1 and prepared.pixels >= SINGLE_PIXELS else workers
        threads = workers if batch == 1 else 1
        encode: Callable[[Any], bytes] = lambda q: prepared(q, threads)  # noqa: E731
    else:
        probe_fn, batch = (codec.size_probe(rgb) if probe else None), workers
        encode = lambda q: codec.encode(rgb, q)  # noqa: E731
    s = _Search(encode, probe_fn, budget, file_size, workers, batch)
    if prepared is not None and probe:
        s.use_hints(prepared.rate_hints(budget))
    refine = codec.refinements if probe else (lambda q: ())
    what = codec.name
    return s.run(list(codec.qualities()), refine, unreachable, what, pixels)


class _Search:
    """One rate search: caches of real and probe sizes, and the two-level walk."""

    def __init__(self, encode: Callable[[Any], bytes], probe: Callable[[Any], int] | None, budget: int,
                 file_size: Callable[[Any, bytes], int] | None, workers: int, batch: int | None = None) -> None:
        self.encode, self.probe, self.budget, self.workers = encode, probe, budget, workers
        self.batch = workers if batch is None else batch  # real encodes per round
        self.calibrate: Callable[[Any], float] | None = None  # estimated real / probe ratio at a setting
        self.anchors: Sequence[Any] = ()  # the coarse settings to probe first (default: PROBE_ANCHORS)
        self.coarse: list[Any] | None = None  # the coarse ladder (the anchors belong to it)
        self.prior = 1.0  # expected real / probe size ratio before any real encode
        self.calibration: Callable[[Any], int] | None = None  # a slower probe, closer to the real size
        self.calibration_prior = 1.0  # expected real / calibration size ratio
        self.shape: Sequence[float] | None = None  # refinement sizes as fractions from a setting to its last one
        self.estimated: dict[Any, float] = {}  # probe-domain sizes estimated from the shape
        self.next_coarse: dict[Any, Any] = {}  # refinement -> the coarse setting above its own (None: top)
        self.file_size = file_size or (lambda q, data: len(data))
        self.real: dict[Any, tuple[bytes, float]] = {}
        self.probed: dict[Any, float] = {}
        self.refused: dict[Any, SggicError] = {}

    def use_hints(self, h: RateHints) -> None:
        self.calibrate, self.prior = h.probe_ratio, float(h.prior_ratio)
        self.calibration, self.calibration_prior = h.calibration_probe, float(h.calibration_prior)
        self.shape = tuple(h.refinement_shape) if h.refinement_shape is not None else None
        self.anchors = tuple(h.anchors)

    # -- sizes -------------------------------------------------------------------------
    def _encode_one(self, q: Any) -> tuple[bytes, float]:
        try:
            data = self.encode(q)
        except (InputError, FFmpegTimeout):  # a timeout says nothing about the size: fail loudly
            raise
        except SggicError as exc:
            # e.g. libvvenc refuses very high qualities on tiny noisy pictures: such a
            # setting cannot be used, which for the search is the same as "too large"
            self.refused[q] = exc
            return b"", REFUSED
        return data, float(self.file_size(q, data))

    def real_sizes(self, qs: list[Any]) -> list[float]:
        need = list(dict.fromkeys(q for q in qs if q not in self.real))
        for q, r in zip(need, _map(self._encode_one, need, self.batch)):
            self.real[q] = r
        return [self.real[q][1] for q in qs]

    def _probe_one(self, q: Any) -> float:
        assert self.probe is not None
        try:
            n = self.probe(q)
        except (InputError, FFmpegTimeout):
            raise
        except SggicError:
            return REFUSED
        return float(self.file_size(q, bytes(n)))

    def probe_sizes(self, qs: list[Any]) -> list[float]:
        need = list(dict.fromkeys(q for q in qs if q not in self.probed))
        for q, s in zip(need, _map(self._probe_one, need, self.workers)):
            self.probed[q] = s
        return [self.probed[q] for q in qs]

    # -- the walk ------------------------------------------------------------------------
    def _pick(self, ladder: list[Any], sizes: Callable[[list[Any]], list[float]], budget: float,
              lookahead: int = LOOKAHEAD, growth: float | None = None) -> int | None:
        return search_index(lambda idx: sizes([ladder[i] for i in idx]), len(ladder), budget, self.workers,
                            lookahead, growth)

    def _ladder(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]],
                budget: float) -> tuple[list[Any], int | None]:
        """Real-encode search: the coarse setting, then its refinements: (all settings, index)."""
        i = self._pick(qs, self.real_sizes, budget)
        if i is None:
            return qs, None
        fine = [qs[i], *refine(qs[i])]
        if len(fine) == 1:
            return qs, i
        # the next coarse setting closes the bracket (its size is usually known already)
        j = self._pick(fine + qs[i + 1 : i + 2], self.real_sizes, budget, 0)
        assert j is not None  # fine[0] == qs[i] fits
        return qs[:i] + fine + qs[i + 1 :], i + min(j, len(fine) - 1)

    def run(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]], unreachable: str,
            what: str, pixels: int | None) -> RateChoice:
        if unreachable not in UNREACHABLE_POLICIES:
            raise InputError(f"unknown unreachable policy {unreachable!r}; choose one of: "
                             f"{', '.join(UNREACHABLE_POLICIES)}")
        if self.probe is None:
            ladder, j = self._ladder(qs, refine, self.budget)
        elif self.batch == 1:
            self.coarse = qs
            ladder, j = self._final_single(qs, refine)
        else:
            self.coarse = qs
            ladder, j = self._final(qs, refine)
        if j is None:
            return self._unreachable(qs[0], unreachable, what, pixels)
        q = ladder[j]
        data, size = self.real[q]
        return RateChoice(q, data, int(size), len(self.real), False, len(self.probed))

    def _final(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]]) -> tuple[list[Any], int | None]:
        """Probe-guided search for small pictures: rounds of ``batch`` parallel real encodes,
        each aimed at the final setting (a coarse one or a refinement).

        The probe search over ``qs`` runs at the budget divided by the codec's prior real /
        probe ratio; once the anchors give a guess, the codec's ``calibration`` probe of it
        runs beside the rest of the search (and the probes of the guess's neighbours and last
        refinement) and replaces the prior by ``calibration_prior * calibration / probe``.
        The coarse setting found then gets size estimates for its refinements
        (``_probe_fine``). Each round encodes the two settings whose estimated sizes times
        the ratio lie closest under ``AIM`` (round 1) or ``AIM_MEASURED`` (later rounds, the
        ratio measured by the previous round) of the budget; the search ends at a real file
        that fills ``SMALL_GOOD_FILL`` of the budget, or when no setting is predicted to do
        better. Should the estimates mislead every round, real encodes search what is left.
        """
        ratio = self.prior
        if self.calibration is not None:  # the closer probe runs beside the rest of the probe search
            i = self._probe_index(qs, self.budget / ratio, rounds=0)
            q0 = qs[i]
            with ThreadPoolExecutor(max_workers=1) as pool:
                closer = pool.submit(self._calibration_size, q0)
                # meanwhile, one at a time on the other core (the calibration, ~3 probes long,
                # keeps a core to itself): the guess, the next larger coarse setting and the end
                # of the guess's refinements (what the bracket and _probe_fine usually ask next;
                # the smaller neighbour only if the calibrated ratio asks for it)
                end = refine(q0)[-1:] if self.shape is not None else ()
                workers, self.workers = self.workers, 1
                try:
                    self.probe_sizes([*qs[i : i + 2], *end])
                    self._probe_index(qs, self.budget / ratio)
                finally:
                    self.workers = workers
                size = closer.result()
            probe = self.probe_sizes([q0])[0]
            if size is not None and 0 < probe < math.inf:
                ratio = self.calibration_prior * size / probe
        self._probe_fine(qs, refine, self._probe_index(qs, self.budget / ratio), ratio)
        for rnd in range(MAX_REAL_ROUNDS):
            cands = self._aim(ratio, AIM if rnd == 0 else AIM_MEASURED)
            if not cands:
                break
            self.real_sizes(cands)
            best = self._best_real()
            if best is not None and self.real[best][1] >= SMALL_GOOD_FILL * self.budget:
                break
            ratio = self._round_ratio(cands, ratio)
            misfit = _first_misfit(qs, self.real, self.budget)
            if misfit == 0:
                return qs, None  # the smallest setting is known not to fit
            self._probe_fine(qs, refine, min(self._probe_index(qs[:misfit], self.budget / ratio), misfit - 1), ratio)
        best = self._best_real()
        if best is None:  # the probe misled every round: real encodes search the coarse settings below
            return qs, self._pick(qs[: _first_misfit(qs, self.real, self.budget)], self.real_sizes, self.budget)
        return [best], 0

    def _calibration_size(self, q: Any) -> float | None:
        """The file size the codec's slower, closer probe gives for ``q`` (None if it fails)."""
        assert self.calibration is not None
        try:
            return float(self.file_size(q, bytes(self.calibration(q))))
        except (InputError, FFmpegTimeout):
            raise
        except SggicError:
            return None

    def _probe_fine(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]], c: int, ratio: float) -> None:
        """Sizes for the settings around the coarse setting ``qs[c]``: its refinements, and those of
        ``qs[c - 1]`` when ``qs[c]`` is predicted (probe times ``ratio``) to fill
        ``BOTH_REFINED`` of the budget (the best file is then likely just below it).

        Without a ``shape`` they are probed, with the neighbours of ``qs[c]``, in one batch.
        With the codec's ``shape`` of its refinements they are estimated: the last refinement
        at the size ratio to its coarse setting that a probed last refinement showed (one is
        probed if none is yet), the others at the shape's fractions between the two, and an
        unprobed neighbour from ``qs[c]`` with the growth between probed coarse settings."""
        groups = [c]
        if c > 0 and self.probed.get(qs[c], math.inf) * ratio >= BOTH_REFINED * self.budget:
            groups.insert(0, c - 1)
        for j in groups:
            for q in refine(qs[j]):
                self.next_coarse[q] = qs[j + 1] if j + 1 < len(qs) else None
        if self.shape is None:
            self.probe_sizes([*qs[max(c - 1, 0) : c + 2], *(q for j in groups for q in refine(qs[j]))])
            return
        spans = self._spans(qs, refine)
        if not spans and len(refine(qs[c])) == len(self.shape) + 1:
            self.probe_sizes([qs[c], refine(qs[c])[-1]])
            spans = self._spans(qs, refine)
        growth = self._growth(qs, c)
        for j in range(max(c - 1, 0), min(c + 2, len(qs))):
            if qs[j] not in self.probed and math.isfinite(self._est(qs[c])):
                self.estimated.setdefault(qs[j], self._est(qs[c]) * growth ** (j - c))
        for j in groups:
            fine = list(refine(qs[j]))
            p0 = self._est(qs[j])
            if len(fine) != len(self.shape) + 1 or not spans or not math.isfinite(p0):
                continue
            span = spans[min(spans, key=lambda k: abs(k - j))]
            for q, f in zip(fine, (*self.shape, 1.0)):
                self.estimated.setdefault(q, p0 * (1 + (span - 1) * f))

    def _spans(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]]) -> dict[int, float]:
        """Probed size ratios of last refinement to coarse setting, by coarse index."""
        out = {}
        for j, q in enumerate(qs):
            fine = refine(q) if q in self.probed else ()
            end = self.probed.get(fine[-1], math.inf) if fine else math.inf
            if 0 < self.probed.get(q, 0) < math.inf and math.isfinite(end):
                out[j] = end / self.probed[q]
        return out

    def _growth(self, qs: list[Any], c: int) -> float:
        """Size ratio per coarse step near ``qs[c]`` from probes (``PROBE_GROWTH`` without two)."""
        near = sorted((j for j, q in enumerate(qs) if 0 < self.probed.get(q, 0) < math.inf), key=lambda j: abs(j - c))
        if len(near) >= 2 and near[0] != near[1]:
            a, b = sorted(near[:2])
            g = (self.probed[qs[b]] / self.probed[qs[a]]) ** (1 / (b - a))
            return min(max(g, GROWTH_RANGE[0]), GROWTH_RANGE[1])
        return PROBE_GROWTH

    def _est(self, q: Any) -> float:
        """The probe-domain size of ``q``: probed, else estimated from the shape (inf if neither)."""
        return self.probed.get(q, self.estimated.get(q, math.inf))

    def _aim(self, ratio: float, aim: tuple[float, float]) -> list[Any]:
        """Up to ``batch`` settings to encode for real: the largest whose estimated size times
        ``ratio`` is within ``aim[0]`` of the budget and the largest within ``aim[1]`` (smaller
        than the first). Only settings whose estimate lies between the best real fit's and the
        smallest real misfit's count (sizes are nearly monotone in the probe); when every one
        is predicted over the budget: none when a real file fits (it is then likely the best),
        else the smallest of them."""
        fits = self._best_real()
        low = self._est(fits) if fits is not None else -1.0
        high = min([self._est(q) for q, (_, size) in self.real.items() if size > self.budget], default=math.inf)
        pool = sorted((p, q) for q in {**self.estimated, **self.probed}
                      if q not in self.real and q not in self.refused and low < (p := self._est(q)) < high
                      and math.isfinite(p) and self._refines(q))
        picked: list[Any] = []
        for a in aim[: self.batch]:
            under = [(p, q) for p, q in pool if p * ratio <= a * self.budget
                     and all(p < self._est(x) for x in picked)]
            if under:
                picked.append(under[-1][1])
        if not picked and pool and fits is None:  # nothing fits yet: the smallest candidate
            picked.append(pool[0][1])
        return picked

    def _refines(self, q: Any) -> bool:
        """Whether ``q`` may be chosen as far as the coarse settings go: a refinement of a coarse
        setting is a step between it and the next one, so it must be estimated below that
        one, which must not be known to fit (the rule of the real-encode search: refinements
        only of the largest coarse setting that fits)."""
        if q not in self.next_coarse:
            return True
        nxt = self.next_coarse[q]
        if nxt is None:
            return True
        if nxt in self.real and self.real[nxt][1] <= self.budget:
            return False
        return self._est(q) < self._est(nxt)

    def _round_ratio(self, qs: list[Any], default: float) -> float:
        """The geometric mean of real / estimated size over ``qs`` (``default`` if none is usable)."""
        logs = [math.log(self.real[q][1] / p) for q in qs
                if math.isfinite(self.real[q][1]) and self.real[q][1] > 0 and 0 < (p := self._est(q)) < math.inf]
        return math.exp(sum(logs) / len(logs)) if logs else default

    def _final_single(self, qs: list[Any], refine: Callable[[Any], Sequence[Any]]) -> tuple[list[Any], int | None]:
        """Probe-guided search with one (threaded) real encode per round, for large pictures.

        The probe's size ratio is first estimated cheaply (``calibrate``, VVC: a mosaic of the
        picture), so the probes predict every setting's size; each round then encodes the
        setting predicted to be the largest within ``SAFE`` of the budget (the coarse qp the
        corrected probe says fits, or one of its refinements) and corrects the ratio by the
        real size. It stops at a real file that fills ``GOOD_FILL`` of the budget, or after
        ``SINGLE_ROUNDS`` rounds with a file that fits. Only real sizes decide what fits.
        """
        ratio = 1.0
        if self.calibrate is not None:
            try:
                ratio = self.calibrate(qs[self._probe_index(qs, self.budget)])
            except FFmpegTimeout:
                raise
            except SggicError:  # only an estimate: without it the first real encode calibrates
                ratio = 1.0
        for _ in range(SINGLE_ROUNDS + 1):
            c = min(self._probe_index(qs, self.budget / ratio), _first_misfit(qs, self.real, self.budget) - 1)
            if c < 0:
                return qs, None  # the smallest setting is known not to fit
            fine = [qs[c], *refine(qs[c])]
            bound = fine + qs[c + 1 : c + 2]  # the next coarse setting closes the bracket
            top = min(_first_misfit(bound, self.real, self.budget), len(fine))
            k = min(self._probe_index(bound[:top], SAFE * self.budget / ratio, True), top - 1)
            untried = [j for j in range(k, top) if fine[j] not in self.real]
            if not untried:
                break
            q = fine[untried[0]]
            self.real_sizes([q])
            ratio = self._ratio(q, ratio)
            best = self._best_real()
            if best is not None and (self.real[best][1] >= GOOD_FILL * self.budget
                                     or len(self.real) >= SINGLE_ROUNDS):
                break
        best = self._best_real()
        if best is None:  # every prediction missed: real encodes search the coarse settings below
            return qs, self._pick(qs[: _first_misfit(qs, self.real, self.budget)], self.real_sizes, self.budget)
        return [best], 0

    def _best_real(self) -> Any:
        """The setting of the largest real file within the budget (None if none)."""
        fits = [(size, q) for q, (_, size) in self.real.items() if size <= self.budget]
        return max(fits, key=lambda t: t[0])[1] if fits else None

    def _probe_index(self, ladder: list[Any], budget: float, spread: bool = False, rounds: int | None = None) -> int:
        """Index of the largest setting of ``ladder`` whose *probe* size fits ``budget`` (0 if none).

        Rounds of ``workers`` parallel probes. Without probes of this ladder yet, the first
        round asks the ``PROBE_ANCHORS``; then each round predicts the setting from a
        log-linear size model (through the bracketing probes, or extrapolated with the
        growth measured between two probes) and asks it and the one above it, until the
        bracket is closed. Sizes are treated as monotone: the first misfit closes it.
        ``spread`` (refinements, whose sizes a log-linear model fits poorly): while nothing
        inside a wide bracket is known, ask the points at a third and two thirds of it.
        """
        n = len(ladder)
        known = {i: self.probed[q] for i, q in enumerate(ladder) if q in self.probed}

        def ask(idx: list[int]) -> None:
            need = sorted({i for i in idx if 0 <= i < n and i not in known})[: max(1, self.workers)]
            for i, size in zip(need, self.probe_sizes([ladder[i] for i in need])):
                known[i] = size

        if not known:
            first = [ladder.index(q) for q in self.anchors if q in ladder] if ladder is self.coarse else []
            ask(first if len(first) == 2 else [min(n - 1, int(n * a)) for a in PROBE_ANCHORS])
        for _ in range(2 * n):
            lo, hi = -1, n  # known[lo] fits; hi is the first known misfit above it
            for j in sorted(known):
                if known[j] <= budget:
                    lo = j
                else:
                    hi = j
                    break
            if hi - lo <= 1:
                return max(lo, 0)
            if spread and self.workers > 1 and hi - lo > 3 and not any(lo < j < hi for j in known):
                ask([lo + (hi - lo) // 3, lo + 2 * (hi - lo) // 3])
                continue
            i = _predict(known, budget, lo, hi)
            if rounds is not None and lo >= 0 and hi < n:  # inside a bracket of two probes
                if rounds <= 0:
                    return i  # the model's guess, unprobed
                rounds -= 1
            ask([i, i + 1] if self.workers > 1 else [i])
        return 0  # pragma: no cover - every round asks a new setting inside the bracket

    def _ratio(self, q: Any, default: float) -> float:
        """real / probe size at ``q``, ``default`` if either is unusable."""
        real, probe = self.real[q][1], self.probe_sizes([q])[0]
        return real / probe if math.isfinite(real) and 0 < probe < math.inf else default

    def _unreachable(self, q0: Any, policy: str, what: str, pixels: int | None) -> RateChoice:
        self.real_sizes([q0])
        data, size = self.real[q0]
        if policy == "smallest" and math.isfinite(size):
            return RateChoice(q0, data, int(size), len(self.real), True, len(self.probed))
        if q0 in self.refused:  # the smallest setting fails: that error is the answer
            raise self.refused[q0]
        if not math.isfinite(size):
            raise RateError(f"{what} cannot encode this image at its smallest setting; raise --bpp or change codec")
        if pixels:
            raise RateError(
                f"target of {self.budget * 8 / pixels:.4f} bpp ({self.budget} bytes) is below the smallest file "
                f"{what} can make for this image ({bpp_at_least(int(size), pixels)} bpp, {int(size)} bytes); raise --bpp"
            )
        raise RateError(f"a {self.budget}-byte budget is below the smallest file {what} can make "
                        f"({int(size)} bytes); raise --bpp")

