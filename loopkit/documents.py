"""SPEC section 4's shapes: what services return, what `--json` prints, what MCP returns, what the
report and `next` read. Shapes only, no rules: each field is a key of its JSON, in its order.

`to_json()` gives a document's keys in its fields' order; a field whose metadata says `omit`
is left out while it is None (a key SPEC adds only in some cases). `schema_version` is no
field: the output boundary (commands.document) puts it first. Documents read back from a JSON
memo (`status`) have `from_json`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from loopkit.model import SCHEMA_VERSION
from loopkit.model.inbox import Message
from loopkit.model.journal import JournalEntry, ProbeRecord
from loopkit.model.warning import ParseWarning

__all__ = ["SCHEMA_VERSION"]

OMIT: Mapping[str, Any] = {"omit": True}


def _json(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _message(data: Mapping[str, Any]) -> Message:
    """A message as Message.to_json wrote it (its line is not part of the JSON)."""
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


def _decode(kind: Any, value: Any) -> Any:
    """A JSON value as the field's type holds it: documents, messages and tuples rebuilt."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        return _decode(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        return tuple(_decode(typing.get_args(kind)[0], v) for v in value)
    if origin is dict:
        return {k: _decode(typing.get_args(kind)[1], v) for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, Document):
        return kind.from_json(value)
    if kind is Message:
        return _message(value)
    return value


class Document:
    """A frozen dataclass that is one JSON object of SPEC section 4."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit"):
                continue
            out[f.name] = _json(value)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        hints = typing.get_type_hints(cls)
        kwargs = {
            f.name: _decode(hints[f.name], data.get(f.name))
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        }
        return cls(**kwargs)


# -- phases ---------------------------------------------------------------------------------------
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


# -- journals -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JournalAdded(Document):
    file: str
    phase: str
    role: str
    at: str
    title: str
    line: int
    commit: str | None


@dataclass(frozen=True, slots=True)
class JournalDocument(Document):
    """`journal show|parse --json`."""

    file: str
    phase: str | None
    role: str | None
    warnings: tuple[ParseWarning, ...]
    entries: tuple[JournalEntry, ...]


# -- probes and evidence --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordWritten(Document):
    """An evidence record as `probe exec --json` prints it: the record, then its commit."""

    record: ProbeRecord
    commit: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_json(), "commit": self.commit}


@dataclass(frozen=True, slots=True)
class ProbeRun(Document):
    records: tuple[RecordWritten, ...]


@dataclass(frozen=True, slots=True)
class MilestoneEvidence(Document):
    id: str
    required: tuple[str, ...]
    passing: tuple[str, ...]
    failing: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    stale_paths: dict[str, tuple[str, ...]]
    latest: dict[str, ProbeRecord]
    flaky: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvidenceDocument(Document):
    phase: str
    milestones: tuple[MilestoneEvidence, ...]


# -- the loop -------------------------------------------------------------------------------------
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


# -- inboxes --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sent(Document):
    """`inbox send --json`: the message, then its commit."""

    message: Message
    commit: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.message.to_json(), "commit": self.commit}


@dataclass(frozen=True, slots=True)
class Messages(Document):
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Consumed(Document):
    consumed: tuple[Message, ...]
    commit: str | None


@dataclass(frozen=True, slots=True)
class Waited(Document):
    messages: tuple[Message, ...]
    timed_out: bool


# -- status, check, report ------------------------------------------------------------------------
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
        if "timeline" in data:
            timeline = tuple(
                TimelineEvidence.from_json(t) if t["kind"] == "EVIDENCE" else TimelineRecord.from_json(t)
                for t in data["timeline"]
            )
            detail = MilestoneDetail(timeline, tuple(ProbeState.from_json(p) for p in data["probes"]))
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
class PhaseDetail:
    """What the report shows of a phase besides status's view."""

    messages: tuple[Message, ...]
    status_file: str
    plan: str | None


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
        if "status_file" in data:
            messages = tuple(_message(m) for m in data["messages"])
            detail = PhaseDetail(messages, data["status_file"], data["plan"])
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


# -- next, sync -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ToolCall(Document):
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NextAction(Document):
    """The next move for a role, as a loopkit command and as an MCP tool call."""

    phase: str | None
    milestone: str | None
    action: str
    command: str | None
    why: str
    tool: ToolCall | None


@dataclass(frozen=True, slots=True)
class NextDocument(Document):
    role: str
    actions: tuple[NextAction, ...]


@dataclass(frozen=True, slots=True)
class Synced(Document):
    remote: str
    branch: str
    integrated: str
    fetched: int
    pushed: int
    head: str | None
    retries: int
