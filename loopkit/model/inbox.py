"""An inbox message."""

from __future__ import annotations

from collections.abc import Mapping
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], line: int = 0) -> Message:
        """What to_json wrote (a checked inbox comment, a status memo's copy); an optional field
        that is not a string reads as None."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        head = (data["id"], data["to"], data["from"], text("phase"), text("at"), data["subject"])
        return cls(*head, data["body"], line, text("milestone"), text("result"), text("claim"))
