"""The documents of `report` and `demo`, and the parts of the report's detail (status.py's
MilestoneDetail) a status without it never builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopkit.documents import OMIT, Document

if TYPE_CHECKING:
    from loopkit.documents.status import StatusDocument


@dataclass(frozen=True, slots=True)
class TimelineRecord(Document):
    """A claim, verdict or forged record in a milestone's timeline (report)."""

    kind: str
    at: str | None
    by: str | None
    note: str | None
    ref: str | None
    commit: str | None
    author: str | None
    genuine: bool
    line: int


@dataclass(frozen=True, slots=True)
class TimelineEvidence(Document):
    """A genuine probe record in a milestone's timeline (report)."""

    kind: str  # EVIDENCE
    probe: str
    title: str
    result: str
    observed: str
    at: str
    by: str
    head: str | None
    commit: str | None
    genuine: bool
    line: int


@dataclass(frozen=True, slots=True)
class ProbeState(Document):
    """The latest record of a required probe and what the evidence view made of it (report)."""

    probe: str
    title: str
    state: str
    why: str | None
    result: str | None
    observed: str | None
    at: str | None
    head: str | None
    command: str | None


@dataclass(frozen=True, slots=True)
class ReportDocument(Document):
    phases: int
    bytes: int
    out: str
    html: str | None = field(default=None, metadata=OMIT)  # `--out -`: the page itself


@dataclass(frozen=True, slots=True)
class DemoDocument(Document):
    dir: str
    status: StatusDocument
    log: tuple[str, ...]
