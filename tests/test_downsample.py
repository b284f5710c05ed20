"""downsample2x lives with the codecs' pixel plumbing; the encoder imports that one."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sggic.codecs._pixels import downsample2x


def test_downsample2x_is_lanczos_to_the_rounded_up_half():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    out = downsample2x(img)
    assert out.shape == (19, 25, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.asarray(Image.fromarray(img).resize((25, 19), Image.Resampling.LANCZOS)))
    flat = np.full((8, 9, 3), 77, np.uint8)
    assert np.array_equal(downsample2x(flat), np.full((4, 5, 3), 77, np.uint8))


def test_one_downsample2x_for_encoder_and_training():
    import sggic.pipeline as pipeline

    assert pipeline.downsample2x is downsample2x
    assert "def downsample2x" not in open(pipeline.__file__).read()
