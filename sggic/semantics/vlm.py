"""The semantic encoder: a vision-language model behind an OpenAI-compatible endpoint.

Any chat-completions server that takes images works: a hosted GPT-4-class API or a local
vLLM, Ollama or llama.cpp server. It is configured by environment variables (see
:meth:`VlmSettings.from_env` and docs/semantics.md). The API key is read from the
environment only, is sent only in the Authorization header, and is removed from every
message this module produces. The request goes through the maintained ``openai`` client
(optional extra ``sggic[vlm]``); retries and back-off are ours so that they are bounded
and testable.
"""

from __future__ import annotations

import base64
import io
import math
import os
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from ..errors import BackendUnavailable, InputError, ServiceError
from .repair import NotJSONReply, parse_reply, snippet
from .schema import Semantics

ENV_BASE_URL = "SGGIC_VLM_BASE_URL"
ENV_MODEL = "SGGIC_VLM_MODEL"
ENV_API_KEY = "SGGIC_VLM_API_KEY"
ENV_TIMEOUT = "SGGIC_VLM_TIMEOUT"
ENV_RETRIES = "SGGIC_VLM_RETRIES"
ENV_BACKOFF = "SGGIC_VLM_BACKOFF"
ENV_DEADLINE = "SGGIC_VLM_DEADLINE"

NO_KEY = "no-key"  # sent when SGGIC_VLM_API_KEY is unset (local servers ignore it)

PROMPT = (
    "Look at this image. Name its 3 most striking objects (a name of 1 to 3 words each) and "
    "give a detail of at most 10 words for each; then describe the whole image in at most "
    "50 words.\n"
    "Answer with one JSON object and nothing else, in exactly this form:\n"
    '{"objects": [{"name": "...", "detail": "..."}, {"name": "...", "detail": "..."}, '
    '{"name": "...", "detail": "..."}], "description": "..."}'
)
REASK = "Answer again with only the JSON object in the form asked for, and no other text."


@dataclass(frozen=True)
class VlmSettings:
    """Where the VLM is and how long to wait for it (seconds)."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0      # per attempt: connect, send, and each wait for bytes
    retries: int = 3           # further attempts after a 429, 5xx, time-out or connection error
    backoff: float = 1.0       # first back-off; doubles on every retry (or Retry-After, if longer)
    max_backoff: float = 30.0
    deadline: float = 180.0    # the whole describe call, re-ask included
    reask: int = 1             # further requests when a reply holds no JSON object
    max_side: int = 768        # the image is downscaled so that its longer side is at most this
    jpeg_quality: int = 90
    max_tokens: int = 300      # the reference code's limit

    def __post_init__(self) -> None:
        for name in ("base_url", "model"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"VLM {name} must be a non-empty string")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise InputError(f"{ENV_BASE_URL} must be an http:// or https:// URL, got {display_url(self.base_url)!r}")
        for name in ("timeout", "backoff", "max_backoff", "deadline"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0 \
                    or (value == 0 and name in ("timeout", "deadline")):
                raise InputError(f"VLM {name} must be a positive number of seconds, got {value!r}")
        for name, lo, hi in (("retries", 0, 20), ("reask", 0, 5), ("max_side", 64, 4096),
                             ("jpeg_quality", 1, 100), ("max_tokens", 16, 100_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise InputError(f"VLM {name} must be an integer in [{lo}, {hi}], got {value!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "VlmSettings":
        """Settings from SGGIC_VLM_* variables; keyword arguments win (except the key)."""
        env = os.environ if env is None else env
        if "api_key" in overrides:
            raise InputError(f"the VLM API key is read from {ENV_API_KEY} only")
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise InputError(f"unknown VLM setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, var, conv in (("base_url", ENV_BASE_URL, str), ("model", ENV_MODEL, str),
                                ("timeout", ENV_TIMEOUT, float), ("retries", ENV_RETRIES, int),
                                ("backoff", ENV_BACKOFF, float), ("deadline", ENV_DEADLINE, float)):
            raw = env.get(var, "").strip()
            if raw:
                try:
                    values[name] = conv(raw)
                except ValueError:
                    raise InputError(f"{var} must be a number, got {raw!r}") from None
        values.update(overrides)
        missing = [var for name, var in (("base_url", ENV_BASE_URL), ("model", ENV_MODEL)) if not values.get(name)]
        if missing:
            raise ServiceError(
                f"no VLM configured: set {' and '.join(missing)} (e.g. {ENV_BASE_URL}=https://api.openai.com/v1 "
                f"{ENV_MODEL}=gpt-4o, or a local server such as http://127.0.0.1:11434/v1)")
        return cls(api_key=env.get(ENV_API_KEY) or None, **values)


@dataclass
class DescribeResult:
    semantics: Semantics
    notes: list[str]
    reply: str        # the reply text that was used (key removed)
    requests: int     # HTTP requests made, retries and re-asks included
    seconds: float


def display_url(url: str) -> str:
    """A URL without user:password@ and without its query (either may hold a secret)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


