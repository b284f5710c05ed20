"""The ``sggic`` command line: encode, decode, info, sample, bench.

Every expected failure prints one line ``sggic: error: ...`` on stderr and exits
non-zero; outputs are written atomically, so a failed run leaves no file behind.
Set SGGIC_DEBUG=1 to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

from .errors import InputError, SggicError


def _bpp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="sggic", description="Semantics-guided generative image compression.")
    p.add_argument("--version", action="version", version=f"sggic {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("encode", help="compress an image into a .sgc file")
    e.add_argument("input", help="image file (PNG, JPEG, WebP, TIFF, HEIC, ...)")
    e.add_argument("-o", "--output", required=True, help="output .sgc file")
    e.add_argument("--bpp", type=_bpp, default=0.03, help="target bits per pixel for the whole file (default 0.03)")
    e.add_argument("--base", default="vvc", help="base-layer codec: vvc (default), avif, heic, webp, jpeg")
    e.add_argument("--semantics", help="semantics JSON: {\"objects\": [{\"name\", \"detail\"}], \"description\"}")
    e.add_argument("--restorer", default=None, help="restorer the decoder should use (recorded in the file)")
    e.add_argument("--fixed", action="store_true", help="record fixed decoder settings (no content adaptation)")
    e.add_argument("--seed", type=int, default=0, help="seed recorded for any sampling at decode time")
    e.add_argument("-q", "--quiet", action="store_true")

    d = sub.add_parser("decode", help="reconstruct an image from a .sgc file")
    d.add_argument("input", help=".sgc file")
    d.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp)")
    d.add_argument("--restorer", default=None, help="override the restorer recorded in the file")
    d.add_argument("--strength", type=float, default=None,
                   help="perception/fidelity knob in [0, 1] for the generative restorer "
                        "(0 faithful, 1 most texture; default: the restorer's calibrated default)")
    d.add_argument("-v", "--verbose", action="store_true", help="say which implementation ran each stage")

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


def _encode(a: argparse.Namespace) -> None:
    from .images import atomic_write
    from .pipeline import DEFAULT_RESTORER, encode_detailed
    from .semantics.schema import Semantics

    sem = Semantics.load(a.semantics) if a.semantics else None
    t = time.perf_counter()
    r = encode_detailed(a.input, bpp=a.bpp, base=a.base, semantics=sem,
                        restorer=a.restorer or DEFAULT_RESTORER, seed=a.seed, fixed=a.fixed)
    atomic_write(a.output, r.data)
    if not a.quiet:
        for note in r.notes:
            print(f"sggic: note: {note}", file=sys.stderr)
        h = r.header
        print(f"{a.output}: {len(r.data)} bytes, {len(r.data) * 8 / (h.width * h.height):.4f} bpp "
              f"(target {r.target_bytes} bytes), {h.width}x{h.height}, base quality {h.quality}, "
              f"{time.perf_counter() - t:.1f} s")


def _decode(a: argparse.Namespace) -> None:
    from .images import save_image
    from .pipeline import decode_detailed

    t = time.perf_counter()
    r = decode_detailed(a.input, restorer=a.restorer, strength=a.strength)
    save_image(r.image, a.output)
    if a.verbose:
        for stage, what in r.stages.items():
            print(f"  {stage:13s} {what}", file=sys.stderr)
        print(f"{a.output}: {r.header.width}x{r.header.height}, {time.perf_counter() - t:.1f} s", file=sys.stderr)


def _info(a: argparse.Namespace) -> None:
    from .pipeline import info

    d = info(a.input)
    if a.json:
        print(json.dumps(d, indent=2, ensure_ascii=False))
        return
    print(f"{a.input}: sggic format v{d['format_version']}, {d['width']}x{d['height']}, "
          f"{d['bytes']} bytes ({d['bpp']:.4f} bpp)")
    bc = d["base_codec"]
    print(f"  base layer: {bc['name']} (id {bc['id']}) quality {bc['quality']} at {d['base_size'][0]}x{d['base_size'][1]}")
    print(f"  restorer: {d['restorer']['name']} (id {d['restorer']['id']}), seed {d['seed']}"
          f"{', fixed settings' if d['fixed_settings'] else ''}{', grayscale' if d['grayscale'] else ''}")
    print("  sections: " + ", ".join(f"{k} {v} B" for k, v in d["sections"].items()))
    sem = d["semantics"]
    if sem is None:
        print("  semantics: none")
    else:
        print("  semantics:")
        for o in sem["objects"]:
            print(f"    - {o['name']}: {o['detail']}")
        print(f"    description: {sem['description']}")


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
    handlers = {"encode": _encode, "decode": _decode, "info": _info, "sample": _sample, "bench": _bench}
    try:
        handlers[args.command](args)
    except SggicError as e:
        print(f"sggic: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sggic: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("sggic: error: out of memory (try a smaller image)", file=sys.stderr)
        return 1
    except Exception as e:  # an sggic bug: still one line unless debugging
        if os.environ.get("SGGIC_DEBUG"):
            raise
        print(f"sggic: internal error: {type(e).__name__}: {e} (set SGGIC_DEBUG=1 for details)", file=sys.stderr)
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
