"""The base-layer codec interface.

A base codec turns the half-resolution RGB image into the smallest payload it can and
back. It stores only what its decoder cannot rebuild: anything derivable from
``(width, height, quality)`` (parameter sets, container boxes) is regenerated on decode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..component import Component


@dataclass(frozen=True)
class RateHints:
    """What a prepared picture tells rate control beyond its encodes and probes
    (``sggic.ratecontrol``); every field is optional.

    * ``probe_ratio(q)``: an estimate of real / probe size at ``q`` for this picture.
    * ``prior_ratio``: the expected real / probe size ratio before any real encode.
    * ``calibration_probe(q)``: a slower probe whose size is closer to the real one,
      run beside the probe search; ``calibration_prior`` its expected real / size ratio.
    * ``refinement_shape``: where ``refinements(q)`` lie, all but the last, as fractions
      of the way from ``q``'s size to the last refinement's.
    * ``anchors``: the coarse settings to probe first for this budget.
    """

    probe_ratio: Callable[[int], float] | None = None
    prior_ratio: float = 1.0
    calibration_probe: Callable[[int], int] | None = None
    calibration_prior: float = 1.0
    refinement_shape: tuple[float, ...] | None = None
    anchors: tuple[int, ...] = ()


class PreparedPicture(Protocol):
    """A picture converted once for the many encodes of a rate search (``BaseCodec.encoder``)."""

    pixels: int  # of the padded picture the codec codes

    def __call__(self, quality: int, threads: int = 1) -> bytes:
        """The payload at ``quality`` (as ``BaseCodec.encode``); ``threads`` does not change it."""
        ...

    def probe(self, quality: int) -> int:
        """An estimate of the payload's size at ``quality``, cheaper than the encode."""
        ...

    def rate_hints(self, budget: int) -> RateHints:
        ...


class BaseCodec(Component, ABC):
    """One conventional (or learned) image codec behind a tiny contract.

    * ``name``: the command-line name (``--base NAME``).
    * ``codec_id``: frozen integer written in .sgc headers; never reuse or renumber.
    * ``qualities()``: the codec's native quality settings ordered from the smallest
      file to the largest (for VVC: qp 63, 62, ..., 0). Rate control searches this list.
    * ``encode(rgb, quality) -> bytes``: ``rgb`` is ``(h, w, 3)`` uint8.
    * ``decode(payload, width, height, quality) -> (height, width, 3) uint8``: must be
      deterministic; raises :class:`sggic.errors.BitstreamError` on a bad payload.
    * ``check_available()``: raises :class:`sggic.errors.BackendUnavailable` with an
      actionable one-line message when the backend cannot run here (the one availability
      method of every stage, :class:`sggic.component.Component`).
    * built by the registry (:data:`sggic.codecs.CODECS`) as ``Cls.from_config(config)``.
    * ``encode_file(rgb, quality) -> bytes`` / ``decode_file(data, width, height)``: the
      codec's standard file as its own tools write it (no template stripping), for the
      benchmark's baselines, at ``file_qualities()`` (default: ``qualities()``).
    * Rate-control hooks (optional): ``size_probe(rgb)`` returns a cheap estimator of
      the payload size at a quality (or None); ``refinements(quality)`` lists settings
      between ``quality`` and the next entry of ``qualities()``, smallest file first.
    """

    name: str = "?"
    codec_id: int = 0

    @abstractmethod
    def qualities(self) -> Sequence[int]: ...

    def weights_version_at(self, quality: int) -> int:
        """The weights version a file coded at ``quality`` records (0: nothing to record).

        Codecs whose weights differ per quality (Cheng2020: one checkpoint per level)
        override this; the default is the component's ``weights_version``.
        """
        return self.weights_version

    @abstractmethod
    def encode(self, rgb: np.ndarray, quality: int) -> bytes: ...

    @abstractmethod
    def decode(self, payload: bytes, width: int, height: int, quality: int) -> np.ndarray: ...

    def encode_file(self, rgb: np.ndarray, quality: int) -> bytes:
        raise NotImplementedError(f"{self.name} writes no standard file")

    def decode_file(self, data: bytes, width: int, height: int) -> np.ndarray:
        raise NotImplementedError(f"{self.name} reads no standard file")

    def file_qualities(self) -> Sequence[int]:
        """The settings of the standard file a user makes with the codec's own tools
        (smallest file first); the same as ``qualities()`` unless the codec says otherwise."""
        return self.qualities()

    def writes_quality(self, quality: int) -> bool:
        """Whether this codec's encoder can write ``quality`` in a header; the decoder
        refuses any other value (a format has one encoding per file)."""
        return quality in self.qualities()

    @property
    def quality_description(self) -> str:
        """What ``writes_quality`` accepts, for error messages."""
        q = self.qualities()
        return f"{min(q)}..{max(q)}"

    def size_probe(self, rgb: np.ndarray) -> Callable[[int], int] | None:
        return None

    def encoder(self, rgb: np.ndarray) -> PreparedPicture | None:
        """``rgb`` prepared for a rate search, or None: then rate control calls ``encode``
        and ``size_probe`` with the picture each time."""
        return None

    def refinements(self, quality: int) -> Sequence[int]:
        return ()