def redact(text: str, settings: VlmSettings) -> str:
    """``text`` with the API key (if any) replaced; applied to everything we show or return."""
    key = settings.api_key
    if key:
        text = text.replace(key, "[API key]")
    return text


def _fail(settings: VlmSettings, why: str) -> ServiceError:
    where = f"VLM {settings.model!r} at {display_url(settings.base_url)}"
    return ServiceError(redact(" ".join(f"{where}: {why}".split()), settings))


def image_data_url(image: Any, max_side: int = 768, quality: int = 90) -> str:
    """A ``data:image/jpeg;base64,...`` URL of the image, longer side at most ``max_side``.

    The image goes through sggic's input policy (EXIF orientation, ICC to sRGB, alpha over
    white); resizing is Lanczos and JPEG settings are fixed, so the bytes are reproducible.
    """
    from PIL import Image

    from ..pipeline import _as_loaded

    rgb = _as_loaded(image).rgb
    im = Image.fromarray(rgb)
    w, h = im.size
    if max(w, h) > max_side:
        s = max_side / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=False, progressive=False)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def build_messages(data_url: str) -> list[dict]:
    """One user message: the paper's question (as JSON in our schema) and the image."""
    return [{"role": "user", "content": [
        {"type": "text", "text": PROMPT},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]}]


_HINTS = {401: f" (check {ENV_API_KEY})", 403: f" (check {ENV_API_KEY})",
          404: f" (check {ENV_BASE_URL}, usually ending in /v1, and {ENV_MODEL})"}


def _import_openai():
    try:
        import openai
    except ImportError:
        raise BackendUnavailable("the semantic encoder needs the 'openai' package: "
                                 "pip install 'sggic[vlm]' (or pip install openai)") from None
    return openai


def _retry_after(response: Any) -> float | None:
    try:
        headers = response.headers
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000
        s = headers.get("retry-after")
        return float(s) if s is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _status_message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else inner
        return snippet(str(msg if msg is not None else body), 160)
    return snippet(str(body if body is not None else ""), 160)


def _reply_text(resp: Any) -> str:
    """The text of the first choice; ServiceError text (unredacted) if there is none."""
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list):
        shown = snippet(resp) if isinstance(resp, str) else type(resp).__name__
        raise ServiceError(f"the answer is not a chat completion: {shown!r}")
    if not choices:
        raise ServiceError("the answer is not a chat completion: it has no choices")
    try:
        msg = choices[0].message
        content = msg.content
        finish = choices[0].finish_reason
    except (AttributeError, TypeError):
        raise ServiceError("the answer is not a chat completion: its first choice has no message") from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if not isinstance(content, str) or not content.strip():
        refusal = getattr(msg, "refusal", None)
        why = f"refused: {snippet(str(refusal))!r}" if refusal else f"finish reason {finish!r}"
        raise ServiceError(f"the VLM gave no text ({why})")
    return content


def default_params(settings: VlmSettings) -> dict[str, Any]:
    return {"max_tokens": settings.max_tokens, "temperature": 0}


def _adapt(params: dict, status: int, message: str) -> str | None:
    """Change ``params`` after a 400 that refuses one of them; what was changed, or None.

    Newer hosted models refuse ``max_tokens`` (they want ``max_completion_tokens``) and any
    ``temperature`` but the default. Each change can happen once, so this is bounded.
    """
    m = message.lower()
    if status != 400:
        return None
    if "max_tokens" in params and "max_tokens" in m and "max_completion_tokens" in m:
        params["max_completion_tokens"] = params.pop("max_tokens")
        return "the server refused max_tokens; sent max_completion_tokens"
    if "temperature" in params and "temperature" in m:
        del params["temperature"]
        return "the server refused temperature 0; used its default"
    return None


