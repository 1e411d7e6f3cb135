"""The documents of `verify` (SPEC section 11)."""

from __future__ import annotations

from dataclasses import dataclass

from loopkit.documents import Document


@dataclass(frozen=True, slots=True)
class Violation(Document):
    """One dishonest change to the books."""

    code: str
    commit: str
    phase: str | None = None
    milestone: str | None = None
    file: str | None = None
    line: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Verified(Document):
    ok: bool
    range: str
    commits: int
    violations: tuple[Violation, ...]
