"""Benchmark outputs: CSV, rate-quality plots, BD-rate, timing table, Markdown report.

Group scores follow the paper's protocol (each metric mapped to [0, 1] with its
registered IQA-PyTorch range, 1 = best, averaged within its group per image, then
averaged over images), over the metrics that run here: groups are labelled with the
metrics they contain, and missing metrics are listed, never substituted.

BD-rate (Bjontegaard, :mod:`sggic.bench.bdrate`): for each codec, the curve is (mean
bpp, mean score) per target rate; a curve whose score does not rise with rate is
flagged, since its BD-rate then means little.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import time as _time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..metrics import GROUPS, get_metric, normalise
from .bdrate import bd_no_overlap, bd_rate
from .run import RunResult

GROUP_TITLES = {"pixel": "pixel similarity", "perceptual_similarity": "perceptual similarity",
                "perceptual_quality": "perceptual quality"}
TABLE_METRICS = ("psnr", "ms_ssim", "ssimulacra2", "brisque", "niqe", "piqe")


def group_of(metric: str) -> str:
    return get_metric(metric).info.group


def record_groups(metrics: dict[str, float]) -> dict[str, float]:
    by: dict[str, list[float]] = defaultdict(list)
    for name, v in metrics.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        by[group_of(name)].append(normalise(name, v))
    return {g: float(np.mean(v)) for g, v in by.items()}


# ----------------------------------------------------------------------------- CSV
CSV_FIELDS = ["image", "codec", "target_bpp", "status", "bytes", "bpp", "above_target", "setting",
              "metric", "group", "value", "normalised", "encode_s", "encode_once_s", "decode_s"]


def write_csv(result: RunResult, path: Path) -> int:
    """One row per (image, codec, rate, metric); an unreachable point gets one row, metric empty."""
    n = 0
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, CSV_FIELDS)
        w.writeheader()
        for r in result.records:
            base = {k: r.get(k, "") for k in CSV_FIELDS}
            for k in ("bpp", "encode_s", "encode_once_s", "decode_s"):
                if isinstance(base[k], float):
                    base[k] = f"{base[k]:.6g}"
            if r["status"] != "ok":
                w.writerow({**base, "metric": "", "group": "", "value": "", "normalised": ""})
                n += 1
                continue
            for name, v in r["metrics"].items():
                w.writerow({**base, "metric": name, "group": group_of(name), "value": f"{v:.6g}",
                            "normalised": f"{normalise(name, v):.6g}"})
                n += 1
    return n


# ------------------------------------------------------------------------- summary
def summarise(result: RunResult) -> dict[tuple[str, float], dict[str, Any]]:
    """Per (codec, target bpp): means over images; ``complete`` when every image has a point."""
    n_images = len({r["image"] for r in result.records}) or 1
    cells: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in result.records:
        cells[(r["codec"], r["target_bpp"])].append(r)
    out: dict[tuple[str, float], dict[str, Any]] = {}
    for key, recs in cells.items():
        ok = [r for r in recs if r["status"] == "ok"]
        s: dict[str, Any] = {"n": len(ok), "complete": len(ok) == n_images,
                             "unreachable": sum(r["status"] == "unreachable" for r in recs),
                             "above": sum(bool(r.get("above_target")) for r in ok)}
        if ok:
            s["bpp"] = float(np.mean([r["bpp"] for r in ok]))
            s["bytes"] = float(np.mean([r["bytes"] for r in ok]))
            for t in ("encode_s", "encode_once_s", "decode_s"):
                s[t] = float(np.mean([r[t] for r in ok]))
            s["metrics"] = {m: float(np.mean([r["metrics"][m] for r in ok])) for m in result.metrics
                            if all(m in r["metrics"] for r in ok)}
            groups = [record_groups(r["metrics"]) for r in ok]
            s["groups"] = {g: float(np.mean([x[g] for x in groups])) for g in GROUPS if all(g in x for x in groups)}
        out[key] = s
    return out


def curve(summary: dict, codec: str, bpps: Sequence[float], quantity: str) -> list[tuple[float, float, bool]]:
    """(rate, score, has_above_target_points) for the complete cells of one codec."""
    pts = []
    for b in bpps:
        s = summary.get((codec, b))
        if not s or not s["complete"]:
            continue
        v = s["groups"].get(quantity) if quantity in GROUPS else s["metrics"].get(quantity)
        if v is not None:
            pts.append((s["bpp"], v, s["above"] > 0))
    return pts


# ---------------------------------------------------------------------------- plots
# tab10 and two more, so that up to 12 codecs never share a colour
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#000000", "#b8860b")


def _style(codec: str) -> dict[str, Any]:
    if codec.startswith("sggic"):
        return {"linewidth": 2.4, "linestyle": "-", "marker": "o", "markersize": 6, "zorder": 3}
    if codec.endswith("-half+bicubic"):
        return {"linewidth": 1.6, "linestyle": "-.", "marker": "s", "markersize": 5}
    return {"linewidth": 1.3, "linestyle": "--", "marker": "^", "markersize": 5}


def _plot_axis(ax, summary, codecs, bpps, quantity, title, ylabel, originals=None) -> None:
    for i, c in enumerate(codecs):
        pts = curve(summary, c, bpps, quantity)
        if not pts:
            continue
        color = PALETTE[i % len(PALETTE)]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        ax.plot(xs, ys, color=color, label=c, **{**_style(c), "marker": None})
        st = _style(c)
        for x, y, above in pts:
            ax.plot([x], [y], linestyle="none", marker=st["marker"], markersize=st["markersize"] + 1,
                    color=color, markerfacecolor="white" if above else color, zorder=4)
    if originals is not None:
        ax.axhline(originals, color="k", linewidth=0.8, linestyle=":", label="original (uncoded)")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 3, 5)))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(4, 6, 7, 8, 9)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.set_xlabel("bits per pixel (real file size)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


def _original_level(result: RunResult, quantity: str) -> float | None:
    if not result.originals:
        return None
    if quantity in GROUPS:
        vals = [record_groups({m: v for m, v in o.items()}).get(quantity) for o in result.originals.values()]
        vals = [v for v in vals if v is not None]
        # only no-reference metrics have an "original" score; a group with FR metrics has none
        if quantity != "perceptual_quality" or not vals:
            return None
        return float(np.mean(vals))
    vals = [o[quantity] for o in result.originals.values() if quantity in o]
    return float(np.mean(vals)) if vals else None


def group_label(result: RunResult, g: str) -> str:
    ms = [m for m in result.metrics if group_of(m) == g]
    return f"{GROUP_TITLES[g]} ({', '.join(ms)})"


def make_plots(result: RunResult, summary: dict, bpps: Sequence[float], outdir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codecs = list(result.codecs)
    groups = [g for g in GROUPS if any(group_of(m) == g for m in result.metrics)]
    written: list[str] = []
    note = "hollow marker: the codec's smallest file is above the target rate"
    for g in groups:
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        _plot_axis(ax, summary, codecs, bpps, g, group_label(result, g), "group score (normalised, 1 = best)",
                   _original_level(result, g))
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=7, loc="best")
        fig.text(0.01, 0.01, note, fontsize=6, color="0.4")
        fig.tight_layout()
        name = f"rate_{g}.png"
        fig.savefig(outdir / name, dpi=120)
        plt.close(fig)
        written.append(name)
    # overview: the three groups side by side (the README figure)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.4), squeeze=False)
    for ax, g in zip(axes[0], groups):
        _plot_axis(ax, summary, codecs, bpps, g, group_label(result, g), "normalised score (1 = best)",
                   _original_level(result, g))
    h, lab = axes[0][0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=max(1, min(6, len(lab))), fontsize=8)
    fig.text(0.01, 0.005, note, fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(lab) > 6), 1, 1))
    fig.savefig(outdir / "overview.png", dpi=110)
    plt.close(fig)
    written.insert(0, "overview.png")
    # one panel per metric, raw units
    ms = list(result.metrics)
    cols = 3
    rows = math.ceil(len(ms) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.9 * rows), squeeze=False)
    for ax, m in zip(axes.flat, ms):
        info = get_metric(m).info
        _plot_axis(ax, summary, codecs, bpps, m, f"{m} ({'lower' if info.lower_is_better else 'higher'} is better)",
                   m, _original_level(result, m))
    for ax in list(axes.flat)[len(ms):]:
        ax.axis("off")
    h, lab = axes[0][0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=max(1, min(6, len(lab))), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(outdir / "metrics.png", dpi=100)
    plt.close(fig)
    written.append("metrics.png")
    return written


# ---------------------------------------------------------------------------- tables
def _fmt(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def summary_rows(result: RunResult, summary: dict, bpps: Sequence[float]) -> tuple[list[str], list[list[str]]]:
    ms = [m for m in TABLE_METRICS if m in result.metrics]
    header = ["codec", "target bpp", "real bpp", *ms, "enc s", "dec s", "note"]
    rows = []
    for b in bpps:
        for c in result.codecs:
            s = summary.get((c, b))
            if not s:
                continue
            note = []
            if s["unreachable"]:
                note.append(f"unreachable on {s['unreachable']} image(s)")
            if s["above"]:
                note.append(f"above target on {s['above']}/{s['n']} (smallest file)")
            if s["n"] and not s["complete"] and not s["unreachable"]:
                note.append(f"only {s['n']} image(s)")
            if not s["n"]:
                rows.append([c, f"{b:g}", "unreachable", *["-"] * len(ms), "-", "-", "; ".join(note)])
                continue
            nd = {"psnr": 2, "ssimulacra2": 1, "brisque": 1, "niqe": 2, "piqe": 1}
            rows.append([c, f"{b:g}", f"{s['bpp']:.4f}", *[_fmt(s["metrics"].get(m), nd.get(m, 3)) for m in ms],
                         f"{s['encode_s']:.3g}", f"{s['decode_s']:.3g}", "; ".join(note)])
    return header, rows


def terminal_table(result: RunResult, summary: dict, bpps: Sequence[float]) -> str:
    header, rows = summary_rows(result, summary, bpps)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = lambda r: "  ".join(x.ljust(w) if i in (0, len(r) - 1) else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def bd_table(result: RunResult, summary: dict, bpps: Sequence[float], ref: str = "vvc") -> tuple[list[str], list[list[str]]]:
    qs = [g for g in GROUPS if any(group_of(m) == g for m in result.metrics)]
    qs += [m for m in ("psnr", "ssimulacra2") if m in result.metrics]
    header = ["codec"] + [GROUP_TITLES.get(q, q) for q in qs]
    rows = []
    for c in result.codecs:
        if c == ref:
            continue
        row = [c]
        for q in qs:
            a, b = [p[:2] for p in curve(summary, ref, bpps, q)], [p[:2] for p in curve(summary, c, bpps, q)]
            v, mono = bd_rate(a, b)
            row.append(bd_no_overlap(a, b) if math.isnan(v) else f"{v:+.1f}%" + ("" if mono else " †"))
        rows.append(row)
    return header, rows


def timing_rows(result: RunResult) -> tuple[list[str], list[list[str]]]:
    header = ["codec", "points", "encode to target s (search incl.)", "one encode s", "decode s", "rate-search encodes"]
    rows = []
    for c in result.codecs:
        ok = [r for r in result.records if r["codec"] == c and r["status"] == "ok"]
        if not ok:
            rows.append([c, "0", "-", "-", "-", "-"])
            continue
        m = lambda k: float(np.mean([r[k] for r in ok]))  # noqa: E731
        tries = f"{m('tries'):.1f}" if all(r.get("tries") for r in ok) else "own rate control"
        rows.append([c, str(len(ok)), f"{m('encode_s'):.3f}", f"{m('encode_once_s'):.3f}", f"{m('decode_s'):.3f}",
                     tries])
    return header, rows


# --------------------------------------------------------------------------- report
def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                               capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parents[1])
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + (" (sggic/ modified)" if dirty.stdout.strip() else "")


def _runs(outdir: Path) -> list[dict[str, Any]]:
    import json

    try:
        runs = json.loads((outdir / "runs.json").read_text())
    except (OSError, ValueError):
        return []
    return [r for r in runs if isinstance(r, dict) and {"command", "computed", "cached", "seconds", "finished_utc"} <= set(r)]


def _duration(s: float) -> str:
    return f"{s / 60:.1f} min ({s:.0f} s)" if s >= 60 else f"{s:.1f} s"


def write_report(result: RunResult, bpps: Sequence[float], outdir: Path, command: str, images_desc: str,
                 total_seconds: float) -> dict[str, Any]:
    """Write results.csv, the plots and report.md into ``outdir``; return what was written."""
    from ..restore.registry import DEFAULT_RESTORER, RESTORER_NAMES

    outdir.mkdir(parents=True, exist_ok=True)
    summary = summarise(result)
    n_rows = write_csv(result, outdir / "results.csv")
    plots = make_plots(result, summary, bpps, outdir)
    images = sorted({r["image"] for r in result.records})
    L: list[str] = ["# sggic benchmark", ""]
    commit = _git_commit()
    L += [f"Command: `{command}`  ",
          f"Finished {_time.strftime('%Y-%m-%d %H:%M UTC', _time.gmtime())} on {platform.machine()} "
          f"({os.cpu_count()} CPU cores, shared; no GPU), Python {platform.python_version()}"
          f"{f', sggic commit {commit}' if commit else ''}.  ",
          f"Wall time of this invocation: {_duration(total_seconds)}; points computed now: {result.encoded}, "
          f"taken from the cache: {result.cached}"
          f"{f'; **{result.missing} points not computed yet (report-only)**' if result.missing else ''}.", ""]
    runs = _runs(outdir)
    if runs:
        L += ["Invocations that computed points here (`runs.json`):", ""]
        L += [f"- `{r['command']}`: {r['computed']} points computed, {r['cached']} from the cache, "
              f"{_duration(r['seconds'])}, finished {r['finished_utc']} UTC" for r in runs] + [""]
    L += ["## Data", "", f"{images_desc}: {len(images)} image(s): {', '.join(images)}. Target rates: "
          f"{', '.join(f'{b:g}' for b in bpps)} bpp; the budget is floor(bpp x w x h / 8) bytes for the whole file.", ""]
    L += ["## Codecs", "",
          "Bytes counted are the file a user would store. Every baseline is driven to the target by "
          "bisection over its quality setting: the largest file <= the budget. If even its smallest "
          "file is larger, that smallest file is used and marked *above target* (hollow markers in the "
          "plots); sggic refuses over-budget files, so its point is *unreachable* instead.", ""]
    rows = [[c, b.description, b.counted] for c, b in result.codecs.items()]
    L += [_md_table(["codec", "what", "bytes counted"], rows), ""]
    L += [f"sggic's default restorer at run time (registry default): **{DEFAULT_RESTORER}**; registered "
          f"restorers: {', '.join(RESTORER_NAMES)}. `sggic:bicubic` is the *no restoration* ablation "
          "(the base layer upscaled 2x bicubically; same file as sggic apart from the restorer id).", "",
          "*Without segmentation* (`sggic-noseg`) is identical to sggic by construction offline: no "
          "segmenter ships, so every decode runs with segmentation unavailable and skips per-object "
          "refinement; tests/test_bench.py checks that it decodes to the same pixels. *--fixed* "
          "(`sggic-fixed`, the paper's \"w/o CAD\") differs from sggic only with a restorer that has a "
          "strength knob (content-adaptive decoding, docs/adapt.md): then sggic picks the strength per "
          "image, and the section *Decoder settings* lists the choices and the features behind them.", ""]
    if result.unavailable_codecs:
        L += ["Codecs that could not run here:", ""]
        L += [f"- {c}: {why}" for c, why in result.unavailable_codecs.items()] + [""]
    low = sorted({(c, b) for (c, b), s in summary.items() if s["above"] or s["unreachable"]}, key=lambda x: (x[1], x[0]))
    if low:
        L += ["Rates a codec cannot reach (its smallest file is larger than the budget):", ""]
        for c, b in low:
            s = summary[(c, b)]
            what = (f"unreachable on {s['unreachable']} image(s)" if s["unreachable"] else
                    f"smallest file used on {s['above']}/{s['n']} image(s), mean {s['bpp']:.4f} bpp")
            L.append(f"- {c} at {b:g} bpp: {what}")
        L.append("")
    L += ["## Metrics", "",
          "Each metric is normalised to [0, 1] with its IQA-PyTorch score range (1 = best) and averaged within "
          "its group per image, then over images (the paper's protocol, on the metrics that run here).", ""]
    rows = []
    for m in result.metrics:
        i = get_metric(m).info
        rows.append([m, GROUP_TITLES[i.group], "FR" if i.full_reference else "NR",
                     "lower" if i.lower_is_better else "higher", f"{i.score_range[0]:g}..{i.score_range[1]:g}",
                     "yes" if i.paper_protocol else "no (offline stand-in)"])
    L += [_md_table(["metric (used)", "group", "type", "better", "range", "in the paper"], rows), ""]
    if result.unavailable_metrics:
        L += ["**Not computed** (listed, never replaced by another metric):", ""]
        L += [f"- {m}: {why}" for m, why in result.unavailable_metrics.items()] + [""]
    L += ["Read no metric alone: NIQE separates codecs poorly at these rates and BRISQUE rewards sharpening "
          "(docs/metrics.md).", ""]
    L += ["## Rate-quality", "", "![overview](overview.png)", ""]
    L += [f"Plots: {', '.join(f'[{p}]({p})' for p in plots)}. The dotted line is the mean score of the "
          "uncoded originals (no-reference metrics only).", ""]
    h, rows = summary_rows(result, summary, bpps)
    L += ["Means over images (real bpp from file sizes):", "", _md_table(h, rows), ""]
    for ref, what in (("vvc", "VVC (full resolution)"), ("vvc-half+bicubic", "the plain base codec (vvc-half+bicubic)")):
        if ref not in result.codecs:
            continue
        h, rows = bd_table(result, summary, bpps, ref)
        L += [f"## BD-rate against {what}", "",
              f"Bjontegaard delta rate on the mean curves (negative = fewer bits than {ref} for the same score); "
              "log-rate interpolated over the score interval both curves cover (PCHIP, linear for two points). "
              "n/a: the curves share no score interval (the note says which side the codec is on) or a curve has "
              "fewer than two distinct points (e.g. a codec whose smallest file is above every target). "
              "† the score does not rise with rate on one of the curves, so the number means little.", "",
              _md_table(h, rows), ""]
    h, rows = timing_rows(result)
    L += ["## Timing (like the paper's Table 1)", "",
          "Mean seconds per image on this machine (CPU only, 2 shared cores, run under `nice`): "
          "encode to the target rate including the quality search; one encode at the chosen setting; "
          "decode. sggic's decode includes loading the restorer's weights (as the command line does).", "",
          _md_table(h, rows), ""]
    chosen = [(r["image"], r["codec"], r["target_bpp"], r["notes"]["stage_settings"]) for r in result.records
              if r.get("status") == "ok" and "stage_settings" in r.get("notes", {})
              and "no settings to adapt" not in r["notes"]["stage_settings"]]
    if chosen:
        L += ["## Decoder settings (sggic rows)", "", "What the settings stage chose per file, and from which features.", "",
              _md_table(["image", "codec", "bpp", "settings"], [[i, c, f"{b:g}", t] for i, c, b, t in sorted(chosen)]), ""]
    if result.errors:
        L += ["## Errors (not cached; a rerun retries them)", ""] + [f"- {e}" for e in result.errors] + [""]
    L += ["## Files", "", f"- `results.csv`: {n_rows} rows, one per (image, codec, rate, metric).",
          "- `cache/`: one JSON per (image, codec, rate) and the coded file (`.bin`); a rerun resumes from it.", ""]
    (outdir / "report.md").write_text("\n".join(L))
    return {"csv_rows": n_rows, "plots": plots, "summary": summary}
