"""The ``sggic`` command line: encode, describe, decode, info, sample, bench.

Every expected failure prints one line ``sggic: error: ...`` on stderr and exits
non-zero; outputs are written atomically, so a failed run leaves no file behind.
Set SGGIC_DEBUG=1 to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

from .errors import InputError, SggicError
from .terminal import printable


def _bpp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag value is one ``sggic: error:`` line, not a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"sggic: error: {printable(message)} (see {self.prog} --help)\n")


def _max_pixels(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .limits import DEFAULT_MAX_PIXELS

    p = _Parser(prog="sggic", description="Semantics-guided generative image compression.")
    p.add_argument("--version", action="version", version=f"sggic {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("encode", help="compress an image into a .sgc file")
    e.add_argument("input", help="image file (PNG, JPEG, WebP, TIFF, HEIC, ...)")
    e.add_argument("-o", "--output", required=True, help="output .sgc file")
    e.add_argument("--bpp", type=_bpp, default=0.03, help="target bits per pixel for the whole file (default 0.03)")
    e.add_argument("--base", default="vvc", help="base-layer codec: vvc (default), avif, heic, webp, jpeg")
    _add_semantics_options(e)
    e.add_argument("--restorer", default=None, help="restorer the decoder should use (recorded in the file)")
    e.add_argument("--fixed", action="store_true", help="record fixed decoder settings (no content adaptation)")
    e.add_argument("--seed", type=int, default=0, help="seed recorded for any sampling at decode time")
    e.add_argument("-q", "--quiet", action="store_true")

    _add_describe_parser(sub)

    d = sub.add_parser("decode", help="reconstruct an image from a .sgc file")
    d.add_argument("input", help=".sgc file")
    d.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp)")
    d.add_argument("--restorer", default=None, help="override the restorer recorded in the file")
    d.add_argument("-v", "--verbose", action="store_true", help="say which implementation ran each stage")
    d.add_argument("--max-pixels", type=_max_pixels, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse files above N pixels before decoding (default {DEFAULT_MAX_PIXELS})")

    i = sub.add_parser("info", help="show a .sgc file's header, semantics and section sizes")
    i.add_argument("input")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    s = sub.add_parser("sample", help="write a sample photo that an installed package ships")
    s.add_argument("name", help="astronaut, chelsea, coffee, rocket, motorcycle, china, flower")
    s.add_argument("-o", "--output", required=True)

    b = sub.add_parser("bench", help="rate-quality benchmark of sggic and baseline codecs (docs/bench.md)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder of images to test")
    src.add_argument("--dataset", help="split of shared/data/photos.tsv (dev)")
    b.add_argument("--bpp", default="0.02,0.03,0.05", help="comma-separated target rates (default 0.02,0.03,0.05)")
    b.add_argument("--codecs", default=None, help="comma-separated codecs (default: sggic variants and every baseline)")
    b.add_argument("--metrics", default=None, help="comma-separated metrics (default: every one that runs here)")
    b.add_argument("--size", type=int, default=512, help="resize short side and centre-crop to SIZE (default 512)")
    b.add_argument("--full-size", action="store_true", help="no resize or crop")
    b.add_argument("--limit", type=int, default=None, help="first N images only")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--report-only", action="store_true", help="rebuild the report from the cache; compute nothing")
    b.add_argument("-o", "--output", required=True, help="output folder (results are cached there)")
    return p


def _add_semantics_options(e: argparse.ArgumentParser) -> None:
    g = e.add_mutually_exclusive_group()
    g.add_argument("--semantics", help="semantics JSON: {\"objects\": [{\"name\", \"detail\"}], \"description\"}")
    g.add_argument("--describe", action="store_true",
                   help="ask the VLM configured by SGGIC_VLM_* for the semantics (docs/semantics.md)")


def _add_describe_parser(sub) -> None:
    r = sub.add_parser("describe", help="write an image's semantics JSON with a VLM (SGGIC_VLM_* settings)",
                       description="Ask an OpenAI-compatible chat-completions VLM for the 3 most striking objects "
                                   "and a description. Settings: SGGIC_VLM_BASE_URL, SGGIC_VLM_MODEL, "
                                   "SGGIC_VLM_API_KEY (optional), SGGIC_VLM_TIMEOUT, SGGIC_VLM_RETRIES, "
                                   "SGGIC_VLM_BACKOFF, SGGIC_VLM_DEADLINE (docs/semantics.md).")
    r.add_argument("input", help="image file")
    r.add_argument("-o", "--output", help="write the JSON here (default: print it)")
    r.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")


def _describe_image(path: str, quiet: bool):
    from .semantics.vlm import describe_detailed

    r = describe_detailed(path)
    if not quiet:
        for note in r.notes:
            print(f"sggic: note: VLM: {printable(note)}", file=sys.stderr)
    return r.semantics


def _check_output_folder(path: str, *inputs: str) -> None:
    """Before any long work: the output can be written and is not one of the inputs."""
    from .outputs import check_output

    check_output(path, inputs)


def _encode_semantics(a: argparse.Namespace):
    from .semantics.schema import Semantics

    if a.describe:
        from .images import load_image

        load_image(a.input)  # a bad image or output path fails before any request is sent
        _check_output_folder(a.output)
        return _describe_image(a.input, a.quiet)
    return Semantics.load(a.semantics) if a.semantics else None


def _describe(a: argparse.Namespace) -> None:
    from .images import atomic_write

    if a.output:
        _check_output_folder(a.output, a.input)
    text = _describe_image(a.input, a.quiet).to_json() + "\n"
    if a.output:
        atomic_write(a.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)


def _encode(a: argparse.Namespace) -> None:
    from .images import atomic_write
    from .pipeline import DEFAULT_RESTORER, encode_detailed

    _check_output_folder(a.output, a.input, *([a.semantics] if a.semantics else []))
    sem = _encode_semantics(a)
    t = time.perf_counter()
    r = encode_detailed(a.input, bpp=a.bpp, base=a.base, semantics=sem,
                        restorer=a.restorer or DEFAULT_RESTORER, seed=a.seed, fixed=a.fixed)
    atomic_write(a.output, r.data)
    if not a.quiet:
        for note in r.notes:
            print(f"sggic: note: {printable(note)}", file=sys.stderr)
        h = r.header
        print(f"{printable(a.output)}: {len(r.data)} bytes, {len(r.data) * 8 / (h.width * h.height):.4f} bpp "
              f"(target {r.target_bytes} bytes), {h.width}x{h.height}, base quality {h.quality}, "
              f"{time.perf_counter() - t:.1f} s")


def _decode(a: argparse.Namespace) -> None:
    from .images import output_format, save_image
    from .pipeline import decode_detailed

    _check_output_folder(a.output, a.input)
    output_format(a.output)  # an unsupported extension fails before decoding, not after
    t = time.perf_counter()
    r = decode_detailed(a.input, restorer=a.restorer, max_pixels=a.max_pixels)
    save_image(r.image, a.output)
    if a.verbose:
        for stage, what in r.stages.items():
            print(f"  {stage:13s} {what}", file=sys.stderr)
        print(f"{printable(a.output)}: {r.header.width}x{r.header.height}, {time.perf_counter() - t:.1f} s", file=sys.stderr)


def _info(a: argparse.Namespace) -> None:
    from .pipeline import info
    from .terminal import dumps_exact, printable as esc

    d = info(a.input)
    if a.json:
        print(dumps_exact(d))
        return
    print(f"{esc(a.input)}: sggic format v{d['format_version']}, {d['width']}x{d['height']}, "
          f"{d['bytes']} bytes ({d['bpp']:.4f} bpp)")
    bc = d["base_codec"]
    print(f"  base layer: {bc['name']} (id {bc['id']}) quality {bc['quality']} at {d['base_size'][0]}x{d['base_size'][1]}")
    print(f"  restorer: {esc(d['restorer']['name'])} (id {d['restorer']['id']}), seed {d['seed']}"
          f"{', fixed settings' if d['fixed_settings'] else ''}{', grayscale' if d['grayscale'] else ''}")
    print("  sections: " + ", ".join(f"{esc(k)} {v} B" for k, v in d["sections"].items()))
    sem = d["semantics"]
    if sem is None:
        print("  semantics: none")
    else:
        print("  semantics:")
        for o in sem["objects"]:
            print(f"    - {esc(o['name'])}: {esc(o['detail'])}")
        print(f"    description: {esc(sem['description'])}")


def _sample(a: argparse.Namespace) -> None:
    from .images import atomic_write
    from .samples import sample_path

    path = sample_path(a.name)
    if os.path.splitext(a.output)[1].lower() != path.suffix.lower():
        raise InputError(f"sample {a.name!r} is a {path.suffix} file; name the output *{path.suffix}")
    atomic_write(a.output, path.read_bytes())
    print(a.output)


def _bench(a: argparse.Namespace) -> None:
    from .bench import bench

    def split(text: str | None) -> list[str] | None:
        return [x.strip() for x in text.split(",") if x.strip()] if text else None

    try:
        bpps = [float(x) for x in split(a.bpp) or []]
    except ValueError:
        raise InputError(f"--bpp must be comma-separated numbers, got {a.bpp!r}") from None
    if a.size is not None and a.size < 16:
        raise InputError("--size must be at least 16")
    command = "sggic " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "sggic bench"
    info = bench(a.output, bpps=bpps, codecs=split(a.codecs), images=a.images, dataset=a.dataset,
                 size=None if a.full_size else a.size, metrics=split(a.metrics), limit=a.limit,
                 progress=not a.no_progress, command=command,
                 log=lambda m: print(f"sggic: {m}", file=sys.stderr), compute=not a.report_only)
    print(info["table"])
    r = info["result"]
    print(f"{a.output}/report.md: {info['csv_rows']} CSV rows, {len(info['plots'])} plots; "
          f"{r.encoded} points computed, {r.cached} cached, {r.missing} missing, {len(r.errors)} errors")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"encode": _encode, "describe": _describe, "decode": _decode, "info": _info,
                "sample": _sample, "bench": _bench}
    try:
        handlers[args.command](args)
    except SggicError as e:
        print(f"sggic: error: {printable(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sggic: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print("sggic: error: input nested too deeply", file=sys.stderr)
        return 2
    except MemoryError:
        print("sggic: error: out of memory (try a smaller image)", file=sys.stderr)
        return 1
    except Exception as e:  # an sggic bug: still one line unless debugging
        if os.environ.get("SGGIC_DEBUG"):
            raise
        print(f"sggic: internal error: {type(e).__name__}: {printable(e)} (set SGGIC_DEBUG=1 for details)",
              file=sys.stderr)
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
