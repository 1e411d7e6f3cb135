"""The documents of `report` and `demo`, and what the report shows besides `status` (its detail:
timelines, probes, pending messages), imported only when read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopkit.documents import OMIT, Document

if TYPE_CHECKING:
    from loopkit.documents.status import StatusDocument
    from loopkit.model.inbox import Message


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
class MilestoneDetail:
    """What the report shows of a milestone besides status's view."""

    timeline: tuple[TimelineRecord | TimelineEvidence, ...]
    probes: tuple[ProbeState, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MilestoneDetail:
        timeline = tuple(
            TimelineEvidence.from_json(t) if t["kind"] == "EVIDENCE" else TimelineRecord.from_json(t)
            for t in data["timeline"]
        )
        return cls(timeline, tuple(ProbeState.from_json(p) for p in data["probes"]))


@dataclass(frozen=True, slots=True)
class PhaseDetail:
    """What the report shows of a phase besides status's view."""

    messages: tuple[Message, ...]
    status_file: str
    plan: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhaseDetail:
        return cls(tuple(_message(m) for m in data["messages"]), data["status_file"], data["plan"])


def _message(data: Mapping[str, Any]) -> Message:
    """A message as Message.to_json wrote it (its line is not part of the JSON)."""
    from loopkit.model.inbox import Message

    return Message(
        id=data["id"],
        to=data["to"],
        sender=data["from"],
        phase=data["phase"],
        at=data["at"],
        subject=data["subject"],
        body=data["body"],
        milestone=data.get("milestone"),
        result=data.get("result"),
        claim=data.get("claim"),
    )


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
