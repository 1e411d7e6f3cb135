"""What git tells of a line: the commit that added it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from loopkit.model.config import Identity


@dataclass(frozen=True)
class Origin:
    """The commit that added a line, as git blame tells it."""

    sha: str
    author: Identity
    committer: Identity
    trailers: dict[str, str] = field(default_factory=dict)


class Memory(Protocol):
    """What gitrepo may remember across commands: loopkit/index.py's Index (None: nothing)."""

    def kind(self, name: str) -> dict[str, Any]: ...
    def changed(self, name: str) -> None: ...
    def put(self, name: str, entries: dict[str, Any]) -> None: ...
    def save(self) -> None: ...
    def blob_id(self, path: str) -> str | None: ...
    def chain(self, old: str, new: str) -> list[tuple[str, set[str]]] | None: ...
