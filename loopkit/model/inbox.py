"""An inbox message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    """An inbox message."""

    id: str
    to: str
    sender: str
    phase: str | None
    at: str | None
    subject: str
    body: str
    line: int = 0
    # set on the messages loopkit sends with a claim or a verdict; None on any other (and older) one
    milestone: str | None = None
    result: str | None = None
    claim: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": self.to,
            "from": self.sender,
            "phase": self.phase,
            "at": self.at,
            "subject": self.subject,
            "body": self.body,
            "milestone": self.milestone,
            "result": self.result,
            "claim": self.claim,
        }
