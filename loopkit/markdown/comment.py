"""A record as JSON inside one HTML comment line: `<!-- loopkit:<kind> {…} -->`.

Readers of the rendered page never see it; loopkit reads it back exactly. `--` may not appear in
an HTML comment, so the second dash is spelled `\\u002d`, which JSON reads as the same text.
"""

from __future__ import annotations

import json
from typing import Any


def prefix(kind: str) -> str:
    return f"<!-- loopkit:{kind} "


def encode(kind: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return prefix(kind) + payload.replace("--", "-\\u002d") + " -->"


def decode(kind: str, text: str) -> dict[str, Any] | None:
    """The object a comment line holds, or None when it is not one loopkit wrote."""
    body = text.strip()
    start = prefix(kind)
    if not body.startswith(start) or not body.endswith("-->"):
        return None
    try:
        data = json.loads(body[len(start) : -3])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
