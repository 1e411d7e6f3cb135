"""The documents of `sync` and the merge driver."""

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


@dataclass(frozen=True, slots=True)
class Merged(Document):
    """What the merge driver did with one file: `conflict` when markers were left."""

    path: str
    kind: str | None
    conflict: bool
