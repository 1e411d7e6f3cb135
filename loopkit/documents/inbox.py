"""The documents of `inbox send|list|consume|wait`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopkit.documents import Document

if TYPE_CHECKING:
    from loopkit.model.inbox import Message


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
