"""A parsed STATUS file: its sections and the claims, verdicts and DONE loopkit wrote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loopkit.model.warning import ParseWarning

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
