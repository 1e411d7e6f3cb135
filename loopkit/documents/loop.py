"""The documents of `claim`, `verdict`, `gate`, `done`, `instruct`."""

from __future__ import annotations

from dataclasses import dataclass

from loopkit.documents import Document


@dataclass(frozen=True, slots=True)
class Claimed(Document):
    phase: str
    milestone: str
    id: str
    head: str
    code: str | None
    at: str
    message: str
    passing: tuple[str, ...]
    commit: str | None


@dataclass(frozen=True, slots=True)
class Verdicted(Document):
    phase: str
    milestone: str
    result: str
    claim_commit: str | None
    claim_id: str | None
    at: str
    message: str
    commit: str | None


@dataclass(frozen=True, slots=True)
class Unmet(Document):
    """One unmet gate condition."""

    code: str
    milestone: str | None
    message: str


@dataclass(frozen=True, slots=True)
class GateDocument(Document):
    ok: bool
    unmet: tuple[Unmet, ...]


@dataclass(frozen=True, slots=True)
class DoneVerdict(Document):
    milestone: str
    result: str
    at: str
    by: str
    claim: str | None
    claim_id: str | None
    note: str | None
    line: str


@dataclass(frozen=True, slots=True)
class DoneDocument(Document):
    ok: bool
    phase: str
    milestones: tuple[str, ...]
    at: str
    verdicts: tuple[DoneVerdict, ...]
    commit: str | None


@dataclass(frozen=True, slots=True)
class Instructed(Document):
    phase: str
    milestone: str | None
    at: str
    file: str
    commit: str | None
