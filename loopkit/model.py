"""Frozen records that flow between the parsers, the rules and the writers. No I/O here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ROLES = ("builder", "adversary", "orchestrator")
Role = Literal["builder", "adversary", "orchestrator"]
Result = Literal["PASS", "FAIL", "ERROR"]
EvidenceKind = Literal["shell", "http", "result"]


@dataclass(frozen=True)
class ParseWarning:
    """Something a parser read but could not take as it stands, with its line."""

    line: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True)
class ProbeSpec:
    """A probe as a phase's spec defines it: what to run and what to expect."""

    id: str
    title: str
    run: str
    observe: str = "exit"
    expect: tuple[str, ...] = ()
    expect_not: tuple[str, ...] = ()
    expect_exit: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Milestone:
    """A milestone of a phase's spec, with the probes it needs and the paths it covers."""

    id: str
    title: str
    paths: tuple[str, ...] = ()
    probes: tuple[ProbeSpec, ...] = ()


@dataclass(frozen=True)
class PhaseSpec:
    """A phase's spec (`phases/<phase>.toml`)."""

    phase: str
    title: str
    plan: str | None = None
    milestones: tuple[Milestone, ...] = ()

    def milestone(self, mid: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == mid), None)


@dataclass(frozen=True)
class FreeEvidence:
    """Evidence a person or agent typed: a command and what they saw."""

    command: str | None
    observed: str
    code: str | None
    mark: Literal["pass", "fail"] | None
    line: int
    # what was recognised: a shell command and its output, an HTTP request and its answer, or a
    # result seen with no command in front of it
    kind: EvidenceKind = "shell"

    def to_json(self) -> dict[str, Any]:
        return {"source": "free-form", **asdict(self)}


@dataclass(frozen=True)
class ProbeRecord:
    """Evidence loopkit recorded from a probe it ran itself (SPEC section 4)."""

    phase: str
    milestone: str
    probe: str
    title: str
    command: str
    observe: str
    observed: str
    exit: int | None
    expect: tuple[str, ...]
    expect_not: tuple[str, ...]
    expect_exit: int | None
    result: str
    duration: float
    at: str
    head: str | None
    dirty: bool
    stdout: str
    stderr: str
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    line: int = 0
    code: str | None = None  # the code id at HEAD when it ran (SPEC section 7)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expect"] = list(self.expect)
        data["expect_not"] = list(self.expect_not)
        code = data.pop("code")
        ordered: dict[str, Any] = {}
        for key, value in data.items():
            ordered[key] = value
            if key == "head":
                ordered["code"] = code  # SPEC's order: head, code, dirty
        return {"schema_version": 1, "source": "probe", **ordered}

    def stored(self) -> dict[str, Any]:
        """What the journal comment keeps: everything but the line, which the file itself tells."""
        data = self.to_json()
        del data["line"]
        return data


Evidence = FreeEvidence | ProbeRecord


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry: its time, title, first line and the evidence in it."""

    at: str | None
    date_only: bool
    title: str
    line: int
    evidence: tuple[Evidence, ...] = ()
    # the time was written as approximate (`~01:10 UTC`, `12:XX`): `at` is its best reading
    approx: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "date_only": self.date_only,
            "approx": self.approx,
            "title": self.title,
            "line": self.line,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class Journal:
    """A parsed journal: its entries, its probe records and what the parser warns of."""

    phase: str | None
    role: str | None
    entries: tuple[JournalEntry, ...]
    warnings: tuple[ParseWarning, ...] = ()
    mismatches: tuple[ParseWarning, ...] = ()

    @property
    def probe_records(self) -> list[ProbeRecord]:
        return [e for entry in self.entries for e in entry.evidence if isinstance(e, ProbeRecord)]


RecordKind = Literal["CLAIM", "PASS", "FAIL", "DONE"]


@dataclass(frozen=True)
class StatusRecord:
    """One line of STATUS written by loopkit: a claim, a verdict, or DONE."""

    kind: RecordKind
    milestone: str | None
    at: str
    by: str
    ref: str | None
    note: str
    line: int
    text: str
    code: str | None = None  # a claim's code id (SPEC section 7)
    id: str | None = None  # a claim's id, unique across clones
    claim_id: str | None = None  # the claim a verdict names

    @property
    def is_verdict(self) -> bool:
        return self.kind in ("PASS", "FAIL")


@dataclass(frozen=True)
class StatusSection:
    """A `## M1 — …` section of a STATUS file, and its records."""

    id: str
    title: str
    line: int
    end: int
    records: tuple[StatusRecord, ...] = ()


@dataclass(frozen=True)
class StatusDoc:
    """A parsed STATUS file."""

    phase: str | None
    title: str | None
    sections: tuple[StatusSection, ...]
    done: StatusRecord | None
    done_line: int | None
    warnings: tuple[ParseWarning, ...] = ()

    def section(self, mid: str) -> StatusSection | None:
        return next((s for s in self.sections if s.id == mid), None)

    @property
    def records(self) -> tuple[StatusRecord, ...]:
        return tuple(r for s in self.sections for r in s.records)


@dataclass(frozen=True)
class Message:
    """An inbox message."""

    id: str
    to: str
    sender: str
    phase: str | None
    at: str | None
    subject: str
    body: str
    line: int = 0
    # set on the messages loopkit sends with a claim or a verdict; None on any other (and older) one
    milestone: str | None = None
    result: str | None = None
    claim: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": self.to,
            "from": self.sender,
            "phase": self.phase,
            "at": self.at,
            "subject": self.subject,
            "body": self.body,
            "milestone": self.milestone,
            "result": self.result,
            "claim": self.claim,
        }


@dataclass(frozen=True)
class Identity:
    """A git identity: a name and an email."""

    name: str
    email: str


@dataclass(frozen=True)
class Origin:
    """The commit that added a line, as git blame tells it."""

    sha: str
    author: Identity
    committer: Identity
    trailers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """Sizes (bytes of UTF-8) past which loopkit refuses text, far above anything written by hand."""

    body: int = 1 << 20
    note: int = 4096
    subject: int = 1024
    title: int = 1024


@dataclass(frozen=True)
class Config:
    """`loopkit.toml`, every default filled in."""

    status: str = "STATUS-{phase}.md"
    journals: dict[str, str] = field(
        default_factory=lambda: {"builder": "JOURNAL-{phase}.md", "adversary": "REVIEW-{phase}.md"}
    )
    inbox: str = "{ROLE}-INBOX.md"
    archive: str = "inbox-archive"
    identities: dict[str, Identity] = field(
        default_factory=lambda: {r: Identity(r, f"{r}@loopkit.invalid") for r in ROLES}
    )
    probe_timeout: float = 30.0
    redact_patterns: tuple[str, ...] = ()
    open_phase: tuple[str, ...] = ("orchestrator",)
    signed: tuple[str, ...] = ()
    git_remote: str = "origin"
    git_sync: bool = False
    lock_timeout: float | None = None
    commit_url: str | None = None
    limits: Limits = field(default_factory=Limits)
