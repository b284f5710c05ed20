"""One registry shape for every stage: codecs, segmenters, settings policies, restorers, metrics.

An :class:`Entry` is plain data: the public name, the frozen integer id that files record
(``None`` for things no file names, such as metrics), a lazy ``"module:attr"`` target
(imported only when the component is built, so listing names never loads torch, ncnn or a
model) and a one-line summary. An entry without a target is *reserved*: its name and id
are promised to a component that is not in this version (the full profile's models), and
building it raises :class:`~sggic.errors.BackendUnavailable` in one line.

Ids are written into files: never reuse or renumber one, and never use 0 (0 means "the
decoder's default" wherever a file records an id).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import BackendUnavailable, BitstreamError, InputError

E = TypeVar("E", bound="Entry")


@dataclass(frozen=True)
class Entry:
    """A registered component: public name, frozen id (or None), lazy target, one-line summary."""

    name: str
    id: int | None
    target: str | None
    summary: str

    @property
    def reserved(self) -> bool:
        """True when the name/id is promised to a component this version does not have."""
        return self.target is None


def load_target(target: str) -> Any:
    """Import ``"package.module:attr"`` (or a bare module path) and return the object."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    return getattr(obj, attr) if attr else obj


class Registry(Generic[E]):
    """An ordered, immutable table of entries, looked up by name or by frozen id.

    ``kind`` names the stage in messages ("base codec", "restorer", ...). ``canonical``
    maps what a user typed to a registered name (e.g. case-folding); the default keeps it.
    """

    def __init__(self, kind: str, entries: tuple[E, ...],
                 canonical: Callable[[str], str] = lambda s: s) -> None:
        self.kind = kind
        self._entries = entries
        self._canonical = canonical
        self._by_name = {e.name: e for e in entries}
        ids = [e.id for e in entries if e.id is not None]
        self._by_id = {e.id: e for e in entries if e.id is not None}
        if len(self._by_name) != len(entries) or len(set(ids)) != len(ids) or 0 in ids:
            raise RuntimeError(f"{kind} registry: duplicate name or id, or id 0 used")  # pragma: no cover

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered name, reserved ones included, in table order."""
        return tuple(e.name for e in self._entries)

    @property
    def available_names(self) -> tuple[str, ...]:
        """Names this version can build (reserved ones left out)."""
        return tuple(e.name for e in self._entries if not e.reserved)

    def info(self, name: str) -> E:
        """The entry called ``name``, or InputError that suggests the closest name."""
        if not isinstance(name, str):
            raise InputError(f"{self.kind} name must be a string, got {type(name).__name__}")
        entry = self._by_name.get(self._canonical(name))
        if entry is not None:
            return entry
        close = difflib.get_close_matches(self._canonical(name), self.names, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise InputError(f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names)})")

    def by_id(self, ident: int) -> E:
        """The entry a file names by id; BitstreamError for an id this version never heard of."""
        entry = self._by_id.get(ident)
        if entry is None:
            raise BitstreamError(f"unknown {self.kind} id {ident} in the file (file from a newer sggic?)")
        return entry

    def has_id(self, ident: int) -> bool:
        return ident in self._by_id

    def load(self, name: str) -> Any:
        """The class (or module) behind ``name``; BackendUnavailable for a reserved entry."""
        entry = self.info(name)
        if entry.target is None:
            raise BackendUnavailable(
                f"{self.kind} '{entry.name}' is reserved for the full profile and not in this "
                f"version of sggic ({entry.summary})")
        return load_target(entry.target)
