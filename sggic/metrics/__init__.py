"""Image-quality metrics for the benchmark and the decoder's adaptive stage.

Importing this package is cheap: it loads only the metadata registry. A metric's
implementation (and numpy, scipy, torch, parameter files) loads on first use.

    from sggic.metrics import get_metric, normalise
    psnr = get_metric("psnr")(ref, img)          # full-reference: m(ref, img)
    q = get_metric("brisque")(img)               # no-reference: m(img)
    normalise("brisque", q)                      # -> [0, 1], 1 = best

Images are (h, w, 3) uint8 RGB numpy arrays. See docs/metrics.md.
"""

from __future__ import annotations

from .registry import (
    GROUPS,
    Metric,
    MetricInfo,
    available_metrics,
    get_metric,
    group_means,
    list_metrics,
    normalise,
    unavailable_metrics,
)

__all__ = [
    "GROUPS",
    "Metric",
    "MetricInfo",
    "available_metrics",
    "get_metric",
    "group_means",
    "list_metrics",
    "normalise",
    "unavailable_metrics",
]