def complete(settings: VlmSettings, messages: list[dict], *, deadline_at: float,
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic,
             notes: list[str] | None = None, params: dict[str, Any] | None = None) -> tuple[str, int]:
    """One chat completion with bounded retries: (reply text, requests made).

    ``params`` (max_tokens, temperature) may be changed in place after a 400 that refuses
    one of them, so a later call with the same dict does not hit the same refusal.
    """
    openai = _import_openai()
    try:
        client = openai.OpenAI(base_url=settings.base_url, api_key=settings.api_key or NO_KEY,
                               max_retries=0, timeout=settings.timeout)
    except openai.OpenAIError as e:
        raise _fail(settings, f"cannot set up the client ({type(e).__name__})") from None
    requests = 0
    if params is None:
        params = default_params(settings)
    try:
        while True:
            remaining = deadline_at - clock()
            if remaining <= 0:
                raise _fail(settings, f"no usable answer within {settings.deadline:g} s "
                                      f"({requests} request(s); {ENV_DEADLINE})")
            wait = min(settings.timeout, remaining)
            requests += 1
            retry_after = None
            try:
                resp = client.chat.completions.create(
                    model=settings.model, messages=messages, timeout=wait, **params)
            except openai.APITimeoutError:
                why = f"no answer within {wait:.3g} s ({ENV_TIMEOUT})"
            except openai.APIConnectionError as e:
                cause = e.__cause__ or e.__context__
                why = f"cannot connect ({type(cause).__name__ if cause else 'connection error'})"
            except openai.APIStatusError as e:
                why = f"HTTP {e.status_code}: {_status_message(e)}"
                changed = _adapt(params, e.status_code, why)
                if changed:
                    if notes is not None:
                        notes.append(changed)
                    continue
                if e.status_code != 429 and e.status_code < 500:
                    raise _fail(settings, why + _HINTS.get(e.status_code, "")) from None
                retry_after = _retry_after(e.response)
            except openai.OpenAIError as e:
                raise _fail(settings, f"{type(e).__name__}: {snippet(str(e), 160)}") from None
            else:
                try:
                    return _reply_text(resp), requests
                except ServiceError as e:
                    raise _fail(settings, str(e)) from None
            if requests > settings.retries:
                raise _fail(settings, f"{why}; gave up after {requests} request(s)")
            delay = min(settings.max_backoff, settings.backoff * 2 ** (requests - 1))
            if retry_after is not None:
                delay = max(delay, min(retry_after, settings.max_backoff))
            if clock() + delay >= deadline_at:
                raise _fail(settings, f"{why}; gave up after {requests} request(s), "
                                      f"{settings.deadline:g} s limit ({ENV_DEADLINE})")
            sleep(delay)
    finally:
        client.close()


def describe_detailed(image: Any, settings: VlmSettings | None = None, *,
                      sleep: Callable[[float], None] = time.sleep, **overrides: Any) -> DescribeResult:
    """Ask the VLM about ``image`` (path, PIL image or uint8 array); repaired semantics + notes."""
    if settings is None:
        settings = VlmSettings.from_env(**overrides)
    elif overrides:
        if "api_key" in overrides:
            raise InputError(f"the VLM API key is read from {ENV_API_KEY} only")
        unknown = set(overrides) - {f.name for f in fields(VlmSettings)}
        if unknown:
            raise InputError(f"unknown VLM setting(s): {', '.join(sorted(unknown))}")
        settings = replace(settings, **overrides)
    start = time.monotonic()
    deadline_at = start + settings.deadline
    messages = build_messages(image_data_url(image, settings.max_side, settings.jpeg_quality))
    total = 0
    notes: list[str] = []
    params = default_params(settings)
    for ask in range(settings.reask + 1):
        reply, n = complete(settings, messages, deadline_at=deadline_at, sleep=sleep, notes=notes, params=params)
        total += n
        clean = redact(reply, settings)
        try:
            out = parse_reply(clean)
        except NotJSONReply as e:
            if ask == settings.reask:
                raise _fail(settings, f"{e} (asked {ask + 1} time(s))") from None
            notes.append("the first reply held no JSON object; asked again")
            messages = messages[:1] + [{"role": "assistant", "content": reply}, {"role": "user", "content": REASK}]
            continue
        except ServiceError as e:
            raise _fail(settings, str(e)) from None
        notes += [redact(n, settings) for n in out.notes]
        return DescribeResult(out.semantics, notes, clean, total, time.monotonic() - start)
    raise AssertionError("unreachable")  # pragma: no cover


def describe(image: Any, settings: VlmSettings | None = None, **overrides: Any) -> Semantics:
    """The semantics of an image, written by the configured VLM (see :class:`VlmSettings`).

    Keyword arguments override SGGIC_VLM_* settings (``model="gpt-4o"``, ``timeout=30``);
    the API key comes from SGGIC_VLM_API_KEY only.
    """
    return describe_detailed(image, settings, **overrides).semantics
