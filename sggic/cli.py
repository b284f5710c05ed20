"""The ``sggic`` command line: encode, describe, decode, info, sample, bench, models.

Every expected failure prints one line ``sggic: error: ...`` on stderr and exits
non-zero; outputs are written atomically, so a failed run leaves no file behind.
Set SGGIC_DEBUG=1 to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
from typing import NoReturn, Sequence

from .errors import InputError, SggicError
from .terminal import printable


def _bpp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _positive_int(text: str) -> int:
    """argparse type of counts such as --threads and --max-pixels: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _add_run_config(p: argparse.ArgumentParser) -> None:
    """--profile, --device, --threads, --models: the RunConfig every stage is built from."""
    from .config import DEFAULT_PROFILE, PROFILES

    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"component set: {', '.join(PROFILES)} (default {DEFAULT_PROFILE}; docs/architecture.md)")
    p.add_argument("--device", default="cpu", help="torch device for model-backed stages (default cpu)")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads per stage (default: each stage's own)")
    p.add_argument("--models", default=None, help="model registry TOML of the full profile")


def _run_config(a: argparse.Namespace):  # -> RunConfig
    from .config import RunConfig

    return RunConfig(profile=a.profile, device=a.device, threads=a.threads, models=a.models)


LAZY_COMMANDS = ("models", "train-adapt")  # their parsers import more; built only when asked for


def _command(argv: Sequence[str] | None) -> str | None:
    """The subcommand named on the command line (the first argument that is not an option)."""
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command`` another subcommand than ``LAZY_COMMANDS``,
    those get empty stand-ins (a fresh ``sggic encode`` does not import their modules)."""
    from . import __version__
    from .limits import DEFAULT_MAX_PIXELS

    from .batch import cli as batch_cli
    from .cliparse import SuggestingParser

    p = SuggestingParser(prog="sggic", description="Semantics-guided generative image compression.")
    p.add_argument("--version", action="version", version=f"sggic {__version__}", help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("encode", help="compress an image into a .sgc file")
    e.add_argument("input", nargs="+", help="image file (PNG, JPEG, WebP, TIFF, HEIC, ...); several files "
                   "or folders (searched recursively) encode into the -o folder")
    e.add_argument("-o", "--output", required=True,
                   help="output .sgc file; a folder for several inputs or a folder input (its layout is mirrored)")
    rate = e.add_mutually_exclusive_group()
    rate.add_argument("--bpp", type=_bpp, default=None, help="target bits per pixel for the whole file (default 0.03)")
    rate.add_argument("--bytes", type=int, default=None, metavar="N", help="target size of the whole file in bytes")
    e.add_argument("--base", default=None, help="base-layer codec: vvc (the offline default), avif, heic, webp, "
                   "jpeg, cheng2020 (the full profile's default)")
    _add_semantics_options(e)
    e.add_argument("--restorer", default=None, help="restorer the decoder should use (recorded in the file): "
                   + _restorer_choices())
    e.add_argument("--segmenter", default=None,
                   help="how the decoder finds the objects: the profile's (full: clipseg, run at the decoder) "
                        "or patchmap (8x8 CLIP patch maps made here and stored in the file, 8 bytes per object; "
                        "MISC's 'w/o CLIPSeg' ablation; needs --profile full)")
    e.add_argument("--fixed", action="store_true", help="record fixed decoder settings (no content adaptation)")
    e.add_argument("--seed", type=int, default=0, help="seed recorded for any sampling at decode time")
    e.add_argument("--force", action="store_true", help="write the .sgc even under an image file name (a.png)")
    e.add_argument("-q", "--quiet", action="store_true", help="no summary line, notes or progress bar")
    _add_run_config(e)
    batch_cli.add_options(e)

    _add_describe_parser(sub)

    d = sub.add_parser("decode", help="reconstruct an image from a .sgc file")
    d.add_argument("input", nargs="+", help=".sgc file; several files or folders (searched recursively) "
                   "decode into the -o folder")
    d.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp); a folder "
                   "for several inputs or a folder input (its layout is mirrored)")
    d.add_argument("--restorer", default=None, help="override the restorer recorded in the file: " + _restorer_choices())
    d.add_argument("--strength", type=float, default=None,
                   help="perception/fidelity knob in [0, 1] for restorers that have one "
                        "(0 faithful, 1 most texture; default: chosen per image up to the restorer's calibrated "
                        "default, 0.4375 for generative; above it a regular GAN texture can appear; docs/adapt.md)")
    d.add_argument("--steps", type=int, default=None, help="diffusion steps in [2, 80] (default: chosen per image)")
    d.add_argument("--cfg", type=float, default=None, help="guidance scale in [0, 10] (default: chosen per image)")
    d.add_argument("--fixed", action="store_true",
                   help="fixed settings instead of content-adaptive ones (the paper's 'w/o CAD')")
    d.add_argument("--format", default="png", choices=("png", "jpg", "webp", "tif", "bmp"),
                   help="image format of the outputs when decoding into a folder (default png)")
    d.add_argument("-v", "--verbose", action="store_true",
                   help="say which implementation ran each stage, the settings and the features behind them")
    d.add_argument("-q", "--quiet", action="store_true", help="no summary line or progress bar")
    d.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse files above N pixels before decoding (default {DEFAULT_MAX_PIXELS})")
    _add_run_config(d)
    batch_cli.add_options(d)

    i = sub.add_parser("info", help="show a .sgc file's header, semantics and section sizes")
    i.add_argument("input", help=".sgc file")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    s = sub.add_parser("sample", help="write a sample photo that an installed package ships")
    s.add_argument("name", help="astronaut, chelsea, coffee, rocket, motorcycle, china, flower")
    s.add_argument("-o", "--output", required=True,
                   help="where to write it; another image extension than the sample's converts it")

    b = sub.add_parser("bench", help="rate-quality benchmark of sggic and baseline codecs (docs/bench.md)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder of images to test")
    src.add_argument("--dataset", help="split of the photo list data/photos.tsv (dev); needs the Debian photo packages")
    b.add_argument("--photos", default=None, metavar="FILE", help="photo list for --dataset (default: data/photos.tsv)")
    b.add_argument("--bpp", default="0.02,0.03,0.05", help="comma-separated target rates (default 0.02,0.03,0.05)")
    b.add_argument("--codecs", default=None, help="comma-separated codecs (default: sggic variants and every baseline)")
    b.add_argument("--metrics", default=None, help="comma-separated metrics (default: every one that runs here)")
    b.add_argument("--size", type=int, default=512, help="resize short side and centre-crop to SIZE (default 512)")
    b.add_argument("--full-size", action="store_true", help="no resize or crop")
    b.add_argument("--limit", type=int, default=None, help="first N images only")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--report-only", action="store_true", help="rebuild the report from the cache; compute nothing")
    b.add_argument("--keep-images", action="store_true",
                   help="save the decoded pictures and write OUTPUT/compare.html (all codecs side by side, zoom)")
    b.add_argument("-o", "--output", required=True, help="output folder (results are cached there)")

    if command is not None and command in sub.choices and command not in LAZY_COMMANDS:
        for name in LAZY_COMMANDS:
            sub.add_parser(name)
        return p
    from .models.cli import add_models_parser
    from .adapt.train import add_parser as add_train_adapt

    add_models_parser(sub)
    add_train_adapt(sub)
    return p


def _restorer_choices() -> str:
    from .restore.registry import DEFAULT_RESTORER, RESTORER_NAMES

    return ", ".join(f"{n} (default)" if n == DEFAULT_RESTORER else n for n in RESTORER_NAMES)


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
    from .batch import cli as batch_cli
    from .images import atomic_write
    from .pipeline import DEFAULT_BPP, encode_detailed
    from .progress import activity

    if batch_cli.is_batch(a.input, a.output):
        return batch_cli.encode(a)
    a.input = a.input[0]
    _check_output_folder(a.output, a.input, *([a.semantics] if a.semantics else []))
    _check_sgc_name(a.output, a.force)
    config = _run_config(a)
    sem = _encode_semantics(a)
    t = time.perf_counter()
    with activity("encode", unit="try", enabled=False if a.quiet else None):
        r = encode_detailed(a.input, bpp=DEFAULT_BPP if a.bpp is None else a.bpp, base=a.base, semantics=sem,
                            restorer=a.restorer, seed=a.seed, fixed=a.fixed,
                            target_bytes=a.bytes, config=config, segmenter=a.segmenter)
    atomic_write(a.output, r.data)
    if not a.quiet:
        for note in r.notes:
            print(f"sggic: note: {printable(note)}", file=sys.stderr)
        h = r.header
        print(f"{printable(a.output)}: {len(r.data)} bytes, {len(r.data) * 8 / (h.width * h.height):.4f} bpp "
              f"(target {r.target_bytes} bytes), {h.width}x{h.height}, base quality {h.quality}, "
              f"{time.perf_counter() - t:.1f} s")


def _check_sgc_name(output: str, force: bool) -> None:
    """An .sgc under an image name (a.png) would fool every image viewer: refuse unless --force."""
    from PIL import Image

    ext = os.path.splitext(output)[1].lower()
    if not force and ext != ".sgc" and ext in Image.registered_extensions():
        raise InputError(f"{output} is an image file name but encode writes an .sgc file; "
                         "name it *.sgc (or pass --force)")


def _decode(a: argparse.Namespace) -> None:
    from .batch import cli as batch_cli
    from .images import output_format, save_image
    from .pipeline import decode_detailed
    from .progress import activity

    if batch_cli.is_batch(a.input, a.output):
        return batch_cli.decode(a)
    a.input = a.input[0]
    _check_output_folder(a.output, a.input)
    output_format(a.output)  # an unsupported extension fails before decoding, not after
    config = _run_config(a)
    t = time.perf_counter()
    with activity("decode", unit="tile", enabled=False if a.quiet else None):
        r = decode_detailed(a.input, restorer=a.restorer, config=config, max_pixels=a.max_pixels,
                            strength=a.strength, steps=a.steps, guidance=a.cfg, fixed=a.fixed)
    for w in r.warnings:
        print(f"sggic: warning: {printable(w)}", file=sys.stderr)
    save_image(r.image, a.output)
    if a.verbose:
        for stage, what in r.stages.items():
            print(f"  {stage:13s} {what}", file=sys.stderr)
        for line in r.report:
            print(f"  {line}", file=sys.stderr)
    if not a.quiet:
        h = r.header
        size = os.path.getsize(a.input)
        print(f"{printable(a.output)}: {h.width}x{h.height} from {size} bytes ({size * 8 / (h.width * h.height):.4f} bpp), "
              f"restorer {r.stages['restoration']}, {time.perf_counter() - t:.1f} s")


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
    prof = d["profile"]
    comps = ", ".join(f"{c['stage']} {esc(c['name'])} (id {c['id']}, weights v{c['weights_version']})"
                      for c in prof["components"])
    print(f"  profile: {esc(prof['name'])}" + (f": {comps}" if comps else " (no profile section)"))
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
    if os.path.splitext(a.output)[1].lower() in (path.suffix.lower(), ""):
        atomic_write(a.output, path.read_bytes())
    else:  # another format: convert (the extension says which; save_image refuses unknown ones)
        from PIL import Image

        from .images import save_image

        with Image.open(path) as im:
            save_image(im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy(), a.output)
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
                 photos=a.photos, size=None if a.full_size else a.size, metrics=split(a.metrics), limit=a.limit,
                 progress=not a.no_progress, command=command,
                 log=lambda m: print(f"sggic: {m}", file=sys.stderr), compute=not a.report_only,
                 keep_images=a.keep_images)
    print(info["table"])
    r = info["result"]
    print(f"{a.output}/report.md: {info['csv_rows']} CSV rows, {len(info['plots'])} plots; "
          f"{r.encoded} points computed, {r.cached} cached, {r.missing} missing, {len(r.errors)} errors")
    if info.get("html"):
        print(f"{info['html']}: decoded pictures side by side")


def _train_adapt(a: argparse.Namespace) -> None:
    from .adapt.train import run

    run(a)


def _models(a: argparse.Namespace) -> None:
    from .models.cli import run_models

    run_models(a)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser(_command(argv)).parse_args(argv)
    handlers = {"encode": _encode, "describe": _describe, "decode": _decode, "info": _info,
                "sample": _sample, "bench": _bench, "models": _models, "train-adapt": _train_adapt}
    try:
        handlers[args.command](args)
    except SggicError as e:
        print(f"sggic: error: {printable(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sggic: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader went away (`sggic info x.sgc | head -1`): stop quietly
        _stdout_to_devnull()
        return 1
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


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so that flushing what is still buffered cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (tests' captured streams): nothing to flush into a pipe
        pass


def run() -> NoReturn:
    """The ``sggic`` console script: :func:`main`, then exit without tearing the interpreter down.

    Freeing numpy's, Pillow's and ncnn's modules one by one at exit costs a fresh ``sggic
    encode`` or ``decode`` ~0.02-0.03 s (of 0.5-1 s) for memory the OS takes back anyway.
    By then every output is written and closed (atomic renames); ``atexit`` handlers still
    run and stdout/stderr are flushed, as at a normal exit (120 if flushing fails, as
    Python does). Anything :func:`main` raises (``--help``, usage errors) exits normally.
    """
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # e.g. stdout piped into a closed `head`
            code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
