"""The paper's structured semantics: up to 3 objects (name + detail) and a description.

Limits: the paper's semantic encoder gives 3 objects, a name of 1-3 words, a detail of at
most 10 words and a description of at most 50 words. The limits below keep a few times that
as slack (the hand-written descriptions in data/semantics reach 17 / 58 / 247 characters)
and bound the work of the text decoder. They are part of the format: the encoder refuses
anything over them (:class:`InputError`), the decoder stops as soon as a field would exceed
them (:class:`BitstreamError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

MAX_OBJECTS = 8
MAX_NAME_CHARS = 100
MAX_DETAIL_CHARS = 300
MAX_DESCRIPTION_CHARS = 1000
FIELD_LIMITS: dict[str, int] = {"name": MAX_NAME_CHARS, "detail": MAX_DETAIL_CHARS, "description": MAX_DESCRIPTION_CHARS}
"""Characters per field, by field kind (Python ``len``: code points)."""
MAX_FIELD_CHARS = max(FIELD_LIMITS.values())
"""The longest any field may be (the description's limit)."""
MAX_TOTAL_CHARS = MAX_OBJECTS * (MAX_NAME_CHARS + MAX_DETAIL_CHARS) + MAX_DESCRIPTION_CHARS
"""Characters of a whole semantics at the limits."""
MAX_JSON_BYTES = 1 << 20


@dataclass(frozen=True)
class SemanticObject:
    name: str
    detail: str = ""


@dataclass(frozen=True)
class Semantics:
    """What the semantic encoder says about an image.

    JSON form: ``{"objects": [{"name": "...", "detail": "..."}, ...], "description": "..."}``.
    """

    objects: tuple[SemanticObject, ...] = field(default_factory=tuple)
    description: str = ""

    def fields(self) -> list[tuple[str, str]]:
        """(kind, text) in coding order: each object's name then detail, then the description."""
        out = [(k, t) for o in self.objects for k, t in (("name", o.name), ("detail", o.detail))]
        out.append(("description", self.description))
        return out

    def check_limits(self) -> None:
        """:class:`InputError` (one line) unless every field is a string within its limit."""
        if not isinstance(self.objects, (tuple, list)) or not all(isinstance(o, SemanticObject) for o in self.objects):
            raise InputError("semantics: 'objects' must be a sequence of SemanticObject")
        if len(self.objects) > MAX_OBJECTS:
            raise InputError(f"semantics: at most {MAX_OBJECTS} objects, got {len(self.objects)}")
        for kind, text in self.fields():
            if not isinstance(text, str):
                raise InputError(f"semantics: every field must be a string (a {kind} is {type(text).__name__})")
            if len(text) > FIELD_LIMITS[kind]:
                raise InputError(
                    f"semantics: a {kind} is {len(text)} characters; the limit is {FIELD_LIMITS[kind]}"
                )

    def is_empty(self) -> bool:
        return not self.objects and not self.description

    def to_dict(self) -> dict:
        return {
            "objects": [{"name": o.name, "detail": o.detail} for o in self.objects],
            "description": self.description,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: object) -> "Semantics":
        if not isinstance(data, dict):
            raise InputError("semantics JSON must be an object with 'objects' and 'description'")
        unknown = set(data) - {"objects", "description"}
        if unknown:
            raise InputError(f"semantics JSON has unknown key(s): {', '.join(sorted(unknown))}")
        objs = data.get("objects", [])
        desc = data.get("description", "")
        if not isinstance(objs, list):
            raise InputError("semantics JSON: 'objects' must be a list")
        if len(objs) > MAX_OBJECTS:
            raise InputError(f"semantics JSON: at most {MAX_OBJECTS} objects, got {len(objs)}")
        if not isinstance(desc, str):
            raise InputError("semantics JSON: 'description' must be a string")
        out = []
        for i, o in enumerate(objs):
            if not isinstance(o, dict) or not isinstance(o.get("name"), str):
                raise InputError(f"semantics JSON: object {i} needs a string 'name'")
            extra = set(o) - {"name", "detail"}
            if extra:
                raise InputError(f"semantics JSON: object {i} has unknown key(s): {', '.join(sorted(extra))}")
            detail = o.get("detail", "")
            if not isinstance(detail, str):
                raise InputError(f"semantics JSON: object {i} 'detail' must be a string")
            if not o["name"].strip():
                raise InputError(f"semantics JSON: object {i} has an empty name")
            out.append(SemanticObject(o["name"], detail))
        for text in [desc] + [t for o in out for t in (o.name, o.detail)]:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError("semantics JSON: a field holds a lone surrogate (not valid Unicode)") from None
        sem = cls(tuple(out), desc)
        sem.check_limits()
        return sem

    @classmethod
    def from_json(cls, text: str) -> "Semantics":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"semantics JSON is not valid JSON: {e.msg} (line {e.lineno})") from None
        except RecursionError:
            raise InputError("semantics JSON is nested too deeply") from None
        except ValueError as e:  # e.g. an integer of more than 4300 digits
            raise InputError(f"semantics JSON cannot be read: {str(e).splitlines()[0][:100]}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> "Semantics":
        from ..limits import read_capped

        # bounded read: the path may name a device or a pipe (st_size 0)
        raw = read_capped(path, MAX_JSON_BYTES, "semantics file", InputError)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"cannot read semantics file {path}: {getattr(e, 'strerror', None) or e}") from None
        return cls.from_json(text)
