"""``sggic bench``: the paper's evaluation (rate-quality per metric group, BD-rate, timing)
for sggic and every baseline codec reachable here. See docs/bench.md.

    from sggic.bench import bench
    bench(out="runs/b", dataset="dev", bpps=[0.02, 0.03, 0.05])

Modules: data (dataset and folder images; the photo list and the preprocessing belong to
sggic.photos), codecs (adapters that hit a byte budget), run (the cached loop),
versions (what a cached point is keyed on), bdrate (Bjontegaard delta rate), report
(CSV, plots, tables, Markdown).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence


def _log_run(outdir: Path, command: str, t0: float, result: Any) -> None:
    """Append this invocation to OUTDIR/runs.json: the report cites how long computing took."""
    import json

    path = outdir / "runs.json"
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        runs = []
    seconds = time.perf_counter() - t0
    runs.append({"command": command, "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                 "seconds": round(seconds, 1), "computed": result.encoded, "cached": result.cached,
                 "errors": len(result.errors)})
    path.write_text(json.dumps(runs, indent=1))


def bench(out: str | Path, bpps: Sequence[float] = (0.02, 0.03, 0.05), codecs: Sequence[str] | None = None,
          images: str | Path | None = None, dataset: str | None = None, photos: str | Path | None = None,
          size: int | None = 512,
          metrics: Sequence[str] | None = None, limit: int | None = None, progress: bool = True,
          command: str = "", log: Callable[[str], None] | None = None, compute: bool = True,
          keep_images: bool = False) -> dict[str, Any]:
    """Run (or resume) the benchmark and write the report; returns summary information.

    ``keep_images``: also save every decoded picture under ``OUT/images`` and write the
    side-by-side page ``OUT/compare.html`` (``info["html"]``).
    """
    from ..errors import InputError
    from .codecs import default_codec_names
    from .data import dataset_images, folder_images
    from .report import summarise, terminal_table, write_report
    from .run import run_bench

    t0 = time.perf_counter()
    if (images is None) == (dataset is None):
        raise InputError("give exactly one of --images DIR and --dataset NAME")
    bpps = sorted({float(b) for b in bpps})
    if not bpps or any(not (0 < b <= 8) for b in bpps):
        raise InputError("--bpp values must be in (0, 8]")
    crop = f"short side resized to {size} (Lanczos), centre {size}x{size} crop" if size else "full size"
    if images is not None:
        imgs = folder_images(Path(images), size)
        desc = f"Folder `{images}`, {crop}"
    else:
        imgs = dataset_images(dataset, tsv=Path(photos) if photos else None, size=size)
        desc = f"The `{dataset}` photos of {Path(photos).name if photos else 'data/photos.tsv'}, {crop}"
    if limit:
        imgs = imgs[:limit]
    names = list(codecs) if codecs else default_codec_names()
    if len(set(names)) != len(names):
        raise InputError("--codecs lists a codec twice")
    outdir = Path(out)
    result = run_bench(imgs, bpps, names, outdir, metrics=metrics, progress=progress, log=log,
                       compute=compute, keep_images=keep_images)
    if result.encoded:
        _log_run(outdir, command or "sggic bench", t0, result)
    info = write_report(result, bpps, outdir, command or "sggic bench", desc, time.perf_counter() - t0)
    info["table"] = terminal_table(result, summarise(result), bpps)
    info["result"] = result
    if keep_images:
        from .html import write_html

        info["html"] = str(write_html(result, bpps, outdir, title="sggic bench: " + desc.replace("`", "")))
    return info
