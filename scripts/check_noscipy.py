#!/usr/bin/env python
"""The decoder's features without scipy against the former scipy code, on the dev photos.

    PYTHONPATH=. .venv/bin/python scripts/check_noscipy.py [--rates 0.02,0.03,0.05]

The decode path no longer imports scipy (import time): the MSCN blur, Canny's hysteresis
and NIQE's parameter file use numpy code that gives scipy's results bit for bit, and
log-gamma is ``math.lgamma`` instead of ``scipy.special.gammaln`` (ulp-level differences).
This script swaps the scipy functions back in (monkeypatching, in the same process) and
reports, over each dev photo's decoded base (512x512 test image, default restorer
``generative``) at each rate, the largest absolute and relative differences of the
shape-ratio table, BRISQUE, NIQE, the offline features and the unrounded strength, and
whether the adaptive strength (rounded to 4 decimals, as the policy does) is the same.
Needs scipy.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextmanager
def scipy_reference() -> Iterator[None]:
    """The former implementation: scipy's correlate1d, label, gammaln and loadmat."""
    from scipy import ndimage
    from scipy.io import loadmat
    from scipy.special import gammaln

    from sggic.adapt import features
    from sggic.metrics import _nss, niqe

    def correlate1d(x, w, axis, mode):  # type: ignore[no-untyped-def]
        return ndimage.correlate1d(x, w, axis=axis, mode=mode)

    def connected_to_seeds(mask, seeds):  # type: ignore[no-untyped-def]
        lab, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
        keep = np.zeros(n + 1, dtype=bool)
        keep[np.unique(lab[seeds & mask])] = True
        keep[0] = False
        return keep[lab]

    a = _nss._SHAPES
    table = np.exp(2.0 * gammaln(2.0 / a) - gammaln(1.0 / a) - gammaln(3.0 / a))
    saved = (_nss.correlate1d, _nss.gammaln, niqe.gammaln, _nss._ratio_table, features.connected_to_seeds,
             niqe.read_doubles)
    _nss.correlate1d, _nss.gammaln, niqe.gammaln = correlate1d, gammaln, gammaln
    _nss._ratio_table = lambda: table  # type: ignore[assignment]
    features.connected_to_seeds = connected_to_seeds
    niqe.read_doubles = lambda path, owner: loadmat(str(path))  # type: ignore[assignment]
    niqe._model.cache_clear()
    try:
        yield
    finally:
        (_nss.correlate1d, _nss.gammaln, niqe.gammaln, _nss._ratio_table, features.connected_to_seeds,
         niqe.read_doubles) = saved
        niqe._model.cache_clear()


def measure(rates: tuple[float, ...], restorer: str) -> dict:
    from sggic.adapt.adaptive import AdaptivePolicy
    from sggic.adapt.features import OFFLINE_FEATURES, FeatureExtractor, FeatureInput
    from sggic.adapt.labels import test_image
    from sggic.metrics import _nss, brisque, niqe
    from sggic.photos import read_photos
    from sggic.pipeline import decode_detailed, encode_detailed

    from sggic.adapt.adaptive import shipped_model

    model = shipped_model(restorer)
    names = tuple(OFFLINE_FEATURES) + ("brisque score", "niqe score", "strength (unrounded)")
    worst = {n: [0.0, 0.0] for n in ("ratio table",) + names}
    with scipy_reference():
        ref_table = _nss._ratio_table()
    new_table = _nss._ratio_table()
    d = np.abs(new_table - ref_table)
    worst["ratio table"] = [float(d.max()), float((d / np.abs(ref_table)).max())]
    changed = []
    rows = []
    margin = float("inf")  # closest clipped, unrounded strength to a 4-decimal rounding boundary
    for photo in read_photos(split="dev"):
        img = test_image(photo.id)
        for bpp in rates:
            data = encode_detailed(img, bpp=bpp, restorer=restorer).data
            r = decode_detailed(data)
            base, fbpp = r.base, len(data) * 8 / (img.shape[0] * img.shape[1])  # as the decoder
            out = {}
            for mode in ("new", "ref"):
                with scipy_reference() if mode == "ref" else nullcontext():
                    f = FeatureExtractor(OFFLINE_FEATURES)(FeatureInput(base, fbpp))
                    f["brisque score"] = brisque.compute(base)
                    f["niqe score"] = niqe.compute(base)
                    f["strength (unrounded)"] = float(model.predict({n: f[n] for n in model.features})["strength"])
                    s = AdaptivePolicy().choose(base, r.semantics, fbpp, restorer).strength
                out[mode] = (f, s)
            for n in names:
                a, b = out["new"][0][n], out["ref"][0][n]
                worst[n][0] = max(worst[n][0], abs(a - b))
                worst[n][1] = max(worst[n][1], abs(a - b) / abs(b) if b else 0.0)
            head = model.heads["strength"]
            raw = float(np.clip(out["new"][0]["strength (unrounded)"], max(0.0, head.lo), min(1.0, head.hi)))
            if head.lo < raw < head.hi:  # at a clip bound the strength cannot move
                margin = min(margin, abs((raw * 1e4) % 1.0 - 0.5) / 1e4)
            rows.append((photo.id, bpp, out["new"][1], out["ref"][1], r.settings.strength))
            if out["new"][1] != out["ref"][1]:
                changed.append(rows[-1])
            print(f"{photo.id} {bpp}: strength {out['new'][1]} (scipy {out['ref'][1]}, decoder {r.settings.strength})",
                  flush=True)
    return {"worst": worst, "changed": changed, "rows": rows, "margin": margin}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="0.02,0.03,0.05")
    ap.add_argument("--restorer", default="generative")
    a = ap.parse_args()
    res = measure(tuple(float(x) for x in a.rates.split(",")), a.restorer)
    print("\n| quantity | max abs diff | max rel diff |\n|---|---|---|")
    for n, (ab, rel) in res["worst"].items():
        print(f"| {n} | {ab:.3g} | {rel:.3g} |")
    print(f"\nadaptive strength changed on {len(res['changed'])} of {len(res['rows'])} samples"
          + "".join(f"\n  {c}" for c in res["changed"]))
    print(f"closest unclipped strength to a rounding boundary: {res['margin']:.3g}")


if __name__ == "__main__":
    main()
