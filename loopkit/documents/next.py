"""The documents of `next`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopkit.documents import Document


@dataclass(frozen=True, slots=True)
class ToolCall(Document):
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NextAction(Document):
    """The next move for a role, as a loopkit command and as an MCP tool call."""

    phase: str | None
    milestone: str | None
    action: str
    command: str | None
    why: str
    tool: ToolCall | None


@dataclass(frozen=True, slots=True)
class NextDocument(Document):
    role: str
    actions: tuple[NextAction, ...]
