"""The documents of `sync`."""

from __future__ import annotations

from dataclasses import dataclass

from loopkit.documents import Document


@dataclass(frozen=True, slots=True)
class Synced(Document):
    remote: str
    branch: str
    integrated: str
    fetched: int
    pushed: int
    head: str | None
    retries: int
