"""The semantic encoder against a real chat-completions HTTP server on 127.0.0.1.

The server is ours (http.server in a thread): it records every request and answers from a
script (a reply, an HTTP error, or silence). No test leaves the machine. Needs the `openai`
package (extras `vlm` and `test`); without it these tests fail rather than skip.
"""

import base64
import io
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from sggic.cli import main
from sggic.semantics.vlm import NO_KEY, REASK, VlmSettings, describe_detailed

KEY = "sk-test-7f3a9c2e5b1d4e8f-SECRET"
GOOD = {"objects": [{"name": "astronaut", "detail": "smiling woman in a white spacesuit"},
                    {"name": "flag", "detail": "american flag patch on the shoulder"},
                    {"name": "helmet", "detail": "silver helmet beside her"}],
        "description": "Portrait of a smiling astronaut in a white spacesuit in front of a flag."}


def completion(content):
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-vlm",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class FakeVLM:
    """Answers POST /v1/chat/completions from ``script`` (then ``default``)."""

    def __init__(self):
        self.script = []
        self.default = ("reply", json.dumps(GOOD))
        self.requests = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                received = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append({"path": self.path, "headers": received, "body": body, "t": time.monotonic()})
                action = fake.script.pop(0) if fake.script else fake.default
                kind = action[0]
                if kind == "hang":
                    fake.release.wait(30)
                    return
                if kind == "raw":  # ("raw", status, content type, bytes)
                    self.send_response(action[1])
                    self.send_header("Content-Type", action[2])
                    self.send_header("Content-Length", str(len(action[3])))
                    self.end_headers()
                    self.wfile.write(action[3])
                    return
                if kind == "picky":  # a newer hosted model: refuses max_tokens and temperature
                    bad = [k for k in ("max_tokens", "temperature") if k in body]
                    if bad:
                        msg = (f"Unsupported parameter: '{bad[0]}' is not supported with this model."
                               + (" Use 'max_completion_tokens' instead." if bad[0] == "max_tokens" else ""))
                        status, payload, headers = 400, {"error": {"message": msg}}, {}
                    else:
                        status, payload, headers = 200, completion(action[1]), {}
                elif kind == "reply":
                    status, payload, headers = 200, completion(action[1]), {}
                elif kind == "echo-key":  # a server that leaks the Authorization header back
                    auth = self.headers.get("Authorization", "")
                    status, payload, headers = action[1], {"error": {"message": f"bad auth {auth}"}}, {}
                    if status == 200:
                        payload = completion(json.dumps({"objects": [{"name": "key", "detail": auth}],
                                                         "description": f"your key is {auth}"}))
                else:  # ("status", code, headers)
                    status, payload, headers = action[1], {"error": {"message": f"server says {action[1]}"}}, \
                        action[2] if len(action) > 2 else {}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vlm(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    fake = FakeVLM()
    monkeypatch.setenv("SGGIC_VLM_BASE_URL", fake.url)
    monkeypatch.setenv("SGGIC_VLM_MODEL", "test-vlm")
    monkeypatch.setenv("SGGIC_VLM_API_KEY", KEY)
    monkeypatch.setenv("SGGIC_VLM_TIMEOUT", "5")
    monkeypatch.setenv("SGGIC_VLM_RETRIES", "2")
    monkeypatch.setenv("SGGIC_VLM_BACKOFF", "0.01")
    monkeypatch.setenv("SGGIC_VLM_DEADLINE", "20")
    yield fake
    fake.close()


def _one_line_error(capsys, code, expect_code=6):
    out, err = capsys.readouterr()
    assert code == expect_code, err
    assert out == ""
    err = err.strip()
    assert err.startswith("sggic: error:") and len(err.splitlines()) == 1, err
    assert KEY not in err
    return err


def _sent_image(request):
    from PIL import Image

    parts = request["body"]["messages"][0]["content"]
    urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    assert len(urls) == 1
    assert urls[0].startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1], validate=True)))


