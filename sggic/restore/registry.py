"""Restorers by name and by the frozen integer id that .sgc headers record.

Ids are written into files, so they are frozen here (and in docs/format.md): never
reuse or renumber one. An id also pins the restorer's weights: a retrained network whose
output differs gets a new id (e.g. "fitted-2"), so an old file keeps decoding with the
weights it was made for without spending a byte on a weights version (the golden test
tests/test_golden.py fails if the shipped weights change under an existing id).
Implementations are named by ``"module:attr"`` and imported only when asked for, so
listing restorers or reading a header never loads a network or a heavy dependency.
Adding a restorer is one line in :data:`RESTORERS`.
"""

from __future__ import annotations

from ..config import RunConfig
from ..errors import BitstreamError
from ..registry import Entry, Registry
from .base import Restorer

RESTORERS: Registry[Entry] = Registry("restorer", (
    Entry("bicubic", 1, "sggic.restore.bicubic:BicubicRestorer", "Pillow bicubic 2x; no weights"),
    Entry("realesrgan", 2, "sggic.restore.realesrgan:RealESRGANRestorer",
          "Real-ESRGAN x4plus (ncnn, CPU) then LANCZOS to 2x"),
    Entry("fitted", 3, "sggic.restore.fitted:FittedRestorer",
          "compact CNN fitted to the VVC base, qp-conditioned (torch, CPU); bicubic for other codecs"),
    Entry("generative-1", 4, "sggic.restore.generative:GenerativeRestorerV1",
          "v1 of generative (files written before v2): distilled on QPA-on VVC bases (ncnn, CPU)"),
    Entry("diffusion", 5, "sggic.restore.diffusion.restorer:DiffusionRestorer",
          "DiffBIR v2-style diffusion (SD 2.1 + IRControlNet) 2x restoration and per-object refinement"),
    Entry("generative-2", 6, "sggic.restore.generative:GenerativeRestorerV2",
          "v2 of generative (files written before v3): distilled from Real-ESRGAN without adversarial term (ncnn, CPU)"),
    Entry("generative-3", 7, "sggic.restore.generative:GenerativeRestorerV3",
          "v3 of generative with its first adaptive model (files written before the adaptive target changed)"),
    Entry("generative-3b", 8, "sggic.restore.generative:GenerativeRestorerV3b",
          "v3 of generative with its second adaptive model (files written before v4)"),
    Entry("generative", 9, "sggic.restore.generative:GenerativeRestorer",
          "compact CNN distilled from Real-ESRGAN with an adversarial term, qp- and strength-conditioned (ncnn, CPU)"),
))

# What header id 0 ("the decoder's default") means.
DEFAULT_RESTORER = "generative"  # v4 (id 9): fitted's fidelity plus generated texture, fast (docs/restorer-generative.md)

RESTORER_NAMES: tuple[str, ...] = RESTORERS.available_names
# Ids promised to work that is not in this version yet; never hand them to anything else.
RESERVED_IDS: dict[int, str] = {e.id: e.name for e in RESTORERS if e.reserved and e.id is not None}


def restorer_info(name: str) -> Entry:
    """Look a name up, or raise InputError that suggests the closest known name."""
    return RESTORERS.info(name)


def restorer_id(name: str) -> int:
    """The frozen header id for ``name`` (InputError on an unknown name)."""
    rid = restorer_info(name).id
    assert rid is not None  # every restorer entry has an id (checked in the tests)
    return rid


def restorer_name(rid: int) -> str:
    """A display name for a header id; never raises, so ``info`` works on any file."""
    if rid == 0:
        return DEFAULT_RESTORER
    if RESTORERS.has_id(rid):
        return RESTORERS.by_id(rid).name
    return f"unknown-{rid}"


def get_restorer(name: str, config: RunConfig | None = None) -> Restorer:
    """Build the restorer called ``name`` from ``config`` (device, threads, models).

    Construction is cheap: restorers load their weights lazily on first use; a reserved
    name raises BackendUnavailable in one line.
    """
    rest: Restorer = RESTORERS.load(name).from_config(config)
    return rest


def restorer_by_id(rid: int, config: RunConfig | None = None) -> Restorer:
    """Build the restorer a header names: 0 is the default, reserved/unknown ids fail."""
    if rid == 0:
        return get_restorer(DEFAULT_RESTORER, config)
    if not RESTORERS.has_id(rid):
        raise BitstreamError(f"unknown restorer id {rid} in the file header")
    return get_restorer(RESTORERS.by_id(rid).name, config)
