"""The documents of `status` and `check`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from loopkit.documents import OMIT, Document, _decode, _json

if TYPE_CHECKING:
    from loopkit.documents.report import MilestoneDetail, PhaseDetail


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
class MilestoneStatus(Document):
    id: str
    title: str
    state: str
    claim: ClaimView | None
    verdict: VerdictView | None
    evidence: EvidenceSummary
    detail: MilestoneDetail | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "claim": _json(self.claim),
            "verdict": _json(self.verdict),
            "evidence": self.evidence.to_json(),
        }
        if self.detail is not None:
            out["timeline"] = _json(self.detail.timeline)
            out["probes"] = _json(self.detail.probes)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        detail = None
        if "timeline" in data:  # the report's
            from loopkit.documents.report import MilestoneDetail

            detail = MilestoneDetail.from_json(data)
        return cls(
            id=data["id"],
            title=data["title"],
            state=data["state"],
            claim=_decode(ClaimView | None, data["claim"]),
            verdict=_decode(VerdictView | None, data["verdict"]),
            evidence=EvidenceSummary.from_json(data["evidence"]),
            detail=detail,
        )


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
    detail: PhaseDetail | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "phase": self.phase,
            "title": self.title,
            "state": self.state,
            "done": self.done,
            "milestones": _json(self.milestones),
            "inbox": dict(self.inbox),
            "waiting_on": self.waiting_on,
            "last_activity": self.last_activity,
            "problems": _json(self.problems),
        }
        if self.detail is not None:
            out["messages"] = _json(self.detail.messages)
            out["status_file"] = self.detail.status_file
            out["plan"] = self.detail.plan
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        detail = None
        if "status_file" in data:  # the report's
            from loopkit.documents.report import PhaseDetail

            detail = PhaseDetail.from_json(data)
        return cls(
            phase=data["phase"],
            title=data["title"],
            state=data["state"],
            done=data["done"],
            milestones=tuple(MilestoneStatus.from_json(m) for m in data["milestones"]),
            inbox=dict(data["inbox"]),
            waiting_on=data["waiting_on"],
            last_activity=data["last_activity"],
            problems=tuple(Problem.from_json(p) for p in data["problems"]),
            detail=detail,
        )


@dataclass(frozen=True, slots=True)
class StatusDocument(Document):
    """`status --json`; with the report's detail, the workspace's own problems too."""

    workspace: str
    phases: tuple[PhaseStatus, ...]
    problems: tuple[Problem, ...] | None = field(default=None, metadata=OMIT)
