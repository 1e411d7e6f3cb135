"""What a parser warns of: shared by the journal and STATUS parsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParseWarning:
    """Something a parser read but could not take as it stands, with its line."""

    line: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}
