"""Turn a VLM's chat reply into :class:`Semantics`, repairing what models commonly get wrong.

Pure functions, no network: the rules are listed in docs/semantics.md ("Writing semantics
with a VLM"). In short: the JSON object is taken from code fences or from prose around it;
a few key spellings and value types are accepted; text is put on one line and cut at word
boundaries to the paper's limits; at most 3 objects are kept (fewer are allowed). A reply
without any JSON object raises :class:`NotJSONReply` so that the caller can ask again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import ServiceError
from .schema import FIELD_LIMITS, MAX_FIELD_CHARS, SemanticObject, Semantics

MAX_VLM_OBJECTS = 3  # the paper's "3 most striking objects"
NAME_WORDS = 5       # the prompt asks for 1-3 words; longer names are cut, not refused
DETAIL_WORDS = 10    # paper: a detail of at most 10 words per object
DESCRIPTION_WORDS = 50  # paper: an overall description of at most 50 words
MAX_REPLY_CHARS = 100_000  # longer replies are not searched for JSON

_OBJECTS_KEYS = ("objects", "striking_objects", "most_striking_objects", "items")
_DESCRIPTION_KEYS = ("description", "summary", "overall_description", "caption")
_NAME_KEYS = ("name", "object", "label", "title")
_DETAIL_KEYS = ("detail", "details", "description", "desc")

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_TRAILING_PUNCT = ",;:-\u2013\u2014 "


class NotJSONReply(ServiceError):
    """The reply holds no JSON object at all (prose, a refusal, a truncated answer)."""


@dataclass
class Repaired:
    semantics: Semantics
    notes: list[str] = field(default_factory=list)


def snippet(text: str, limit: int = 80) -> str:
    """The start of a text on one line, for error messages."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _objects_in(text: str) -> list[tuple[dict, int, int]]:
    """Every JSON object that starts at some '{' of ``text``, with its span, in order."""
    decoder = json.JSONDecoder()
    found = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            found.append((value, i, end))
        i = text.find("{", end)
    return found


def extract_json(reply: str) -> tuple[dict, list[str]]:
    """The JSON object in a reply (fenced, bare, or inside prose) and notes on what was fixed."""
    if not isinstance(reply, str) or not reply.strip():
        raise NotJSONReply("the VLM gave an empty reply")
    text = reply[:MAX_REPLY_CHARS]
    fenced = [m.group(1) for m in _FENCE.finditer(text)]
    candidates = [(c, "took the JSON out of a code fence") for c in fenced] + [(text, "")]
    first = None
    for fix in ("", "removed trailing commas"):
        for cand, how in candidates:
            src = _TRAILING_COMMA.sub(r"\1", cand) if fix else cand
            for obj, start, end in _objects_in(src):
                notes = [n for n in (how, fix) if n]
                if not how and (src[:start].strip() or src[end:].strip()):
                    notes.append("ignored text around the JSON")
                if _looks_like_semantics(obj):
                    return obj, notes
                first = first or (obj, notes)
    if first is not None:  # some JSON object, not ours: repair() says what is missing
        return first
    raise NotJSONReply(f"the VLM replied without a JSON object: {snippet(reply)!r}")


def _looks_like_semantics(d: dict) -> bool:
    keys = {str(k).lower() for k in d}
    return bool(keys & set(_OBJECTS_KEYS + _DESCRIPTION_KEYS)) or _unwrap(d) is not d


def _unwrap(d: dict) -> dict:
    """``{"semantics": {...}}`` or ``{"result": {...}}``: the single inner object."""
    keys = {str(k).lower() for k in d}
    if not keys & set(_OBJECTS_KEYS + _DESCRIPTION_KEYS) and len(d) == 1:
        inner = next(iter(d.values()))
        if isinstance(inner, dict):
            return inner
    return d


