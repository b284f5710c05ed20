"""Profiles: which component runs each stage, and what a file records about it.

A profile is a named, pinned set of components, one per stage (base codec, segmenter,
settings policy, restorer). ``offline`` is the set that ships in packages and runs on
a CPU; ``full`` is the paper's (Cheng2020 base, CLIPSeg, the diffusion restorer, and a
settings policy: ``fixed`` until DynDiff is registered, see :data:`FULL_POLICY`), whose
models come from the model registry named by ``RunConfig.models``.

What a file records (docs/format.md, "Profile section"): the header already names the
base codec and the restorer by frozen id. An offline file records nothing more: the
absence of a profile section *is* the offline profile, whose segmenter (``none``) and
settings policy (``adaptive``; the header flag "fixed" selects ``fixed``) are pinned below, and whose restorers' weights are pinned by
their ids (a retrained restorer gets a new id). Any other profile writes a critical
profile section: its id and, for the segmenter and the settings policy always, and for
the codec and restorer when they run weights, the component's frozen id and weights
version. The decoder builds exactly those components and refuses, in one line, a file
whose components or weights it cannot provide.

For a new component: register it (one line in the stage's registry, replacing the
reserved entry), give its class ``from_config`` (device, threads, models) and a
``weights_version`` (codecs: ``weights_version_at(quality)``, as Cheng2020 records each
level's fingerprint), and :func:`encoder_stages` / :func:`decoder_stages` do the rest.
The ``patchmap`` segmenter is the one component with data in the file (section 0x05, made
at the encoder by :func:`sggic.segment.patchmap.encode_maps`).
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass, field
from typing import Iterator, TypeVar

from . import container
from .adapt.base import SettingsPolicy
from .adapt.registry import POLICIES, get_policy
from .codecs import CODECS, BaseCodec, codec_by_id, get_codec
from .component import Component
from .config import DEFAULT_CONFIG, RunConfig
from .errors import BackendUnavailable, BitstreamError, InputError, MissingWeights, SggicError
from .registry import Entry, Registry
from .restore.base import Restorer
from .restore.registry import DEFAULT_RESTORER, RESTORERS, get_restorer, restorer_by_id, restorer_name
from .segment.base import Segmenter
from .segment.registry import SEGMENTERS, get_segmenter

C = TypeVar("C", bound=Component)


@dataclass(frozen=True)
class Profile:
    """A pinned component set. ``id`` is frozen (written in files); 0 = offline, never written."""

    id: int
    name: str
    base: str
    segmenter: str
    policy: str
    restorer: str
    summary: str


# The full profile's settings policy. "dyndiff" (the paper's content-adaptive policy) is
# registered in sggic/adapt/registry.py, but no DynDiff weights exist yet (they need a
# diffusion restorer to label with); once they do, this line becomes FULL_POLICY = "dyndiff"
# (files record the policy, so older full files keep "fixed").
FULL_POLICY = "fixed"

OFFLINE = Profile(0, "offline", "vvc", "none", "adaptive", DEFAULT_RESTORER,
                  "CPU only, components that ship in packages (VVC, generative CNN via ncnn); no masks, "
                  "adaptive strength for restorers that have one")
FULL = Profile(1, "full", "cheng2020", "clipseg", FULL_POLICY, "diffusion",
               f"the paper's models from the model registry (--models): Cheng2020, CLIPSeg, "
               f"settings '{FULL_POLICY}', diffusion restorer (SD 2.1 + IRControlNet, as DiffBIR)")
PROFILES: tuple[Profile, ...] = (OFFLINE, FULL)

# stage id (as recorded in files) -> the stage's registry
STAGE_REGISTRIES: dict[int, Registry[Entry]] = {
    container.STAGE_CODEC: CODECS,
    container.STAGE_SEGMENT: SEGMENTERS,
    container.STAGE_ADAPT: POLICIES,
    container.STAGE_RESTORE: RESTORERS,
}


def get_profile(name: str) -> Profile:
    for p in PROFILES:
        if p.name == name:
            return p
    names = [p.name for p in PROFILES]
    close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise InputError(f"unknown profile '{name}'{hint} (known: {', '.join(names)})")


def profile_by_id(pid: int) -> Profile:
    for p in PROFILES:
        if p.id == pid:
            return p
    raise BitstreamError(f"unknown profile id {pid} in the file (file from a newer sggic?)")


@dataclass
class Stages:
    """The built components of one encode or decode, and what to tell the user."""

    profile: Profile
    codec: BaseCodec
    segmenter: Segmenter
    policy: SettingsPolicy
    restorer: Restorer
    warnings: list[str] = field(default_factory=list)

    def components(self) -> dict[str, Component]:
        return {"codec": self.codec, "segmenter": self.segmenter, "settings policy": self.policy,
                "restorer": self.restorer}

    def check_available(self) -> None:
        """Every component's availability check; the first failure names its stage."""
        for stage, comp in self.components().items():
            try:
                comp.check_available()
            except SggicError as exc:
                raise type(exc)(f"{stage} '{comp.name}' cannot run here: {exc}") from None


