"""STATUS text → milestone sections, their claim and verdict records, and DONE.

Each record is one list line written by loopkit, so that git blame maps it to one commit:
`- **PASS** M2 @2026-06-13T13:44:01Z by adversary · claim 1a2b3c4… — idle probes pass`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loopkit.markdown.tokens import fence_unclosed, has_binary, line_count, parse
from loopkit.model.status import StatusDoc, StatusRecord, StatusSection
from loopkit.model.warning import ParseWarning

RECORD = re.compile(
    r"^\*\*(?P<kind>CLAIM|PASS|FAIL|DONE)\*\*"
    r"(?: (?P<milestone>[A-Za-z0-9][A-Za-z0-9._-]*))?"
    r" @(?P<at>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?Z)"
    r" by (?P<by>[A-Za-z0-9._-]+)"
    r"(?: · (?:head|claim) (?P<ref>[0-9a-f]{4,64}))?"
    r"(?: · code (?P<code>[0-9a-f]{40,64}))?"
    r"(?: · (?P<idkind>id|claim-id) (?P<id>[0-9]{8}T[0-9]{6}Z-[a-z]{1,4}-[0-9a-f]{12}))?"
    r"(?: — (?P<note>.*))?$"
)
_SECTION = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\s*(?:—|–|-|:)\s*(?P<title>.*))?$")
_TITLE_PHASE = re.compile(r"\bphase\s+`?([a-z0-9][a-z0-9._-]{0,63})`?", re.IGNORECASE)
_FIELD = re.compile(r"^\*\*Title:\*\*\s*(.*)$", re.MULTILINE)


@dataclass
class _Section:
    """A STATUS section while the file is read."""

    id: str
    title: str
    line: int
    end: int = 0
    records: list[StatusRecord] = field(default_factory=list)


def parse_status(text: str) -> StatusDoc:
    tokens = parse(text)
    total = line_count(text)
    read = _Reader()
    binary = has_binary(text)
    if binary is not None:
        read.warnings.append(ParseWarning(binary, "binary or undecodable bytes"))
    title = None
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        line = token.map[0] + 1
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            read.heading(token.tag, tokens[index + 1].content.strip(), line)
        elif token.type == "inline" and token.level >= 2 and tokens[index - 2].type == "list_item_open":
            match = RECORD.match(token.content)
            if match is not None and "\n" not in token.content:
                read.record(_record(match, line, token.content), line)
        elif token.type == "inline" and title is None and token.level == 1:
            field_match = _FIELD.search(token.content)
            if field_match:
                title = field_match[1].strip()
        elif fence_unclosed(token, text, total):
            read.warnings.append(ParseWarning(line, "code fence is never closed"))
    if read.current is not None:
        read.current.end = total
    frozen = tuple(StatusSection(s.id, s.title, s.line, s.end, tuple(s.records)) for s in read.sections)
    return StatusDoc(read.phase, title, frozen, read.done, read.done_line, tuple(read.warnings))


class _Reader:
    """Where `parse_status` is in the file: the sections so far, the one open, the DONE one."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.sections: list[_Section] = []
        self.current: _Section | None = None
        self.in_done = False
        self.done: StatusRecord | None = None
        self.done_line: int | None = None
        self.warnings: list[ParseWarning] = []

    def heading(self, tag: str, content: str, line: int) -> None:
        """An h1 (the title, naming the phase) or an h2 (a milestone's section, or DONE)."""
        if self.current is not None:
            self.current.end = line - 1
            self.current = None
        self.in_done = False
        if tag == "h1":
            match = _TITLE_PHASE.search(content)
            self.phase = self.phase or (match[1].lower() if match else None)
        elif content.upper().startswith("DONE"):
            self.in_done = True
            self.done_line = self.done_line or line
        elif (section := _SECTION.match(content)) is None:
            self.warnings.append(ParseWarning(line, f"section heading is not a milestone: {content[:80]!r}"))
        else:
            self.current = _Section(section["id"], (section["title"] or "").strip(), line)
            self.sections.append(self.current)

    def record(self, record: StatusRecord, line: int) -> None:
        """A record line, kept in its section (the first DONE in DONE's), or warned of."""
        current = self.current
        if record.kind == "DONE":
            if self.in_done and self.done is None:
                self.done = record
            elif not self.in_done:
                self.warnings.append(ParseWarning(line, "DONE record outside the ## DONE section"))
        elif current is None:
            self.warnings.append(ParseWarning(line, f"{record.kind} record outside any milestone section"))
        elif record.milestone != current.id:
            self.warnings.append(
                ParseWarning(line, f"{record.kind} record for {record.milestone} in section {current.id}")
            )
        else:
            current.records.append(record)


def parse_record(text: str, line: int = 0) -> StatusRecord | None:
    """One record line's text (without its `- `), as `parse_status` reads it; None if it is none."""
    match = RECORD.match(text)
    return None if match is None else _record(match, line, text)


def _record(match: re.Match[str], line: int, text: str) -> StatusRecord:
    at = match["at"]
    if len(at) == len("2026-06-13T13:44Z"):
        at = at[:-1] + ":00Z"
    return StatusRecord(
        kind=match["kind"],  # type: ignore[arg-type]
        milestone=match["milestone"],
        at=at,
        by=match["by"],
        ref=match["ref"],
        code=match["code"],
        id=match["id"] if match["idkind"] == "id" else None,
        claim_id=match["id"] if match["idkind"] == "claim-id" else None,
        note=(match["note"] or "").strip(),
        line=line,
        text=text,
    )
