"""A record as JSON inside one HTML comment line: `<!-- loopkit:<kind> {…} -->`.

Readers of the rendered page never see it; loopkit reads it back exactly. `--` may not appear in
an HTML comment, so the second dash is spelled `\\u002d`, which JSON reads as the same text.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Beyond this a number cannot have come from loopkit (exit codes, byte counts, durations), and a
# huge one would come out of `--json` as something other readers choke on.
_MAX_DIGITS = 19


def prefix(kind: str) -> str:
    return f"<!-- loopkit:{kind} "


def encode(kind: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return prefix(kind) + payload.replace("--", "-\\u002d") + " -->"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]}… overflows")
    return value


def _bounded(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise ValueError("integer out of range")
    return int(text)


def loads(payload: str) -> Any:
    """Strict JSON: no NaN or Infinity, no float that overflows, no integer past 64 bits.

    Anything else would make a record whose `--json` is not JSON (or not portable), so such a
    comment is simply not a record.
    """
    return json.loads(payload, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded)


def decode(kind: str, text: str) -> dict[str, Any] | None:
    """The object a comment line holds, or None when it is not one loopkit wrote."""
    body = text.strip()
    start = prefix(kind)
    if not body.startswith(start) or not body.endswith("-->"):
        return None
    try:
        data = loads(body[len(start) : -3])
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