def unavailable_profile(profile: Profile, exc: SggicError) -> SggicError:
    """``exc`` as one line that says which profile cannot run here."""
    return type(exc)(f"the {profile.name} profile cannot run here: {exc}")


@contextlib.contextmanager
def profile_errors(profile: Profile) -> Iterator[None]:
    """Inside the block, a component that cannot run here fails as :func:`unavailable_profile`
    (under a profile other than offline); errors of the file or of the caller's input pass as they are."""
    try:
        yield
    except (BitstreamError, InputError):
        raise
    except SggicError as exc:
        if profile is OFFLINE:
            raise
        raise unavailable_profile(profile, exc) from None


def _id(registry: Registry[Entry], name: str) -> int:
    ident = registry.info(name).id
    assert ident is not None
    return ident


def encoder_stages(config: RunConfig | None = None, base: str | None = None,
                   restorer: str | None = None, segmenter: str | None = None) -> Stages:
    """The components an encode with ``config.profile`` records (built, nothing loaded).

    ``base``/``restorer``/``segmenter`` override the profile's (all are recorded in the
    file, so this is not a mismatch; another segmenter than the profile's needs a profile
    section, so not under the offline profile). Raises a one-line SggicError when the
    profile names a component this version or this machine cannot build.
    """
    cfg = config or DEFAULT_CONFIG
    prof = get_profile(cfg.profile)
    if segmenter is not None and prof is OFFLINE and segmenter != prof.segmenter:
        SEGMENTERS.info(segmenter)  # an unknown name is reported as such first
        raise InputError(f"segmenter '{segmenter}' is a full-profile component; add --profile full")
    try:
        seg = get_segmenter(segmenter or prof.segmenter, cfg)
        pol = get_policy(prof.policy, cfg)
        rest = get_restorer(restorer or prof.restorer, cfg)
        codec = get_codec(base or prof.base, cfg)
    except InputError:
        raise
    except SggicError as exc:
        raise unavailable_profile(prof, exc) from None
    return Stages(prof, codec, seg, pol, rest)


def record_for(stages: Stages, quality: int | None = None) -> container.ProfileRecord | None:
    """The profile section an encode with these stages writes (None for offline).

    ``quality`` is the base codec's chosen quality: codecs whose weights differ per
    quality (Cheng2020's levels) record that level's weights version.
    """
    if stages.profile.id == OFFLINE.id:
        return None
    comps = [
        container.ComponentRecord(container.STAGE_SEGMENT, _id(SEGMENTERS, stages.segmenter.name),
                                  stages.segmenter.weights_version),
        container.ComponentRecord(container.STAGE_ADAPT, _id(POLICIES, stages.policy.name),
                                  stages.policy.weights_version),
    ]
    codec_version = (stages.codec.weights_version if quality is None
                     else stages.codec.weights_version_at(quality))
    if codec_version:
        comps.append(container.ComponentRecord(container.STAGE_CODEC, stages.codec.codec_id, codec_version))
    if stages.restorer.weights_version:
        comps.append(container.ComponentRecord(container.STAGE_RESTORE, _id(RESTORERS, stages.restorer.name),
                                               stages.restorer.weights_version))
    return container.ProfileRecord(stages.profile.id, tuple(sorted(comps, key=lambda c: c.stage)))


