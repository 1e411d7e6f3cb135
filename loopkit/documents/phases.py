"""The documents of `init`, `phase new|update|list`."""

from __future__ import annotations

from dataclasses import dataclass

from loopkit.documents import Document


@dataclass(frozen=True, slots=True)
class InitDocument(Document):
    workspace: str
    written: tuple[str, ...]
    warning: str | None


@dataclass(frozen=True, slots=True)
class PhaseOpened(Document):
    phase: str
    title: str
    files: tuple[str, ...]
    commit: str | None


@dataclass(frozen=True, slots=True)
class SpecCommitted(Document):
    phase: str
    spec: str
    blob: str
    commit: str | None


@dataclass(frozen=True, slots=True)
class PhaseEntry(Document):
    phase: str
    title: str
    spec: bool
    status: bool
    done: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class PhaseList(Document):
    phases: tuple[PhaseEntry, ...]