def test_good_reply_prints_semantics_and_request_carries_the_image(vlm, capsys, astronaut_png):
    assert main(["describe", str(astronaut_png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == GOOD
    assert err == ""
    (req,) = vlm.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    body = req["body"]
    assert body["model"] == "test-vlm" and body["max_tokens"] == 300 and body["temperature"] == 0
    text = [p["text"] for p in body["messages"][0]["content"] if p.get("type") == "text"][0]
    assert "3 most striking objects" in text and "10 words" in text and "50 words" in text
    assert '"objects"' in text and '"description"' in text
    im = _sent_image(req)
    assert im.format == "JPEG" and im.size == (512, 512)
    sent = np.asarray(im.convert("RGB")).astype(float)
    from PIL import Image
    orig = np.asarray(Image.open(astronaut_png).convert("RGB")).astype(float)
    assert np.abs(sent - orig).mean() < 6  # it is this image, not some other one


def test_large_image_is_downscaled_deterministically(vlm, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    p = tmp_path / "wide.png"
    Image.fromarray(rng.integers(0, 256, (900, 1600, 3), dtype=np.uint8)).save(p)
    describe_detailed(p)
    describe_detailed(p)
    a, b = (_sent_image(r) for r in vlm.requests)
    assert a.size == (768, 432)
    assert vlm.requests[0]["body"]["messages"] == vlm.requests[1]["body"]["messages"]


def test_output_file_is_written(vlm, capsys, astronaut_png, tmp_path):
    from sggic.semantics.schema import Semantics

    out = tmp_path / "sem.json"
    assert main(["describe", str(astronaut_png), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert Semantics.load(out).to_dict() == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["sem.json"]


def test_fenced_overlong_reply_is_repaired_with_notes(vlm, capsys, astronaut_png):
    long_desc = " ".join(["word"] * 70)
    reply = {"objects": GOOD["objects"] + [{"name": "camera", "detail": "x"}], "description": long_desc}
    vlm.default = ("reply", "Here you go:\n```json\n" + json.dumps(reply) + "\n```\nEnjoy!")
    assert main(["describe", str(astronaut_png)]) == 0
    out, err = capsys.readouterr()
    sem = json.loads(out)
    assert sem["objects"] == GOOD["objects"] and len(sem["description"].split()) == 50
    assert "code fence" in err and "kept the first 3 of 4 objects" in err and "from 70 to 50 words" in err


def test_prose_then_json_asks_again(vlm, capsys, astronaut_png):
    vlm.script = [("reply", "The image shows an astronaut in a white suit, smiling.")]
    assert main(["describe", str(astronaut_png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == GOOD
    assert "asked again" in err
    assert len(vlm.requests) == 2
    msgs = vlm.requests[1]["body"]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"].startswith("The image shows") and msgs[2]["content"] == REASK
    _sent_image(vlm.requests[1])  # the image is still there


def test_prose_only_is_a_clear_error(vlm, capsys, astronaut_png, tmp_path):
    vlm.default = ("reply", "I see an astronaut.\nShe smiles.")
    out = tmp_path / "sem.json"
    err = _one_line_error(capsys, main(["describe", str(astronaut_png), "-o", str(out)]))
    assert "without a JSON object: 'I see an astronaut. She smiles.'" in err and "asked 2 time(s)" in err
    assert "test-vlm" in err and "127.0.0.1" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_http_500_retries_then_clear_error(vlm, capsys, astronaut_png):
    vlm.default = ("status", 500)
    t = time.monotonic()
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert time.monotonic() - t < 10
    assert len(vlm.requests) == 3  # 1 + SGGIC_VLM_RETRIES
    assert "HTTP 500: server says 500; gave up after 3 request(s)" in err


def test_http_503_then_good_reply(vlm, capsys, astronaut_png):
    vlm.script = [("status", 503), ("status", 502)]
    assert main(["describe", str(astronaut_png)]) == 0
    assert json.loads(capsys.readouterr().out) == GOOD
    assert len(vlm.requests) == 3


def test_429_backs_off_exponentially(vlm, monkeypatch, astronaut_png):
    monkeypatch.setenv("SGGIC_VLM_BACKOFF", "0.2")
    monkeypatch.setenv("SGGIC_VLM_RETRIES", "3")
    vlm.script = [("status", 429), ("status", 429)]
    r = describe_detailed(astronaut_png)
    assert r.semantics.to_dict() == GOOD and r.requests == 3
    t = [q["t"] for q in vlm.requests]
    assert t[1] - t[0] >= 0.2 and t[2] - t[1] >= 0.4  # 0.2 s, then doubled


def test_backoff_delays_and_retry_after(vlm, astronaut_png):
    settings = VlmSettings.from_env(backoff=0.5, retries=4, max_backoff=3.0, deadline=60)
    delays = []
    vlm.script = [("status", 429), ("status", 500), ("status", 429), ("status", 429, {"Retry-After": "2.5"})]
    r = describe_detailed(astronaut_png, settings, sleep=delays.append)
    assert r.requests == 5
    assert delays == [0.5, 1.0, 2.0, 3.0]  # doubling, capped at max_backoff; Retry-After 2.5 < cap
    delays.clear()
    vlm.requests.clear()
    vlm.script = [("status", 429, {"Retry-After": "2.5"})]
    describe_detailed(astronaut_png, settings, sleep=delays.append)
    assert delays == [2.5]  # the server's Retry-After wins over a shorter back-off


@pytest.mark.parametrize("action, expect", [
    (("raw", 200, "text/html", b"<html><body>Welcome to nginx</body></html>"), "not a chat completion"),
    (("raw", 200, "application/json", b'{"choices": []}'), "not a chat completion"),
    (("raw", 200, "application/json", json.dumps(completion(None)).encode()), "gave no text"),
    (("raw", 200, "application/json", b'{"choices": [{"message": {"role": "assistant", "content": null, '
                                        b'"refusal": "I cannot help"}, "finish_reason": "stop", "index": 0}]}'),
     "refused: 'I cannot help'"),
])
def test_answers_that_are_not_completions(vlm, capsys, astronaut_png, action, expect):
    vlm.default = action
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert expect in err


def test_refused_parameters_are_adapted_once(vlm, capsys, astronaut_png):
    vlm.default = ("picky", json.dumps(GOOD))
    vlm.script = [("picky", "no json here")] * 3  # the 3rd request gets prose: a re-ask must keep the changes
    assert main(["describe", str(astronaut_png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == GOOD
    assert "sent max_completion_tokens" in err and "temperature" in err
    bodies = [r["body"] for r in vlm.requests]
    assert len(bodies) == 4  # refused max_tokens, refused temperature, prose, JSON
    assert bodies[-1]["max_completion_tokens"] == 300 and "max_tokens" not in bodies[-1]
    assert "temperature" not in bodies[-1]


def test_client_errors_are_not_retried(vlm, capsys, astronaut_png):
    vlm.default = ("status", 404)
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert "HTTP 404: server says 404 (check SGGIC_VLM_BASE_URL" in err and len(vlm.requests) == 1


def test_server_that_never_answers_times_out(vlm, monkeypatch, capsys, astronaut_png):
    monkeypatch.setenv("SGGIC_VLM_TIMEOUT", "0.5")
    monkeypatch.setenv("SGGIC_VLM_RETRIES", "1")
    vlm.default = ("hang",)
    t = time.monotonic()
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    took = time.monotonic() - t
    assert 1.0 <= took < 6, took
    assert len(vlm.requests) == 2
    assert "no answer within 0.5 s" in err and "gave up after 2 request(s)" in err


def test_overall_deadline_bounds_the_call(vlm, monkeypatch, capsys, astronaut_png):
    monkeypatch.setenv("SGGIC_VLM_TIMEOUT", "30")
    monkeypatch.setenv("SGGIC_VLM_DEADLINE", "1")
    vlm.default = ("hang",)
    t = time.monotonic()
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert time.monotonic() - t < 4
    assert "1 s limit" in err or "within 1 s" in err


def test_default_limits_are_a_few_minutes():
    s = VlmSettings(base_url="http://127.0.0.1:1/v1", model="m")
    assert s.deadline <= 300 and s.timeout <= s.deadline


def test_connection_refused(vlm, monkeypatch, capsys, astronaut_png):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SGGIC_VLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert "cannot connect" in err and "gave up after 3 request(s)" in err


@pytest.mark.parametrize("status", [401, 500, 200])
def test_api_key_never_appears_in_errors_output_or_logs(vlm, capsys, caplog, astronaut_png, tmp_path, status):
    caplog.set_level(logging.DEBUG)
    vlm.default = ("echo-key", status)
    out_file = tmp_path / "sem.json"
    code = main(["describe", str(astronaut_png), "-o", str(out_file)])
    out, err = capsys.readouterr()
    assert vlm.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"  # it was sent, and echoed
    assert KEY not in out and KEY not in err and KEY not in caplog.text
    if status == 200:
        assert code == 0
        text = out_file.read_text()
        assert KEY not in text and "[API key]" in text
    else:
        assert code == 6 and "[API key]" in err


def test_api_key_not_in_settings_repr(vlm):
    s = VlmSettings.from_env()
    assert s.api_key == KEY and KEY not in repr(s) and KEY not in str(s)


def test_no_key_sends_placeholder(vlm, monkeypatch, astronaut_png):
    monkeypatch.delenv("SGGIC_VLM_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-be-used")
    describe_detailed(astronaut_png)
    assert vlm.requests[0]["headers"]["authorization"] == f"Bearer {NO_KEY}"


def test_missing_configuration(monkeypatch, capsys, astronaut_png):
    monkeypatch.delenv("SGGIC_VLM_BASE_URL", raising=False)
    monkeypatch.delenv("SGGIC_VLM_MODEL", raising=False)
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]))
    assert "SGGIC_VLM_BASE_URL and SGGIC_VLM_MODEL" in err


def test_bad_settings_values(vlm, monkeypatch, capsys, astronaut_png):
    monkeypatch.setenv("SGGIC_VLM_TIMEOUT", "soon")
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]), expect_code=2)
    assert "SGGIC_VLM_TIMEOUT" in err
    monkeypatch.setenv("SGGIC_VLM_TIMEOUT", "5")
    monkeypatch.setenv("SGGIC_VLM_BASE_URL", "ftp://user:pw@host/v1")
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]), expect_code=2)
    assert "http" in err and "pw" not in err
    assert vlm.requests == []


def test_openai_package_missing(vlm, monkeypatch, capsys, astronaut_png):
    import sys

    monkeypatch.setitem(sys.modules, "openai", None)
    err = _one_line_error(capsys, main(["describe", str(astronaut_png)]), expect_code=5)
    assert "pip install 'sggic[vlm]'" in err


def test_bad_image_sends_no_request(vlm, capsys, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    _one_line_error(capsys, main(["describe", str(bad)]), expect_code=2)
    _one_line_error(capsys, main(["encode", str(bad), "-o", str(tmp_path / "o.sgc"), "--describe"]),
                    expect_code=2)
    assert vlm.requests == []


def test_api_describe(vlm, astronaut):
    import sggic

    sem = sggic.describe(astronaut)
    assert isinstance(sem, sggic.Semantics) and sem.to_dict() == GOOD
    with pytest.raises(sggic.SggicError, match="SGGIC_VLM_API_KEY only"):
        sggic.describe(astronaut, api_key="sk-other")


def test_encode_describe_end_to_end(vlm, capsys, astronaut_png, tmp_path):
    f = tmp_path / "a.sgc"
    assert main(["encode", str(astronaut_png), "-o", str(f), "--describe", "-q"]) == 0
    assert len(vlm.requests) == 1
    capsys.readouterr()
    assert main(["info", str(f)]) == 0
    out = capsys.readouterr().out
    assert GOOD["description"] in out
    for o in GOOD["objects"]:
        assert f"- {o['name']}: {o['detail']}" in out


def test_describe_and_semantics_are_exclusive(vlm, astronaut_png, semantics_json, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["encode", str(astronaut_png), "-o", str(tmp_path / "o.sgc"), "--describe",
              "--semantics", str(semantics_json)])
    assert e.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
    assert vlm.requests == []


def test_describe_as_a_process_with_a_failing_server(vlm, astronaut_png):
    import os
    import subprocess
    import sys

    vlm.default = ("echo-key", 500)
    env = dict(os.environ, SGGIC_VLM_RETRIES="1")
    p = subprocess.run([sys.executable, "-m", "sggic.cli", "describe", str(astronaut_png)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 6 and p.stdout == ""
    assert p.stderr.startswith("sggic: error: VLM 'test-vlm'") and len(p.stderr.strip().splitlines()) == 1
    assert "HTTP 500: bad auth Bearer [API key]; gave up after 2 request(s)" in p.stderr
    assert KEY not in p.stderr and len(vlm.requests) == 2
