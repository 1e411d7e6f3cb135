"""The documents of `status` and `check`; with the report's detail, the parts it adds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from loopkit.documents import DETAIL, OMIT, Document

if TYPE_CHECKING:
    from loopkit.documents.report import ProbeState, TimelineEvidence, TimelineRecord
    from loopkit.model.inbox import Message


@dataclass(frozen=True, slots=True)
class Problem(Document):
    code: str
    phase: str | None
    milestone: str | None
    file: str | None
    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class CheckDocument(Document):
    ok: bool
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class ClaimView(Document):
    at: str
    by: str
    commit: str | None
    head: str | None
    code: str | None
    id: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class VerdictView(Document):
    at: str
    by: str
    result: str
    claim_commit: str | None
    claim_id: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class EvidenceSummary(Document):
    required: tuple[str, ...]
    passing: tuple[str, ...]
    failing: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MilestoneDetail(Document):
    """What the report shows of a milestone besides status's view."""

    timeline: tuple[TimelineRecord | TimelineEvidence, ...]
    probes: tuple[ProbeState, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        from loopkit.documents.report import ProbeState, TimelineEvidence, TimelineRecord

        timeline = tuple(
            TimelineEvidence.from_json(t) if t["kind"] == "EVIDENCE" else TimelineRecord.from_json(t)
            for t in data["timeline"]
        )
        return cls(timeline, tuple(ProbeState.from_json(p) for p in data["probes"]))


@dataclass(frozen=True, slots=True)
class PhaseDetail(Document):
    """What the report shows of a phase besides status's view."""

    messages: tuple[Message, ...]
    status_file: str
    plan: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        from loopkit.model.inbox import Message

        return cls(tuple(Message.from_json(m) for m in data["messages"]), data["status_file"], data["plan"])


@dataclass(frozen=True, slots=True)
class MilestoneStatus(Document):
    id: str
    title: str
    state: str
    claim: ClaimView | None
    verdict: VerdictView | None
    evidence: EvidenceSummary
    detail: MilestoneDetail | None = field(default=None, metadata=DETAIL)  # the report's


@dataclass(frozen=True, slots=True)
class PhaseStatus(Document):
    """One phase of `status --json`."""

    phase: str
    title: str
    state: str
    done: bool
    milestones: tuple[MilestoneStatus, ...]
    inbox: dict[str, int]
    waiting_on: str | None
    last_activity: str | None
    problems: tuple[Problem, ...]
    detail: PhaseDetail | None = field(default=None, metadata=DETAIL)  # the report's


@dataclass(frozen=True, slots=True)
class StatusDocument(Document):
    """`status --json`; with the report's detail, the workspace's own problems too."""

    workspace: str
    phases: tuple[PhaseStatus, ...]
    problems: tuple[Problem, ...] | None = field(default=None, metadata=OMIT)
