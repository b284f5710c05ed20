"""Registry of image-quality metrics: metadata here, implementations elsewhere.

Metadata (reference type, orientation, score range, group) is plain data so that the
benchmark can normalise and group scores, and list what exists, without importing any
implementation. Each implementation lives in its own module, imported on first use, so
``import sggic.metrics`` stays cheap and never touches torch or a model file.

Score ranges follow IQA-PyTorch's ranges as used by the paper's protocol (scores are
mapped to [0, 1] with them, flipped where lower is better, and averaged within a group).
SSIMULACRA2 and PIQE are not part of the paper's protocol; their ranges are our choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from ..config import DEFAULT_CONFIG, RunConfig
from ..errors import BackendUnavailable, InputError
from ..registry import Entry, Registry, load_target

Group = Literal["pixel", "perceptual_similarity", "perceptual_quality"]
GROUPS: tuple[Group, ...] = ("pixel", "perceptual_similarity", "perceptual_quality")


@dataclass(frozen=True)
class MetricInfo(Entry):
    """What a metric is, independent of whether it can run here.

    The shared registry fields (:class:`sggic.registry.Entry`): ``name``, ``id`` (None:
    files never name a metric), ``target`` (the implementation module inside
    :mod:`sggic.metrics`, imported lazily; it has ``check(name)`` and ``compute(...)``)
    and ``summary``.
    """

    full_reference: bool
    lower_is_better: bool
    score_range: tuple[float, float]
    group: Group
    paper_protocol: bool
    """True when the paper's evaluation averages this metric into its group."""


def _info(name: str, fr: bool, lower: bool, lo: float, hi: float, group: Group, paper: bool,
          summary: str, module: str | None = None) -> MetricInfo:
    return MetricInfo(name, None, f"{__package__}.{module or name}", summary, fr, lower,
                      (float(lo), float(hi)), group, paper)


_NW = "no_weights"  # metrics whose pretrained networks are not available offline

_TABLE: tuple[MetricInfo, ...] = (
    _info("psnr", True, False, 0, 40, "pixel", True, "PSNR over RGB, dB"),
    _info("ms_ssim", True, False, 0, 1, "pixel", True, "multi-scale SSIM over RGB"),
    _info("lpips", True, True, 0, 1, "perceptual_similarity", True, "LPIPS (AlexNet/VGG)", _NW),
    _info("dists", True, True, 0, 1, "perceptual_similarity", True, "DISTS (VGG)", _NW),
    _info("ssimulacra2", True, False, -100, 100, "perceptual_similarity", False,
          "SSIMULACRA 2 (XYB multi-scale SSIM + edge/artefact maps); 100 = identical"),
    _info("niqe", False, True, 0, 100, "perceptual_quality", True,
          "NIQE: distance of the image's NSS features to a pristine-photo model"),
    _info("brisque", False, True, 0, 150, "perceptual_quality", True,
          "BRISQUE: SVR on MSCN natural-scene statistics"),
    _info("clipiqa", False, False, 0, 1, "perceptual_quality", True, "CLIP-IQA+", _NW),
    _info("musiq", False, False, 0, 100, "perceptual_quality", True, "MUSIQ", _NW),
    _info("liqe", False, False, 1, 5, "perceptual_quality", True, "LIQE", _NW),
    _info("dbcnn", False, False, 0, 1, "perceptual_quality", True, "DBCNN", _NW),
    _info("hyperiqa", False, False, 0, 1, "perceptual_quality", True, "HyperIQA", _NW),
    _info("piqe", False, True, 0, 100, "perceptual_quality", False,
          "PIQE (block-wise distortion estimate, via pypiqe)"),
)


def _canonical(name: str) -> str:
    return name.strip().lower().replace("-", "_")


METRICS: Registry[MetricInfo] = Registry("metric", _TABLE, canonical=_canonical)


def _lookup(name: str) -> MetricInfo:
    return METRICS.info(name)


def list_metrics() -> list[MetricInfo]:
    """All registered metrics, runnable here or not, in a fixed order."""
    return list(_TABLE)


class Metric:
    """A callable metric: ``m(ref, img)`` if full-reference, ``m(img)`` if no-reference.

    Images are (h, w, 3) uint8 RGB arrays; the result is the raw score in the metric's
    own units (see :attr:`info`), not normalised.
    """

    def __init__(self, info: MetricInfo, config: RunConfig | None = None) -> None:
        self.info = info
        self.config = config or DEFAULT_CONFIG  # device for the full profile's network metrics

    def __repr__(self) -> str:
        return f"Metric({self.info.name!r})"

    def _module(self) -> ModuleType:
        assert self.info.target is not None
        module: ModuleType = load_target(self.info.target)
        return module

    def unavailable_reason(self) -> str | None:
        """None when the metric can run here, else a one-line reason."""
        try:
            self.check_available()
        except BackendUnavailable as exc:
            return str(exc)
        return None

    def check_available(self) -> None:
        """Raise :class:`BackendUnavailable` (one line) when the metric cannot run here."""
        self._module().check(self.info.name)

    def __call__(self, *images: object) -> float:
        want = 2 if self.info.full_reference else 1
        if len(images) != want:
            usage = "m(ref, img)" if want == 2 else "m(img)"
            raise InputError(f"{self.info.name} takes {want} image(s) as {usage}, got {len(images)}")
        mod = self._module()
        mod.check(self.info.name)
        try:
            return float(mod.compute(*images))
        except ImportError as exc:  # found but broken backend (e.g. a failing native lib)
            raise BackendUnavailable(f"{self.info.name} unavailable: {exc}") from None


def get_metric(name: str, config: RunConfig | None = None) -> Metric:
    """The metric called ``name`` (case and '-'/'_' insensitive); InputError if unknown."""
    return Metric(_lookup(name), config)


def available_metrics() -> list[str]:
    """Names of the metrics that can run here (imports their backends to find out)."""
    return [m.name for m in _TABLE if Metric(m).unavailable_reason() is None]


def unavailable_metrics() -> dict[str, str]:
    """Name -> one-line reason for every metric that cannot run here."""
    out: dict[str, str] = {}
    for m in _TABLE:
        why = Metric(m).unavailable_reason()
        if why is not None:
            out[m.name] = why
    return out


def normalise(name: str, value: float) -> float:
    """Map a raw score to [0, 1] with the registered range, 1 always meaning best.

    Values outside the range are clipped (PSNR of identical images is +inf -> 1.0). NaN
    is refused: it would silently drop out of, or poison, a group mean.
    """
    info = _lookup(name)
    v = float(value)
    if math.isnan(v):
        raise InputError(f"normalise: {info.name} value is NaN")
    lo, hi = info.score_range
    x = min(1.0, max(0.0, (v - lo) / (hi - lo)))
    return 1.0 - x if info.lower_is_better else x


def group_means(scores: Mapping[str, float], paper_only: bool = True) -> dict[str, float]:
    """Mean normalised score per group, over the metrics present in ``scores``.

    With ``paper_only`` the metrics outside the paper's protocol (ssimulacra2, piqe) are
    left out, so the numbers stay comparable with the paper's groups. A group with no
    metric in ``scores`` is absent from the result rather than 0.
    """
    sums: dict[str, list[float]] = {}
    for name, value in scores.items():
        info = _lookup(name)
        if paper_only and not info.paper_protocol:
            continue
        sums.setdefault(info.group, []).append(normalise(info.name, value))
    return {g: sum(v) / len(v) for g in GROUPS if (v := sums.get(g))}