def clean_text(value: object, sep: str = ", ") -> str | None:
    """One line of text from a string, number or list of strings; None for anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    elif isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        value = sep.join(str(v) for v in value)
    if not isinstance(value, str):
        return None
    return " ".join(_CONTROL.sub(" ", value).split())


def cut_words(text: str, max_words: int, max_chars: int = MAX_FIELD_CHARS) -> str:
    """At most ``max_words`` whitespace-separated words and ``max_chars`` characters."""
    words = text.split()
    out = " ".join(words[:max_words])
    if len(out) > max_chars:
        head = out[: max_chars + 1]
        out = head[: head.rfind(" ")] if " " in head else out[:max_chars]
    if len(words) > max_words or len(out) < len(" ".join(words)):
        out = out.rstrip(_TRAILING_PUNCT)
    return out


def _get(d: dict, keys: tuple[str, ...]) -> tuple[str | None, object]:
    lower = {str(k).lower().strip(): k for k in d}
    for k in keys:
        if k in lower:
            return lower[k], d[lower[k]]
    return None, None


def _field(value: object, max_words: int, what: str, notes: list[str], sep: str = ", ",
           kind: str = "description") -> str:
    if value is None:
        return ""
    text = clean_text(value, sep)
    if text is None:
        notes.append(f"dropped {what} (type {type(value).__name__}, not text)")
        return ""
    if not isinstance(value, str):
        notes.append(f"{what} had type {type(value).__name__}; used as text")
    cut = cut_words(text, max_words, FIELD_LIMITS[kind])
    if cut != text:
        notes.append(f"cut {what} from {len(text.split())} to {len(cut.split())} words")
    return cut


def _raw_objects(value: object, notes: list[str]) -> list[tuple[int, object, object]]:
    """(number, name, detail) from a list of objects/strings or a {name: detail} mapping."""
    if value is None:
        return []
    if isinstance(value, dict):
        notes.append("objects were a mapping name -> detail")
        return [(i + 1, k, v) for i, (k, v) in enumerate(value.items())]
    if not isinstance(value, list):
        notes.append(f"dropped 'objects' (type {type(value).__name__}, not a list)")
        return []
    pairs = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            pairs.append((i + 1, item, ""))
        elif isinstance(item, dict):
            name_key, name = _get(item, _NAME_KEYS)
            rest = {k: v for k, v in item.items() if k != name_key}
            _, detail = _get(rest, _DETAIL_KEYS)
            pairs.append((i + 1, name, "" if detail is None else detail))
        else:
            notes.append(f"dropped object {i + 1} (type {type(item).__name__})")
    return pairs


def repair(data: dict) -> Repaired:
    """Semantics from a decoded JSON object, fixing keys, types, lengths and object count."""
    notes: list[str] = []
    data = _unwrap(data)
    obj_key, raw_objs = _get(data, _OBJECTS_KEYS)
    desc_key, raw_desc = _get(data, _DESCRIPTION_KEYS)
    ignored = sorted(str(k) for k in data if k not in (obj_key, desc_key))
    if ignored:
        notes.append(f"ignored key(s): {', '.join(ignored)}")
    objects: list[SemanticObject] = []
    seen: set[str] = set()
    for i, name, detail in _raw_objects(raw_objs, notes):
        n = _field(name, NAME_WORDS, f"object {i} name", notes, kind="name")
        if not n:
            notes.append(f"dropped object {i}: no name")
            continue
        if n.lower() in seen:
            notes.append(f"dropped object {i}: repeats {n!r}")
            continue
        seen.add(n.lower())
        objects.append(SemanticObject(n, _field(detail, DETAIL_WORDS, f"object {i} detail", notes, kind="detail")))
    if len(objects) > MAX_VLM_OBJECTS:
        notes.append(f"kept the first {MAX_VLM_OBJECTS} of {len(objects)} objects")
        objects = objects[:MAX_VLM_OBJECTS]
    description = _field(raw_desc, DESCRIPTION_WORDS, "description", notes, sep=" ")
    if not objects and not description:
        raise ServiceError("the VLM reply has neither objects nor a description: "
                           f"{snippet(json.dumps(data, ensure_ascii=False))!r}")
    if len(objects) < MAX_VLM_OBJECTS:
        notes.append(f"the VLM named {len(objects)} object(s), not {MAX_VLM_OBJECTS}")
    if not description:
        notes.append("the VLM gave no description")
    return Repaired(Semantics(tuple(objects), description), notes)


def parse_reply(reply: str) -> Repaired:
    """Semantics from the text of a chat reply (raises NotJSONReply or ServiceError)."""
    data, notes = extract_json(reply)
    out = repair(data)
    out.notes[:0] = notes
    return out
