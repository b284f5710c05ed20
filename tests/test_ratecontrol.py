import math
import random
import statistics

import numpy as np
import pytest

from sggic import ratecontrol
from sggic.codecs import vvc
from sggic.codecs.base import BaseCodec, RateHints
from sggic.errors import BackendUnavailable, InputError, RateError
from sggic.ratecontrol import budget_bytes, fit_rate, search


class FakeCodec(BaseCodec):
    """Sizes by index; optional refinements (fractional steps) and a biased size probe."""

    name = "fake"
    codec_id = 99

    def __init__(self, sizes, refuse=(), fine=None, probe_bias=None):
        self.sizes, self.refuse, self.calls, self.probes = list(sizes), set(refuse), [], []
        self.fine = fine or {}  # quality -> sizes of its refinements (qualities 1000*q + k)
        self.probe_bias = probe_bias  # quality -> factor (probe size = real size * factor)

    def qualities(self):
        return list(range(len(self.sizes)))

    def refinements(self, quality):
        return [1000 * (quality + 1) + k for k in range(len(self.fine.get(quality, ())))]

    def size(self, quality):
        if quality >= 1000:
            return self.fine[quality // 1000 - 1][quality % 1000]
        return self.sizes[quality]

    def encode(self, rgb, quality):
        self.calls.append(quality)
        if quality in self.refuse:
            raise BackendUnavailable("refused")
        return bytes(self.size(quality))  # the payload length is the size

    def size_probe(self, rgb):
        if self.probe_bias is None:
            return None

        def probe(q):
            self.probes.append(q)
            return int(self.size(q) * self.probe_bias(q))

        return probe

    def decode(self, payload, width, height, quality):  # pragma: no cover
        raise NotImplementedError


def _fit(codec, budget, **kw):
    return fit_rate(codec, np.zeros((4, 4, 3), np.uint8), budget,
                    lambda q, p: len(p) + 10, 64, **kw)


@pytest.mark.parametrize("growth", [1.03, 1.12, 1.4])
def test_search_finds_the_largest_fitting_quality_with_few_encodes(growth):
    sizes = [int(40 * growth**i) for i in range(44)]
    for budget in sorted({int(b) for b in np.geomspace(60, sizes[-1] + 200, 150)}):
        codec = FakeCodec(sizes)
        r = _fit(codec, budget, workers=1)
        best = max(i for i, s in enumerate(sizes) if s + 10 <= budget)
        assert r.quality == best and r.file_bytes == sizes[best] + 10
        assert len(codec.calls) <= 11  # 9 for the search, 2 for the look-ahead
        if best < len(sizes) - 3:  # (to prove best = len-3 the look-ahead tries the top)
            assert len(sizes) - 1 not in codec.calls  # never encodes the top just to bound


def test_parallel_workers_find_the_same_file():
    sizes = [int(40 * 1.1**i) for i in range(44)]
    for budget in range(60, 2500, 37):
        one, two = _fit(FakeCodec(sizes), budget, workers=1), _fit(FakeCodec(sizes), budget, workers=2)
        assert one.quality == two.quality


def test_plateaus_are_fine():
    sizes = [50, 60, 70, 70, 70, 90, 120, 160]
    r = _fit(FakeCodec(sizes), 80)
    assert r.quality == 4


def test_unreachable_policies_and_refused_qualities():
    with pytest.raises(RateError, match="below the smallest file"):
        _fit(FakeCodec([100, 200]), 50)
    r = _fit(FakeCodec([100, 200]), 50, unreachable="smallest")
    assert (r.quality, r.file_bytes, r.above_target) == (0, 110, True)
    with pytest.raises(InputError, match="unreachable policy"):
        _fit(FakeCodec([100, 200]), 500, unreachable="never")
    codec = FakeCodec([20, 30, 40, 50, 60, 70], refuse={4, 5})
    assert _fit(codec, 1000).quality == 3
    with pytest.raises(BackendUnavailable):  # the smallest setting failing is that failure
        _fit(FakeCodec([20, 30], refuse={0}), 1000)


def test_a_timed_out_encode_is_an_error_not_a_large_file():
    from sggic.codecs._ffmpeg import FFmpegTimeout

    class Slow(FakeCodec):
        def encode(self, rgb, quality):
            if quality >= 5:
                raise FFmpegTimeout("libvvenc failed: ffmpeg did not finish within 120 s")
            return super().encode(rgb, quality)

    with pytest.raises(FFmpegTimeout):
        _fit(Slow([20 + 10 * i for i in range(10)]), 1000)


def test_sggic_and_the_bench_pick_the_same_file():
    """Issue 14: the bench's search and fit_rate used to differ (150 B vs 175 B) here."""
    from sggic.bench.codecs import search as bench_search

    sizes = [100, 150, 190, 175, 300]
    enc = lambda q: bytes(sizes[q])  # noqa: E731
    q_bench, data, above, _ = bench_search(enc, range(5), 180)
    r = fit_rate(FakeCodec(sizes), np.zeros((4, 4, 3), np.uint8), 180,
                 lambda q, p: len(p), 64)
    assert (q_bench, len(data), above) == (r.quality, r.file_bytes, r.above_target) == (3, 175, False)
    assert search(enc, range(5), 180).quality == 3


def _random_codec(rng: random.Random, biased: bool) -> FakeCodec:
    step = rng.uniform(1.05, 1.25)
    sizes, s = [], rng.uniform(20, 60)
    for _ in range(44):
        sizes.append(int(s))
        s *= step * rng.uniform(0.97, 1.03)
    fine = {}
    for q, base in enumerate(sizes[:-1]):  # refinements: small, nearly monotone steps past qp - 1
        f, out = base, []
        for _ in range(9):
            f *= rng.uniform(1.005, 1.05)
            out.append(int(f))
        fine[q] = out
    bias = {}
    # measured medium/faster size ratios: 0.78-1.12 per photo, drifting with qp
    per_image = rng.uniform(0.8, 1.15)
    probe_bias = (lambda q: bias.setdefault(q, per_image * rng.uniform(0.95, 1.05))) if biased else None
    return FakeCodec(sizes, fine=fine, probe_bias=probe_bias)


@pytest.mark.parametrize("biased", [False, True])
def test_files_never_exceed_the_budget_and_fill_it(biased):
    rng = random.Random(7)
    fills = []
    for _ in range(300):
        codec = _random_codec(rng, biased)
        budget = int(rng.uniform(codec.sizes[0] + 10, codec.sizes[-1]))
        r = _fit(codec, budget)
        assert r.file_bytes <= budget  # the guarantee, whatever the probe says
        assert r.file_bytes == codec.size(r.quality) + 10
        fills.append(r.file_bytes / budget)
        old = max(i for i, s in enumerate(codec.sizes) if s + 10 <= budget)
        assert r.file_bytes >= min(codec.sizes[old] + 10, 0.8 * budget)  # near the qp steps alone
    assert statistics.median(fills) >= 0.95  # issue 13's criterion (measured: 0.965 biased, 0.97 exact)


class Prepared:
    """What VVCCodec.encoder gives rate control: encodes with threads, probes, a calibration."""

    def __init__(self, codec, pixels, calibration_error):
        self.codec, self.pixels, self.error, self.threads = codec, pixels, calibration_error, []
        self.probe = codec.size_probe(None)

    def __call__(self, quality, threads=1):
        self.threads.append(threads)
        return self.codec.encode(None, quality)

    def probe_ratio(self, quality):  # the mosaic's estimate of real / probe, off by `error`
        return self.error / self.codec.probe_bias(quality)

    def rate_hints(self, budget):
        return RateHints(probe_ratio=self.probe_ratio)


def test_large_pictures_take_one_threaded_encode_per_round():
    rng = random.Random(11)
    fills, reals = [], []
    for _ in range(300):
        codec = _random_codec(rng, True)
        prepared = Prepared(codec, ratecontrol.SINGLE_PIXELS, rng.uniform(0.975, 1.025))
        codec.encoder = lambda rgb, p=prepared: p
        budget = int(rng.uniform(codec.sizes[0] + 10, codec.sizes[-1]))
        r = _fit(codec, budget, workers=2)
        assert r.file_bytes <= budget and r.file_bytes == codec.size(r.quality) + 10
        assert set(prepared.threads) == {2}  # one encode at a time, with both workers as threads
        fills.append(r.file_bytes / budget)
        reals.append(r.tries)
    assert statistics.median(fills) >= 0.96
    assert statistics.mean(reals) <= 2 and max(reals) <= 4
    small = FakeCodec([int(40 * 1.1**i) for i in range(44)], probe_bias=lambda q: 1.0)
    prepared = Prepared(small, ratecontrol.SINGLE_PIXELS - 1, 1.0)
    small.encoder = lambda rgb: prepared
    _fit(small, 500, workers=2)
    assert set(prepared.threads) == {1}  # small pictures: parallel single-threaded encodes


SHAPE = (0.035, 0.075, 0.175, 0.32, 0.59)


class CalibratedCodec(FakeCodec):
    """Like VVC for small pictures: refinements following a shape, a biased probe and a
    closer calibration probe, priors for both ratios."""

    refinement_shape = SHAPE

    def __init__(self, rng: random.Random):
        step = rng.uniform(1.08, 1.22)
        sizes, s = [], rng.uniform(20, 60)
        for _ in range(44):
            sizes.append(int(s))
            s *= step * rng.uniform(0.97, 1.03)
        chroma = rng.uniform(0.1, 1.4)  # what the last refinement adds: photo-dependent
        fine = {q: [int(b * (1 + chroma * f * rng.uniform(0.9, 1.1))) for f in (*SHAPE, 1.0)]
                for q, b in enumerate(sizes[:-1])}
        per_image, closer = rng.uniform(0.85, 1.12), rng.uniform(0.95, 1.05)  # measured: sd 10 % and 4.6 %
        bias, cal = {}, {}
        super().__init__(sizes, fine=fine, probe_bias=lambda q: bias.setdefault(q, per_image * rng.uniform(0.96, 1.04)))
        self.calibrations = []

        def calibration_probe(q):
            self.calibrations.append(q)
            return int(self.size(q) * cal.setdefault(q, closer * rng.uniform(0.98, 1.02)))

        self.prepared = type("Prepared", (), {
            "pixels": 256 * 256, "prior_ratio": 1 / per_image * rng.uniform(0.9, 1.1), "calibration_prior": 1.0,
            "probe": staticmethod(self.size_probe(None)), "calibration_probe": staticmethod(calibration_probe),
            "__call__": lambda _self, q, threads=1: self.encode(None, q),
            "rate_hints": lambda _self, budget: RateHints(
                prior_ratio=_self.prior_ratio, calibration_probe=_self.calibration_probe,
                calibration_prior=_self.calibration_prior, refinement_shape=self.refinement_shape)})()

    def encoder(self, rgb):
        return self.prepared


def test_small_pictures_with_a_calibration_take_one_round_mostly_and_fill_the_budget():
    rng = random.Random(5)
    fills, reals, probes = [], [], []
    refined = bigger = 0
    for _ in range(300):
        codec = CalibratedCodec(rng)
        budget = int(rng.uniform(codec.sizes[3] + 10, codec.sizes[-2]))
        r = _fit(codec, budget, workers=2)
        assert r.file_bytes <= budget and r.file_bytes == codec.size(r.quality) + 10
        assert len(codec.calibrations) == 1  # one closer probe, beside the probe search
        if r.quality >= 1000:  # a refinement lies below the next coarse setting (a lower qp beats it)
            refined += 1
            bigger += codec.size(r.quality) > codec.size(r.quality // 1000)
        fills.append(r.file_bytes / budget)
        reals.append(r.tries)
        probes.append(r.probes)
    assert statistics.median(fills) >= 0.95
    assert sum(n <= 2 for n in reals) >= 0.75 * len(reals)  # one round of two parallel encodes (88 %)
    assert statistics.mean(reals) <= 2.6 and statistics.mean(probes) <= 8  # 2.18 and 7.0
    assert bigger <= 0.05 * refined  # estimates are noisy: 6 of 236


def test_a_failing_calibration_probe_falls_back_to_the_prior():
    rng = random.Random(9)
    fills = []
    for _ in range(60):
        codec = CalibratedCodec(rng)

        def fail(q):
            raise BackendUnavailable("libvvenc failed: no")

        codec.prepared.calibration_probe = fail
        budget = int(rng.uniform(codec.sizes[3] + 10, codec.sizes[-2]))
        r = _fit(codec, budget, workers=2)
        assert r.file_bytes <= budget and r.file_bytes == codec.size(r.quality) + 10
        fills.append(r.file_bytes / budget)
    assert statistics.median(fills) >= 0.95  # 0.97, in 3 real encodes on average


def test_refinement_sizes_are_estimated_from_their_last_one():
    codec = FakeCodec([100, 120, 144], fine={1: [130, 140, 150, 160, 170, 210]}, probe_bias=lambda q: 1.0)
    s = ratecontrol._Search(lambda q: bytes(codec.size(q)), lambda q: codec.size(q), 1000, None, 2)
    s.shape = SHAPE
    s.probe_sizes([0, 1])
    s._probe_fine([0, 1, 2], codec.refinements, 1, 1.0)
    assert set(s.probed) == {0, 1, 2005}  # coarse settings and the last refinement only
    assert [round(s._est(2000 + k), 6) for k in range(6)] == [round(120 + 90 * f, 6) for f in (*SHAPE, 1.0)]
    assert s._est(2) == pytest.approx(144)  # an unprobed neighbour: the growth between probes


def test_probe_index_can_stop_at_the_models_guess():
    sizes = [int(40 * 1.1**i) for i in range(44)]
    codec = FakeCodec(sizes, probe_bias=lambda q: 1.0)
    s = ratecontrol._Search(lambda q: bytes(sizes[q]), lambda q: sizes[q], 700, None, 2)
    s.coarse = qs = list(range(44))
    s.anchors = (10, 40)
    guess = s._probe_index(qs, 700, rounds=0)
    assert sorted(s.probed) == [10, 40]  # the anchors only
    best = max(i for i, x in enumerate(sizes) if x <= 700)
    assert abs(guess - best) <= 1 and s._probe_index(qs, 700) == best


def test_probe_saves_real_encodes():
    rng = random.Random(3)
    codec = _random_codec(rng, True)
    _fit(codec, int(codec.sizes[30]))
    assert len(codec.calls) <= 6 and len(codec.probes) >= len(codec.calls)


def test_vvc_quality_packing_round_trips():
    S = vvc.Settings
    seen = set()
    for qp in range(vvc.QP_MAX + 1):
        assert vvc.pack_quality(S(qp)) == qp and vvc.unpack_quality(qp) == S(qp, 0, True)  # old files
        for qpa in (True, False):
            for k in range(0 if not qpa else 1, vvc.CHROMA_MAX + 1):
                q = vvc.pack_quality(S(qp, -k, qpa))
                assert q >= 64 and vvc.unpack_quality(q) == S(qp, -k, qpa) and vvc.qp_of_quality(q) == qp
                assert q not in seen
                seen.add(q)
    assert seen == set(range(64, vvc.QUALITY_MAX + 1))  # dense: every value is one setting
    assert vvc.QUALITY_MAX < 2**14  # at most 2 varint bytes
    for bad in (-1, vvc.QUALITY_MAX + 1):
        with pytest.raises(ValueError):
            vvc.unpack_quality(bad)
    for bad_settings in (S(64), S(30, 1), S(30, -13)):
        with pytest.raises(InputError):
            vvc.pack_quality(bad_settings)
    codec = vvc.VVCCodec()
    for qpa in (True, False):  # refinements keep the quality's QPA
        refs = codec.refinements(vvc.pack_quality(S(50, 0, qpa)))
        assert [vvc.unpack_quality(q) for q in refs] == [S(50, -k, qpa) for k in vvc.CHROMA_STEPS]
        assert codec.refinements(refs[0]) == ()
        assert codec.refinements(vvc.pack_quality(S(vvc.QP_MIN, 0, qpa))) == ()  # the top: no next step
    # sggic's steps: qp 63..20 with QPA off (the default since issue 13: packed qualities)
    assert vvc.QPA is False
    assert [vvc.unpack_quality(q) for q in codec.qualities()] == [S(qp, 0, False) for qp in range(63, 19, -1)]
    assert list(codec.file_qualities()) == list(range(63, 19, -1))  # a user's plain-qp stream (the bench)


@pytest.mark.parametrize("bpp", [0, -0.1, math.nan, 9, "0.03"])
def test_budget_rejects_bad_targets(bpp):
    with pytest.raises(InputError):
        budget_bytes(bpp, 512, 512)


def test_budget_is_whole_bytes():
    assert budget_bytes(0.03, 512, 512) == 983
