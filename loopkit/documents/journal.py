"""The documents of `journal add|show|parse`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopkit.documents import Document

if TYPE_CHECKING:
    from loopkit.model.journal import JournalEntry
    from loopkit.model.warning import ParseWarning


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
