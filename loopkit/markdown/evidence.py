"""Evidence in Markdown: free-form lines people type, and the block loopkit writes for a probe.

The probe block is two things: an HTML comment holding the exact record as JSON (what loopkit
reads back), and a fenced block showing the command and `→ observed mark RESULT` (what people
read). `check` compares the two, so a hand edit to either one is reported, never trusted.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from loopkit.markdown import comment
from loopkit.model import FreeEvidence, ProbeRecord

COMMENT_PREFIX = comment.prefix("probe")
_MARKS = {"PASS": "✓", "FAIL": "✗", "ERROR": "✗"}
_CODE_HTTP = re.compile(r"\bHTTP(?:/[0-9.]+)?\s+(\d{3})\b")
_CODE_BARE = re.compile(r"^\s*((?:[1-5]\d\d|000))(?![\w/.:-])")
_FAIL = re.compile(r"[✗✘]|\bFAIL(?:S|ED)?\b")
_PASS = re.compile(r"[✓✔]")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
DISPLAY_LIMIT = 300


# -- free-form evidence -------------------------------------------------------------------------
def code_of(observed: str) -> str | None:
    """An HTTP-like status code in what was observed: `HTTP 404`, `HTTP/2 200`, `200 ✓`, `000`."""
    match = _CODE_HTTP.search(observed) or _CODE_BARE.match(observed)
    return match.group(1) if match else None


def mark_of(observed: str) -> Literal["pass", "fail"] | None:
    if _FAIL.search(observed):
        return "fail"
    if _PASS.search(observed):
        return "pass"
    return None


def free(command: str | None, observed: str, line: int) -> FreeEvidence:
    observed = observed.strip()
    return FreeEvidence(
        command=command,
        observed=observed,
        code=code_of(observed),
        mark=mark_of(observed),
        line=line,
    )


def from_code(content: str, first_line: int) -> list[FreeEvidence]:
    """A code block: command lines, each followed by `→ observed` lines, or `command → observed`.

    A `#` comment line ends the current command, so an arrow after it has no command.
    """
    found: list[FreeEvidence] = []
    command: str | None = None
    command_line = first_line
    for offset, raw in enumerate(content.split("\n")):
        line = raw.strip()
        number = first_line + offset
        if not line:
            continue
        if line.startswith("#"):
            command = None
        elif line.startswith("→"):
            found.append(free(command, line[1:], command_line if command else number))
        elif "→" in line:
            head, _, tail = line.partition("→")
            command, command_line = _strip_prompt(head.strip()), number
            found.append(free(command, tail, number))
        else:
            command, command_line = _strip_prompt(line), number
    return found


def from_prose(content: str, first_line: int) -> list[FreeEvidence]:
    """A paragraph line such as ``- `https://host/ping` → 404 (not enabled)``.

    Prose arrows only count with a code span before them: that span is the command.
    """
    found: list[FreeEvidence] = []
    for offset, line in enumerate(content.split("\n")):
        head, arrow, tail = line.partition("→")
        if not arrow:
            continue
        spans = _CODE_SPAN.findall(head)
        if spans:
            found.append(free(spans[-1][1].strip(), tail, first_line + offset))
    return found


def _strip_prompt(line: str) -> str:
    return line[2:].lstrip() if line.startswith("$ ") else line


# -- loopkit's own probe block ------------------------------------------------------------------
def escape(text: str) -> str:
    """One display line: control bytes and line breaks made visible, never raw."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def display_command(record: ProbeRecord) -> str:
    return "$ " + escape(record.command)


def display_observed(record: ProbeRecord) -> str:
    observed = escape(record.observed)
    if len(observed) > DISPLAY_LIMIT:
        observed = observed[:DISPLAY_LIMIT] + "…"
    return f"→ {observed} {_MARKS.get(record.result, '?')} {record.result}"


def display_lines(record: ProbeRecord) -> list[str]:
    return [display_command(record), display_observed(record)]


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


def record_from(data: dict[str, Any], line: int) -> ProbeRecord | None:
    """The record a comment holds, or None when it is not one loopkit could have written."""
    try:
        if any(not isinstance(data[key], kind) for key, kind in _FIELDS.items()):
            return None
        exit_status = data.get("exit")
        expect_exit = data.get("expect_exit")
        head = data.get("head")
        for value in (exit_status, expect_exit):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return None
        if head is not None and not isinstance(head, str):
            return None
        return ProbeRecord(
            phase=data["phase"],
            milestone=data["milestone"],
            probe=data["probe"],
            title=data["title"],
            command=data["command"],
            observe=data["observe"],
            observed=data["observed"],
            exit=exit_status,
            expect=tuple(str(v) for v in data.get("expect", [])),
            expect_not=tuple(str(v) for v in data.get("expect_not", [])),
            expect_exit=expect_exit,
            result=data["result"],
            duration=float(data.get("duration", 0.0)),
            at=data["at"],
            head=head,
            dirty=bool(data.get("dirty", False)),
            stdout=data["stdout"],
            stderr=data["stderr"],
            stdout_bytes=int(data.get("stdout_bytes", 0)),
            stderr_bytes=int(data.get("stderr_bytes", 0)),
            line=line,
            code=data["code"] if isinstance(data.get("code"), str) else None,
        )
    except (KeyError, TypeError, ValueError):
        return None
