"""A parsed journal: its entries and their evidence, typed or recorded by `probe exec`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from loopkit.model import SCHEMA_VERSION
from loopkit.model.warning import ParseWarning

EvidenceKind = Literal["shell", "http", "result"]


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
    # tracked files outside the workspace with uncommitted changes when it ran (SPEC section 3)
    dirty_paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expect"] = list(self.expect)
        data["expect_not"] = list(self.expect_not)
        code = data.pop("code")
        dirty_paths = list(data.pop("dirty_paths"))
        ordered: dict[str, Any] = {}
        for key, value in data.items():
            ordered[key] = value
            if key == "head":
                ordered["code"] = code  # SPEC's order: head, code, dirty
            elif key == "dirty":
                ordered["dirty_paths"] = dirty_paths
        return {"schema_version": SCHEMA_VERSION, "source": "probe", **ordered}  # versioned as stored

    def stored(self) -> dict[str, Any]:
        """What the journal comment keeps: everything but the line, which the file itself tells,
        and `dirty_paths` when there are none (a record of a clean tree reads as it always did)."""
        data = self.to_json()
        del data["line"]
        if not data["dirty_paths"]:
            del data["dirty_paths"]
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
