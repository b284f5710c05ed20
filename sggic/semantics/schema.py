"""The paper's structured semantics: up to 3 objects (name + detail) and a description."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

MAX_OBJECTS = 8
MAX_FIELD_CHARS = 2000
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
            if len(text) > MAX_FIELD_CHARS:
                raise InputError(f"semantics JSON: a field is longer than {MAX_FIELD_CHARS} characters")
        return cls(tuple(out), desc)

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
