"""The documents of `probe exec|run`, `evidence`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopkit.documents import Document

if TYPE_CHECKING:
    from loopkit.model.journal import ProbeRecord


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
