"""The benchmark loop: every (image, codec, rate) point, cached so a run can resume.

Each finished point is one JSON file in ``OUTDIR/cache`` (plus the coded file as
``.bin``). A cached point is reused when the image's pixels (fingerprint), the budget,
the requested metrics, the codec's configuration and the versions of sggic and of the
libraries (:mod:`sggic.bench.versions`) match; anything else is recomputed. Failures other than
"unreachable" are recorded for the report but not cached, so a rerun retries them.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .codecs import BenchCodec, Unreachable, budget_for, get_bench_codec
from .data import BenchImage
from .versions import library_versions

CACHE_VERSION = 2  # 2: points are keyed on library versions too


@dataclass
class RunResult:
    records: list[dict[str, Any]]
    originals: dict[str, dict[str, float]]
    codecs: dict[str, BenchCodec]
    unavailable_codecs: dict[str, str]
    metrics: list[str]
    unavailable_metrics: dict[str, str]
    encoded: int = 0
    cached: int = 0
    seconds: float = 0.0
    missing: int = 0
    errors: list[str] = field(default_factory=list)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def point_key(image_id: str, codec: str, bpp: float) -> str:
    return f"{_safe(image_id)}__{_safe(codec)}__{bpp:g}"


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def resolve_metrics(names: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """The metrics to compute (default: every one that runs here) and why the rest cannot."""
    from ..metrics import available_metrics, get_metric, unavailable_metrics

    missing = unavailable_metrics()
    if names is None:
        return available_metrics(), missing
    chosen = [get_metric(n).info.name for n in names]
    bad = [n for n in chosen if n in missing]
    if bad:
        from ..errors import BackendUnavailable

        raise BackendUnavailable("; ".join(missing[n] for n in bad))
    return chosen, missing


def score(ref: np.ndarray, img: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    from ..metrics import get_metric

    out: dict[str, float] = {}
    for name in metrics:
        m = get_metric(name)
        out[name] = m(ref, img) if m.info.full_reference else m(img)
    return out


def image_path(outdir: str | os.PathLike, key: str) -> Path:
    """Where ``--keep-images`` puts a decoded point (``key`` from point_key) or ``ID__original``."""
    return Path(outdir) / "images" / f"{key}.png"


def _save_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, "PNG")
    os.replace(tmp, path)


def _keep_image(outdir: Path, key: str, rec: dict[str, Any], codec: BenchCodec, decoded: np.ndarray | None) -> None:
    """Save the decoded picture of an ok point; a cached point is decoded again from its .bin."""
    from .codecs import Coded

    path = image_path(outdir, key)
    if rec.get("status") != "ok" or (decoded is None and path.exists()):
        return  # a cached point's picture was saved from the same .bin (decoding is deterministic)
    if decoded is None:
        data_path = outdir / "cache" / f"{key}.bin"
        if not data_path.exists():
            return
        coded = Coded(data_path.read_bytes(), str(rec.get("setting", "")), bool(rec.get("above_target")))
        decoded = codec.decode(coded, int(rec["width"]), int(rec["height"]))
    _save_png(path, decoded)


def _one_point(codec: BenchCodec, img: BenchImage, bpp: float, metrics: Sequence[str]) -> dict[str, Any]:
    h, w = img.rgb.shape[:2]
    budget = budget_for(bpp, w, h)
    rec: dict[str, Any] = {"version": CACHE_VERSION, "image": img.id, "codec": codec.name, "target_bpp": bpp,
                           "budget_bytes": budget, "width": w, "height": h, "fingerprint": img.fingerprint,
                           "config": codec.description, "libs": library_versions()}
    t0 = time.perf_counter()
    try:
        coded = codec.encode(img, bpp, budget)
    except Unreachable as exc:
        rec.update(status="unreachable", reason=str(exc), metrics={})
        return rec
    t1 = time.perf_counter()
    codec.encode_once(img, coded)
    t2 = time.perf_counter()
    out = codec.decode(coded, w, h)
    t3 = time.perf_counter()
    if out.shape != img.rgb.shape:
        raise RuntimeError(f"{codec.name} decoded {out.shape}, expected {img.rgb.shape}")
    rec.update(status="ok", bytes=len(coded.data), bpp=len(coded.data) * 8 / (w * h),
               above_target=coded.above_target, setting=coded.setting, tries=coded.tries,
               encode_s=t1 - t0, encode_once_s=t2 - t1, decode_s=t3 - t2, notes=coded.notes,
               metrics=score(img.rgb, out, metrics))
    rec["_data"] = coded.data
    rec["_image"] = out
    return rec


def _valid(rec: Any, img: BenchImage, metrics: Sequence[str], budget: int, codec: BenchCodec) -> bool:
    return (isinstance(rec, dict) and rec.get("version") == CACHE_VERSION and rec.get("config") == codec.description
            and rec.get("libs") == library_versions()
            and rec.get("fingerprint") == img.fingerprint and rec.get("budget_bytes") == budget
            and (rec.get("status") == "unreachable" or set(metrics) <= set(rec.get("metrics", {}))))


def run_bench(images: Sequence[BenchImage], bpps: Sequence[float], codec_names: Sequence[str],
              outdir: str | os.PathLike, metrics: Sequence[str] | None = None, progress: bool = True,
              log: Callable[[str], None] | None = None, compute: bool = True,
              keep_images: bool = False) -> RunResult:
    """Run (or resume) every point; returns the records in a fixed order.

    With ``compute=False`` nothing is encoded: points missing from the cache are counted
    in ``missing`` and left out (to report on a run still in progress or interrupted).
    ``keep_images`` saves every decoded picture (and the originals) under ``OUTDIR/images``.
    """
    from tqdm import tqdm

    from ..errors import BackendUnavailable

    t_start = time.perf_counter()
    cache = Path(outdir) / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    metric_names, missing_metrics = resolve_metrics(metrics)
    nr = [m for m in metric_names if not _full_reference(m)]

    codecs: dict[str, BenchCodec] = {}
    unavailable: dict[str, str] = {}
    for name in codec_names:
        c = get_bench_codec(name)
        try:
            c.check()
            codecs[name] = c
        except BackendUnavailable as exc:
            unavailable[name] = str(exc)
            if log:
                log(f"skipping {name}: {exc}")
    result = RunResult([], {}, codecs, unavailable, metric_names, missing_metrics)

    # no-reference scores of the originals: the ceiling line in the quality plots
    for img in images:
        path = cache / f"{_safe(img.id)}__original.json"
        rec = _read_json(path)
        if not (isinstance(rec, dict) and rec.get("fingerprint") == img.fingerprint
                and rec.get("libs") == library_versions() and set(nr) <= set(rec["metrics"])):
            rec = {"fingerprint": img.fingerprint, "libs": library_versions(),
                   "metrics": {m: score(img.rgb, img.rgb, [m])[m] for m in nr}}
            _write_json(path, rec)
        result.originals[img.id] = rec["metrics"]
        if keep_images:
            _save_png(image_path(outdir, f"{_safe(img.id)}__original"), img.rgb)

    points = [(img, bpp, name) for img in images for bpp in bpps for name in codecs]
    bar = tqdm(points, desc="bench", unit="pt", disable=not progress, dynamic_ncols=True)
    for img, bpp, name in bar:
        bar.set_postfix_str(f"{img.id} {name} {bpp:g}", refresh=False)
        key = point_key(img.id, name, bpp)
        path = cache / f"{key}.json"
        h, w = img.rgb.shape[:2]
        rec = _read_json(path)
        decoded = None
        if _valid(rec, img, metric_names, budget_for(bpp, w, h), codecs[name]):
            result.cached += 1
        elif not compute:
            result.missing += 1
            continue
        else:
            try:
                rec = _one_point(codecs[name], img, bpp, metric_names)
            except Exception as exc:  # keep going; the report lists it and a rerun retries it
                msg = f"{img.id} {name} {bpp:g}: {type(exc).__name__}: {exc}"
                result.errors.append(msg)
                if log:
                    log(f"error: {msg}")
                if os.environ.get("SGGIC_DEBUG"):
                    raise
                continue
            result.encoded += 1
            data = rec.pop("_data", None)
            decoded = rec.pop("_image", None)
            if data is not None:
                (cache / f"{key}.bin").write_bytes(data)
            _write_json(path, rec)
        if keep_images:
            try:
                _keep_image(Path(outdir), key, rec, codecs[name], decoded)
            except Exception as exc:  # the numbers stand; the picture is missing from the page
                result.errors.append(f"{img.id} {name} {bpp:g}: keeping the image: {type(exc).__name__}: {exc}")
        rec["metrics"] = {k: v for k, v in rec.get("metrics", {}).items() if k in metric_names}
        result.records.append(rec)
    bar.close()
    result.seconds = time.perf_counter() - t_start
    return result


def _full_reference(name: str) -> bool:
    from ..metrics import get_metric

    return get_metric(name).info.full_reference
