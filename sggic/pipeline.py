"""Encoder and decoder: the paper's stages wired together.

Encode: image -> (semantics) -> 2x antialiased downsample -> base codec under rate
control -> .sgc. Decode: .sgc -> base layer -> segmentation of the base (object names;
masks resized to the output size) -> adaptive settings -> 2x restoration (description)
-> per-object refinement (all objects and their masks in one call). Each stage is a
component behind a small contract (docs/architecture.md), chosen by the profile
(:mod:`sggic.profiles`) and built from one :class:`~sggic.config.RunConfig`, so the full
profile's models replace the offline ones without touching this file.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import arguments, container, limits
from .adapt.base import GUIDANCE_RANGE, STEPS_RANGE, FixedSettings, Settings, SettingsPolicy
from .budgets import check_target_bytes
from .codecs import CODECS, codec_by_id
from .codecs._pixels import downsample2x
from .config import DEFAULT_CONFIG, RunConfig
from .container import Header
from .errors import BitstreamError, InputError
from .images import LoadedImage, from_pil, load_image
from .progress import step
from .ratecontrol import budget_bytes, fit_rate
from .restore.base import ObjectMask, RestoreContext, Restorer
from .segment.base import Segmenter, masks_to_output
from .semantics.schema import Semantics

DEFAULT_BPP = 0.03
DEFAULT_BASE = "vvc"  # the offline profile's base codec (sggic.profiles.OFFLINE)

ImageLike = "str | os.PathLike | np.ndarray | PIL.Image.Image"


@dataclass
class EncodeResult:
    data: bytes
    header: Header
    target_bytes: int
    notes: list[str] = field(default_factory=list)


@dataclass
class DecodeResult:
    image: Any  # PIL.Image.Image
    header: Header
    semantics: Semantics
    base: np.ndarray
    masks: list[np.ndarray]  # one per object, float32 at the output size (empty: no segmentation)
    settings: Settings
    stages: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)  # the restorer's own lines (what it did, per-stage times)


def _as_loaded(image: Any) -> LoadedImage:
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    from PIL import Image

    if isinstance(image, Image.Image):
        return from_pil(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise InputError("image array must be (h, w, 3) or (h, w) uint8")
    if arr.size == 0:
        raise InputError("image array is empty")
    return from_pil(Image.fromarray(np.ascontiguousarray(arr)))


def encode_detailed(
    image: Any,
    bpp: float = DEFAULT_BPP,
    base: str | None = None,
    semantics: Semantics | None = None,
    restorer: str | None = None,
    seed: int = 0,
    fixed: bool = False,
    target_bytes: int | None = None,
    config: RunConfig | None = None,
    segmenter: str | None = None,
) -> EncodeResult:
    """Encode and report what rate control chose (arguments as in :func:`encode`).

    ``base``/``restorer``/``segmenter`` None: the profile's (``config.profile``;
    offline: vvc, fitted, none).
    """
    from .profiles import encoder_stages, profile_errors, record_for
    from .restore.registry import restorer_id

    bpp = arguments.check_number("bpp", bpp)
    seed = arguments.check_int("seed", seed, 0, container.MAX_SEED)
    fixed = arguments.check_bool("fixed", fixed)
    semantics = arguments.check_semantics(semantics)
    stages = encoder_stages(config, base=None if base is None else arguments.check_str("base", base),
                            restorer=None if restorer is None else arguments.check_str("restorer", restorer),
                            segmenter=None if segmenter is None else arguments.check_str("segmenter", segmenter))
    rid = restorer_id(stages.restorer.name)
    codec = stages.codec
    patch_maps = stages.segmenter.name == "patchmap"
    with profile_errors(stages.profile):
        codec.check_available()
        if patch_maps:
            from .segment.patchmap import check_mapper_available

            check_mapper_available(config)
    loaded = _as_loaded(image)
    h, w = loaded.rgb.shape[:2]
    target = budget_bytes(bpp, w, h) if target_bytes is None else check_target_bytes(target_bytes)
    sem_payload = None
    if semantics is not None and not semantics.is_empty():
        from .semantics.textcoder import encode_semantics  # imported only when used (start-up time)

        sem_payload = encode_semantics(semantics)
    masks_payload = None
    if patch_maps:  # MISC's ablation: 8x8 CLIP maps of the original image, coded in the file
        from .segment.patchmap import encode_maps

        names = [o.name for o in semantics.objects] if semantics is not None else []
        step(what="CLIP patch maps")
        masks_payload = encode_maps(loaded.rgb, names, config)
    flags = (container.FLAG_GRAYSCALE if loaded.grayscale else 0) | (container.FLAG_FIXED if fixed else 0)

    def header(quality: int) -> Header:
        return Header(w, h, codec.codec_id, quality, flags, rid, seed)

    def write(quality: int, payload: bytes) -> bytes:
        # the record depends on the quality: Cheng2020 records the chosen level's fingerprint
        return container.write(header(quality), payload, sem_payload, record_for(stages, quality), masks_payload)

    def file_size(quality: int, payload: bytes) -> int:
        step(what=f"rate search (quality {quality})")  # the command line's progress bar, if open
        return len(write(quality, payload))

    half = downsample2x(loaded.rgb)
    choice = fit_rate(codec, half, target, file_size, w * h)
    data = write(choice.quality, choice.payload)
    return EncodeResult(data, header(choice.quality), target, loaded.notes)


def encode(image: Any, bpp: float = DEFAULT_BPP, base: str | None = None,
           semantics: Semantics | None = None, **kwargs: Any) -> bytes:
    """Encode an image (path, PIL image or uint8 array) into the bytes of a .sgc file.

    Keyword arguments:

    * ``bpp``: target bits per pixel of the original image for the *whole* file (header,
      base layer, semantics); the file is at or under ``floor(bpp * w * h / 8)`` bytes.
    * ``target_bytes``: a byte budget for the whole file instead of ``bpp`` (thumbnails
      are budgeted in bytes); when given, ``bpp`` is ignored.
    * ``base``: base-layer codec, ``"vvc"`` (the offline default), ``"avif"``, ``"heic"``, ``"webp"``, ``"jpeg"``,
      ``"cheng2020"`` (the full profile's default).
    * ``semantics``: a :class:`sggic.Semantics` (3 objects + description) to code with the
      image, or None for none (:func:`sggic.describe` writes one with a VLM).
    * ``restorer``: the restorer the decoder should use, recorded in the header
      (``"fitted"`` by default; ``"realesrgan"``, ``"bicubic"``).
    * ``seed``: seed recorded for any sampling at decode time (integer in [0, 2^32)).
    * ``fixed``: record fixed decoder settings (no content adaptation).
    * ``config``: a :class:`sggic.RunConfig` (profile, device, threads, model registry);
      ``base``/``restorer`` left as None take the profile's defaults.
    * ``segmenter``: None for the profile's (full: ``"clipseg"``, run at the decoder), or
      ``"patchmap"`` (full profile): 8x8 CLIP patch maps of the objects made here and
      stored in the file (MISC's "w/o CLIPSeg" ablation, 8 bytes per object).

    A target below the smallest file the base codec can make raises
    :class:`sggic.errors.RateError`, whose message gives the smallest possible rate.
    """
    return encode_detailed(image, bpp=bpp, base=base, semantics=semantics, **kwargs).data


def _read_bytes(data: bytes | str | os.PathLike) -> bytes:
    arguments.check_source(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    # at most MAX_FILE_BYTES + 1 bytes, whatever the file is (st_size is 0 for pipes)
    return limits.read_capped(data, container.MAX_FILE_BYTES, ".sgc file")


def _parse(data: bytes, max_pixels: int | None = None,
           config: RunConfig | None = None) -> tuple[container.SgcFile, Semantics]:
    """Container, then the limits (from the header alone), then the semantics."""
    f = _read_container(data, max_pixels, config)
    return f, _semantics(f)


def _read_container(data: bytes, max_pixels: int | None = None, config: RunConfig | None = None) -> container.SgcFile:
    """The container, checked against the limits from its header alone (before any decoding)."""
    f = container.read(data)
    if max_pixels is not None:
        limits.check_decode_size(f.header.width, f.header.height, max_pixels)
    limits.check_quality(codec_by_id(f.header.codec_id, config), f.header.quality)
    return f


def _semantics(f: container.SgcFile) -> Semantics:
    from .semantics.textcoder import decode_semantics

    return decode_semantics(f.semantics) if f.semantics is not None else Semantics()


def decode_detailed(
    data: bytes | str | os.PathLike,
    restorer: str | Restorer | None = None,
    segmenter: Segmenter | None = None,
    policy: SettingsPolicy | None = None,
    config: RunConfig | None = None,
    max_pixels: int = limits.DEFAULT_MAX_PIXELS,
    strength: float | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    fixed: bool = False,
) -> DecodeResult:
    """Run every decoder stage and keep the intermediate results.

    The file decides the components (its profile; the header's codec and restorer);
    ``restorer``/``segmenter``/``policy`` override them, with a warning in the result.
    ``config`` says how they run (device, threads, models) and which profile may load.
    Settings: the file's policy chooses them (content-adaptive unless the header says
    "fixed"); ``fixed`` forces the fixed ones (the "w/o CAD" ablation); ``strength``
    (0 faithful .. 1 generative), ``steps`` and ``guidance`` set one by hand (restorers
    without that knob ignore it). None of these is stored in the file.
    """
    from PIL import Image

    from .profiles import decoder_stages

    cfg = config or DEFAULT_CONFIG
    arguments.check_restorer(restorer)
    max_pixels = limits.check_max_pixels(max_pixels)
    manual = manual_settings(strength, steps, guidance)
    raw = _read_bytes(data)
    f = _read_container(raw, max_pixels, cfg)
    h = f.header
    st = decoder_stages(f, cfg, restorer=restorer, segmenter=segmenter, policy=policy)
    st.check_available()
    codec, seg, pol, rest = st.codec, st.segmenter, st.policy, st.restorer
    bw, bh = h.base_size

    # 1. base layer, decoded on a thread (VVC: an ffmpeg process) while this one decodes the
    #    semantics (the text model's load): ~0.03 s of a 512x512 decode. A corrupt semantics
    #    section is still the error reported when both sections are bad.
    with ThreadPoolExecutor(max_workers=1) as pool:
        base_job = pool.submit(codec.decode, f.base, bw, bh, h.quality)
        sem = _semantics(f)
        base = base_job.result()
    if base.shape != (bh, bw, 3) or base.dtype != np.uint8:
        raise BitstreamError("base layer decoded to the wrong size")
    # 2. segmentation of the decoded base from the object names (patchmap: the maps the
    #    encoder stored); masks come at twice the base size and are cropped like the image
    names = [o.name for o in sem.objects]
    t = time.perf_counter()
    raw_masks = seg.segment(base, names, size=(2 * bh, 2 * bw)) if names else []
    if raw_masks and len(raw_masks) != len(names):
        raise BitstreamError(f"segmenter '{seg.name}' returned {len(raw_masks)} masks for {len(names)} objects")
    masks = masks_to_output(raw_masks, (bw, bh), (h.width, h.height))
    seg_seconds = time.perf_counter() - t
    # 3. adaptive settings
    bpp = len(raw) * 8 / (h.width * h.height)
    warnings = list(st.warnings)
    if h.fixed or fixed:
        settings = replace(FixedSettings().choose(base, sem, bpp, rest.name),
                           source="fixed (" + ("file flag" if h.fixed else "--fixed") + ")")
    elif rest.uses_settings or rest.uses_strength:
        settings = pol.choose(base, sem, bpp, rest.name)
        if pol.name != FixedSettings.name and settings.source.startswith("fixed"):  # an adaptive policy fell back
            warnings.append(f"settings: {settings.source}; decoding with the fixed settings")
    else:
        settings = FixedSettings().choose(base, sem, bpp, rest.name)  # nothing to adapt: no feature cost
    if manual:
        settings = replace(settings, **manual, source=settings.source + " + by hand: " + ", ".join(manual))
    # 4. 2x restoration guided by the description
    ctx = RestoreContext(h.codec_id, h.quality, sem.description, settings.steps, settings.guidance, h.seed,
                         strength=settings.strength)
    up = rest.restore(base, ctx)
    out = up[: h.height, : h.width]
    # 5. per-object refinement: every object with its mask at output size, in one call
    refined = bool(rest.refines and masks)
    if refined:
        objects = [ObjectMask(o.name, o.detail, m) for o, m in zip(sem.objects, masks)]
        out = rest.refine(np.ascontiguousarray(out), objects, ctx)
        if out.shape != (h.height, h.width, 3) or out.dtype != np.uint8:
            raise BitstreamError(f"restorer '{rest.name}' refined to the wrong shape or type")
    if not rest.refines:
        why_not = f"skipped ({rest.name} does not refine)"
    elif not masks:
        why_not = f"skipped (no masks from segmenter {seg.name})"
    else:
        why_not = ""
    coverage = ", ".join(f"{n} {100.0 * float(np.mean(m)):.1f}%" for n, m in zip(names, masks))
    stages = {
        "profile": st.profile.name + (" (overridden: see warnings)" if st.warnings else ""),
        "base": codec.name,
        "segmentation": seg.describe() + (f" made {len(masks)} masks (coverage: {coverage}) in {seg_seconds:.2f} s"
                                          if masks else ""),
        "settings": (settings.describe() if rest.uses_settings or rest.uses_strength
                     else f"{pol.name} policy; no settings to adapt in {rest.name}"),
        "restoration": rest.name,
        "refinement": f"applied to {len(masks)} objects" if refined else why_not,
    }
    report = list(rest.report_lines())
    img = Image.fromarray(np.ascontiguousarray(out))
    if h.grayscale:
        img = img.convert("L")
    return DecodeResult(img, h, sem, base, masks, settings, stages, warnings, report)


def manual_settings(strength: float | None = None, steps: int | None = None,
                    guidance: float | None = None) -> dict[str, Any]:
    """The settings given by hand, checked (InputError in one line), as Settings fields."""
    out: dict[str, Any] = {}
    for name, value, lo, hi, kind in (("strength", strength, 0.0, 1.0, float), ("steps", steps, *STEPS_RANGE, int),
                                      ("guidance", guidance, *GUIDANCE_RANGE, float)):
        if value is None:
            continue
        try:
            v = kind(value)
            ok = not isinstance(value, bool) and (v == float(value)) and lo <= v <= hi
        except (TypeError, ValueError):
            ok = False
        if not ok:
            what = "an integer" if kind is int else "a number"
            raise InputError(f"{name} must be {what} in [{lo:g}, {hi:g}], got {value!r}")
        out[name] = v
    return out


def decode(data: bytes | str | os.PathLike, restorer: str | None = None,
           config: RunConfig | None = None, max_pixels: int = limits.DEFAULT_MAX_PIXELS,
           strength: float | None = None) -> Any:
    """Decode a .sgc file (bytes or path) into a PIL image of the original size.

    Files above ``max_pixels`` (width x height) are refused before any decoding.
    ``strength`` in [0, 1]: the perception/fidelity knob of restorers that have one
    (None: chosen per image by the adaptive policy, or the restorer's default).
    """
    return decode_detailed(data, restorer=restorer, config=config, max_pixels=max_pixels,
                           strength=strength).image


def info(data: bytes | str | os.PathLike) -> dict:
    """Header, semantics and the byte size of every section."""
    from .restore.registry import restorer_name

    raw = _read_bytes(data)
    f, sem = _parse(raw)
    h = f.header
    codec = CODECS.by_id(h.codec_id)  # the name only: info works on files this machine cannot decode
    return {
        "format_version": container.VERSION,
        "width": h.width,
        "height": h.height,
        "bytes": len(raw),
        "bpp": round(len(raw) * 8 / (h.width * h.height), 6),
        "base_codec": {"id": h.codec_id, "name": codec.name, "quality": h.quality},
        "base_size": list(h.base_size),
        "restorer": {"id": h.restorer_id, "name": restorer_name(h.restorer_id)},
        "grayscale": h.grayscale,
        "fixed_settings": h.fixed,
        "seed": h.seed,
        "profile": _profile_info(f.profile),
        "sections": f.section_sizes,
        "semantics": sem.to_dict() if f.semantics is not None else None,
    }


def _profile_info(rec: container.ProfileRecord | None) -> dict:
    """What the file's profile section says, with names where this version knows them."""
    from .profiles import OFFLINE, PROFILES, STAGE_REGISTRIES

    if rec is None:
        return {"id": OFFLINE.id, "name": OFFLINE.name, "components": []}
    names = {p.id: p.name for p in PROFILES}
    comps = []
    for c in rec.components:
        reg = STAGE_REGISTRIES.get(c.stage)
        name = reg.by_id(c.component_id).name if reg is not None and reg.has_id(c.component_id) else None
        comps.append({"stage": container.STAGE_NAMES.get(c.stage, f"stage-{c.stage}"), "id": c.component_id,
                      "name": name or f"unknown-{c.component_id}", "weights_version": c.weights_version})
    return {"id": rec.profile_id, "name": names.get(rec.profile_id, f"unknown-{rec.profile_id}"),
            "components": comps}
