import math

import numpy as np
import pytest

from sggic.codecs.base import BaseCodec
from sggic.errors import InputError, RateError
from sggic.ratecontrol import budget_bytes, fit_rate


class FakeCodec(BaseCodec):
    name = "fake"
    codec_id = 99

    def __init__(self, sizes, refuse=()):
        self.sizes, self.refuse, self.calls = list(sizes), set(refuse), []

    def qualities(self):
        return list(range(len(self.sizes)))

    def encode(self, rgb, quality):
        self.calls.append(quality)
        if quality in self.refuse:
            from sggic.errors import BackendUnavailable

            raise BackendUnavailable("refused")
        return self.sizes[quality].to_bytes(8, "big")

    def decode(self, payload, width, height, quality):  # pragma: no cover
        raise NotImplementedError


def _fit(codec, budget):
    return fit_rate(codec, np.zeros((4, 4, 3), np.uint8), budget, lambda q, p: int.from_bytes(p, "big") + 10, 64)


@pytest.mark.parametrize("growth", [1.03, 1.12, 1.4])
def test_search_finds_the_largest_fitting_quality_with_few_encodes(growth):
    sizes = [int(40 * growth**i) for i in range(44)]
    for budget in sorted({int(b) for b in np.geomspace(60, sizes[-1] + 200, 150)}):
        codec = FakeCodec(sizes)
        r = _fit(codec, budget)
        best = max(i for i, s in enumerate(sizes) if s + 10 <= budget)
        assert r.quality == best and r.file_bytes == sizes[best] + 10
        assert len(codec.calls) <= 9
        if best < len(sizes) - 2:  # (to prove best = len-2 the top must be tried)
            assert len(sizes) - 1 not in codec.calls  # never encodes the top just to bound


def test_plateaus_are_fine():
    sizes = [50, 60, 70, 70, 70, 90, 120, 160]
    r = _fit(FakeCodec(sizes), 80)
    assert r.quality == 4


def test_unreachable_target_and_refused_qualities():
    with pytest.raises(RateError, match="below the smallest file"):
        _fit(FakeCodec([100, 200]), 50)
    codec = FakeCodec([20, 30, 40, 50, 60, 70], refuse={4, 5})
    assert _fit(codec, 1000).quality == 3


@pytest.mark.parametrize("bpp", [0, -0.1, math.nan, 9, "0.03"])
def test_budget_rejects_bad_targets(bpp):
    with pytest.raises(InputError):
        budget_bytes(bpp, 512, 512)


def test_budget_is_whole_bytes():
    assert budget_bytes(0.03, 512, 512) == 983
