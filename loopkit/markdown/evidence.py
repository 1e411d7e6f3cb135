"""Evidence in Markdown: the block loopkit writes for a probe (free-form lines people type are read
in freeform.py, which the writers never need to import).

The probe block is two things: an HTML comment holding the exact record as JSON (what loopkit
reads back), and a fenced block showing the command and `→ observed mark RESULT` (what people
read). `check` compares the two, so a hand edit to either one is reported, never trusted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from loopkit.markdown import comment
from loopkit.model.journal import ProbeRecord

COMMENT_PREFIX = comment.prefix("probe")
_MARKS = {"PASS": "✓", "FAIL": "✗", "ERROR": "✗"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
DISPLAY_LIMIT = 300


# -- loopkit's own probe block ------------------------------------------------------------------
def escape(text: str) -> str:
    """One display line: control bytes and line breaks made visible, never raw."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def display_observed(record: ProbeRecord) -> str:
    observed = escape(record.observed)
    if record.observe == "exit" and observed.lstrip("-").isdigit():
        observed = f"exit {observed}"  # an exit status reads as one, not as a bare number
    if len(observed) > DISPLAY_LIMIT:
        observed = observed[:DISPLAY_LIMIT] + "…"
    return f"→ {observed} {_MARKS.get(record.result, '?')} {record.result}"


def display_lines(record: ProbeRecord) -> list[str]:
    return ["$ " + escape(record.command), display_observed(record)]


def fence_for(lines: list[str]) -> str:
    """A backtick fence longer than any backtick run inside, so the content cannot close it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def encode_comment(record: ProbeRecord) -> str:
    return comment.encode("probe", record.stored())


def decode_comment(text: str) -> dict[str, Any] | None:
    return comment.decode("probe", text)


_FIELDS = {
    "phase": str,
    "milestone": str,
    "probe": str,
    "title": str,
    "command": str,
    "observe": str,
    "observed": str,
    "result": str,
    "at": str,
    "stdout": str,
    "stderr": str,
}


def _int(value: Any, *, default: int | None) -> int | None:
    """An integer field: a JSON integer (a bool is not one), or the default when absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return tuple(value)


def record_from(data: dict[str, Any], line: int) -> ProbeRecord | None:
    """The record a comment holds, or None when it is not one loopkit could have written.

    Every field is checked for the type loopkit writes, so that no value a hand edit put there
    (a number written as text, `1e400`, a list where a string belongs) reaches the rules or
    comes out of `--json` as anything but what loopkit would have written.
    """
    try:
        if any(not isinstance(data[key], kind) for key, kind in _FIELDS.items()):
            return None
        head = data.get("head")
        if head is not None and not isinstance(head, str):
            return None
        duration = data.get("duration", 0.0)
        if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration):
            return None
        return ProbeRecord(
            phase=data["phase"],
            milestone=data["milestone"],
            probe=data["probe"],
            title=data["title"],
            command=data["command"],
            observe=data["observe"],
            observed=data["observed"],
            exit=_int(data.get("exit"), default=None),
            expect=_strings(data.get("expect")),
            expect_not=_strings(data.get("expect_not")),
            expect_exit=_int(data.get("expect_exit"), default=None),
            result=data["result"],
            duration=float(duration),
            at=data["at"],
            head=head,
            dirty=bool(data.get("dirty", False)),
            stdout=data["stdout"],
            stderr=data["stderr"],
            stdout_bytes=_int(data.get("stdout_bytes"), default=0) or 0,
            stderr_bytes=_int(data.get("stderr_bytes"), default=0) or 0,
            line=line,
            code=data["code"] if isinstance(data.get("code"), str) else None,
            dirty_paths=_strings(data.get("dirty_paths")),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