def _check_weights(comp: C, stage: str, rec: container.ComponentRecord | None) -> C:
    """``comp``, built for a file, if its weights are the version the file records."""
    if rec is not None and comp.weights_version != rec.weights_version:
        raise MissingWeights(
            f"this file was made with {stage} '{comp.name}' weights version {rec.weights_version}, "
            f"but the models here are version {comp.weights_version}; point --models at the matching weights")
    return comp


def _override(comp: C, recorded: str, doing: str, warnings: list[str]) -> C:
    """``comp``, given by the caller instead of the recorded component: a warning if it differs."""
    if comp.name != recorded:
        warnings.append(f"{doing} with '{comp.name}' instead of the recorded '{recorded}': "
                        "the output differs from what the encoder intended")
    return comp


def decoder_stages(f: container.SgcFile, config: RunConfig | None = None, restorer: str | Restorer | None = None,
                   segmenter: Segmenter | None = None, policy: SettingsPolicy | None = None) -> Stages:
    """The components a file records, built with ``config``; overrides give warnings.

    Refuses (one line) a file whose profile ``config.profile`` does not allow (a full
    file under the offline profile), whose component ids this version does not know, or
    whose recorded weights versions differ from the ones this machine has. The returned
    stages are not availability-checked: call :meth:`Stages.check_available`.
    """
    cfg = config or DEFAULT_CONFIG
    h, rec = f.header, f.profile
    prof = OFFLINE if rec is None else profile_by_id(rec.profile_id)
    if prof is not OFFLINE and cfg.profile != prof.name:
        raise BackendUnavailable(
            f"this file was encoded with the {prof.name} profile; decode it with --profile {prof.name}"
            f" (and --models if its model registry is not the default)")

    def recorded(stage: int) -> container.ComponentRecord | None:
        return rec.component(stage) if rec is not None else None

    def name_for(stage: int, default: str) -> str:
        r = recorded(stage)
        return default if r is None else STAGE_REGISTRIES[stage].by_id(r.component_id).name

    codec_rec, rest_rec = recorded(container.STAGE_CODEC), recorded(container.STAGE_RESTORE)
    if codec_rec is not None and codec_rec.component_id != h.codec_id:
        raise BitstreamError("corrupt .sgc file (profile section and header name different codecs)")
    if rest_rec is not None and rest_rec.component_id != h.restorer_id:
        raise BitstreamError("corrupt .sgc file (profile section and header name different restorers)")
    warnings: list[str] = []
    with profile_errors(prof):
        codec = codec_by_id(h.codec_id, cfg)
        if codec_rec is not None and codec.weights_version_at(h.quality) != codec_rec.weights_version:
            raise MissingWeights(
                f"this file was made with base codec '{codec.name}' weights version {codec_rec.weights_version} "
                f"at quality {h.quality}, but the models here give version {codec.weights_version_at(h.quality)}; "
                "point --models at the encoder's models TOML")
        seg_name = name_for(container.STAGE_SEGMENT, prof.segmenter)
        pol_name = name_for(container.STAGE_ADAPT, prof.policy)
        if f.patch_masks is not None and seg_name != "patchmap":
            raise BitstreamError(f"corrupt .sgc file (patch masks but segmenter '{seg_name}')")
        if segmenter is None and seg_name == "patchmap":
            from .segment.patchmap import PatchMapSegmenter

            seg = PatchMapSegmenter.from_file(f.patch_masks, cfg)
        elif segmenter is None:
            seg = _check_weights(get_segmenter(seg_name, cfg), "segmenter", recorded(container.STAGE_SEGMENT))
        else:
            seg = _override(segmenter, seg_name, "segmenting", warnings)
        if policy is None:
            pol = _check_weights(get_policy(pol_name, cfg), "settings policy", recorded(container.STAGE_ADAPT))
        else:
            pol = _override(policy, pol_name, "choosing settings", warnings)
        rec_rest = restorer_name(h.restorer_id)
        if restorer is None:
            rest = _check_weights(restorer_by_id(h.restorer_id, cfg), "restorer", rest_rec)
        else:
            given = get_restorer(restorer, cfg) if isinstance(restorer, str) else restorer
            rest = _override(given, rec_rest, "restoring", warnings)
    return Stages(prof, codec, seg, pol, rest, warnings)
