"""Metrics that need pretrained networks which cannot be had offline.

LPIPS and DISTS need ImageNet VGG/AlexNet weights; CLIP-IQA+, MUSIQ, LIQE, DBCNN and
HyperIQA need their own trained weights. None ships in any package reachable here (see
shared/notes/offline-assets.md), and sggic does not implement these networks. They are
registered so the benchmark can name them and report why they are missing; they never
fall back to a different metric, since that would mislabel numbers.
"""

from __future__ import annotations

from ..errors import BackendUnavailable

_WHY: dict[str, str] = {
    "lpips": "needs ImageNet AlexNet/VGG weights and LPIPS linear layers (no offline copy)",
    "dists": "needs ImageNet VGG16 weights and DISTS alpha/beta (no offline copy)",
    "clipiqa": "needs CLIP weights and CLIP-IQA+ prompts (no offline copy)",
    "musiq": "needs MUSIQ weights trained on KonIQ/SPAQ (no offline copy)",
    "liqe": "needs CLIP-based LIQE weights (no offline copy)",
    "dbcnn": "needs DBCNN weights (VGG16 + SCNN) (no offline copy)",
    "hyperiqa": "needs HyperIQA ResNet-50 weights (no offline copy)",
}


def check(name: str) -> None:
    raise BackendUnavailable(f"{name} unavailable: {_WHY.get(name, 'no implementation')}")


def compute(*images: object) -> float:  # pragma: no cover - check() always raises first
    raise BackendUnavailable("metric unavailable: no offline weights")
