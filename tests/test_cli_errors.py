"""Every bad input: one line on stderr, non-zero exit, no traceback, no output file."""

import subprocess
import sys

import pytest

from sggic.cli import main


def _run_cli(args):
    return subprocess.run([sys.executable, "-m", "sggic.cli", *args], capture_output=True, text=True, timeout=300)


def _assert_clean_failure(capsys, code, out_path):
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("sggic: error:"), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out_path.exists()
    assert not any(p.name.startswith(f".{out_path.name}") for p in out_path.parent.iterdir())


def test_missing_image(tmp_path, capsys):
    out = tmp_path / "o.sgc"
    _assert_clean_failure(capsys, main(["encode", str(tmp_path / "nope.png"), "-o", str(out)]), out)


def test_unreadable_image(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    out = tmp_path / "o.sgc"
    _assert_clean_failure(capsys, main(["encode", str(bad), "-o", str(out)]), out)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"objects": "x"}',
                                  '{"objects": [{"detail": "no name"}]}', '{"description": 5}',
                                  '{"objects": [], "colour": "red"}'])
def test_wrong_semantics_json(tmp_path, capsys, astronaut_png, text):
    sem = tmp_path / "s.json"
    sem.write_text(text)
    out = tmp_path / "o.sgc"
    _assert_clean_failure(capsys, main(["encode", str(astronaut_png), "-o", str(out), "--semantics", str(sem)]), out)


@pytest.mark.parametrize("bpp", ["0.0005", "-1", "0", "nan", "100"])
def test_impossible_bitrate(tmp_path, capsys, astronaut_png, bpp):
    out = tmp_path / "o.sgc"
    _assert_clean_failure(capsys, main(["encode", str(astronaut_png), "-o", str(out), "--bpp", bpp]), out)


def test_unknown_codec_and_restorer(tmp_path, capsys, astronaut_png):
    out = tmp_path / "o.sgc"
    _assert_clean_failure(capsys, main(["encode", str(astronaut_png), "-o", str(out), "--base", "bpg"]), out)
    _assert_clean_failure(capsys, main(["encode", str(astronaut_png), "-o", str(out), "--restorer", "magic"]), out)


def test_output_folder_missing(tmp_path, capsys, astronaut_png):
    out = tmp_path / "no" / "o.sgc"
    code = main(["encode", str(astronaut_png), "-o", str(out), "--bpp", "0.05"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("sggic: error:") and len(err.splitlines()) == 1


def _corruptions(data: bytes):
    yield "truncated", data[: len(data) // 2]
    yield "one byte short", data[:-1]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    yield "bit flip", bytes(flipped)
    yield "foreign", b"\x89PNG\r\n\x1a\n" + data[8:]
    yield "empty", b""
    yield "newer version", data[:3] + b"\x07" + data[4:]


@pytest.mark.parametrize("kind", ["truncated", "one byte short", "bit flip", "foreign", "empty", "newer version"])
def test_corrupt_sgc(tmp_path, capsys, encoded_003, kind):
    bad = dict(_corruptions(encoded_003.read_bytes()))[kind]
    src = tmp_path / "bad.sgc"
    src.write_bytes(bad)
    out = tmp_path / "o.png"
    _assert_clean_failure(capsys, main(["decode", str(src), "-o", str(out)]), out)
    assert main(["info", str(src)]) != 0


def test_missing_sgc(tmp_path, capsys):
    out = tmp_path / "o.png"
    _assert_clean_failure(capsys, main(["decode", str(tmp_path / "none.sgc"), "-o", str(out)]), out)


def test_real_process_prints_one_line_and_exits_nonzero(tmp_path):
    bad = tmp_path / "x.sgc"
    bad.write_bytes(b"SGC\x01garbage")
    r = _run_cli(["decode", str(bad), "-o", str(tmp_path / "o.png")])
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_console_script_exit_flushes_runs_atexit_and_keeps_the_code(tmp_path, encoded_003):
    """sggic.cli.run (the console script) skips the interpreter's teardown: piped stdout is
    still flushed, atexit handlers still run, and the exit status is main's."""
    child = ("import atexit, sys\n"
             "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
             "from sggic.cli import run\n"
             "run()\n")

    def cli(*args):
        return subprocess.run([sys.executable, "-c", child, *args], capture_output=True, text=True, timeout=300)

    ok = cli("info", str(encoded_003))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == _run_cli(["info", str(encoded_003)]).stdout and ok.stdout.count("\n") > 3
    assert ok.stderr == "atexit ran\n"
    bad = cli("info", str(tmp_path / "none.sgc"))
    assert bad.returncode == main(["info", str(tmp_path / "none.sgc")]) != 0
    assert bad.stderr.startswith("sggic: error:") and bad.stderr.endswith("atexit ran\n")


def test_a_closed_stdout_pipe_ends_quietly(encoded_003):
    """`sggic info x.sgc | head -0`: no 'internal error', no traceback, a non-zero status."""
    import os

    r, w = os.pipe()
    os.close(r)  # the reader is gone before sggic writes
    try:
        p = subprocess.run([sys.executable, "-m", "sggic.cli", "info", "--json", str(encoded_003)], stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 1 and p.stderr == ""
