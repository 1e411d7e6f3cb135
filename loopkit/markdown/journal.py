"""Journal text → entries and evidence, for loopkit's journals and hand-written ones alike."""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loopkit.markdown import evidence as ev
from loopkit.markdown.tokens import fence_unclosed, has_binary, line_count, parse
from loopkit.model import Evidence, Journal, JournalEntry, ParseWarning, ProbeRecord
from loopkit.timefmt import parse_heading

if TYPE_CHECKING:
    from markdown_it.token import Token

_TITLE_PHASE = re.compile(r"\bphase\s+`?([a-z0-9][a-z0-9._-]{0,63})`?", re.IGNORECASE)
_TITLE_ROLE = re.compile(r"\((builder|adversary|orchestrator)\)", re.IGNORECASE)
_FILE_NAME = re.compile(r"^(JOURNAL|REVIEW)-([a-z0-9][a-z0-9._-]{0,63})\.md$")
HUGE_LINE = 100_000
_HUGE = re.compile(f"[^\\n]{{{HUGE_LINE}}}")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescape(text: str) -> str:
    """CommonMark backslash escapes of ASCII punctuation, as a reader of the heading sees them."""
    return _ESCAPED.sub(r"\1", text)


@dataclass
class _Entry:
    at: str | None
    date_only: bool
    title: str
    line: int
    evidence: list[Evidence] = field(default_factory=list)

    def freeze(self) -> JournalEntry:
        return JournalEntry(self.at, self.date_only, self.title, self.line, tuple(self.evidence))


def parse_journal(text: str, *, file_name: str | None = None) -> Journal:
    """Any text in, entries and warnings out; never raises on content."""
    tokens = parse(text)
    total = line_count(text)
    warnings: list[ParseWarning] = []
    mismatches: list[ParseWarning] = []
    entries: list[_Entry] = []
    preamble: list[Evidence] = []
    phase = role = None
    binary = has_binary(text)
    if binary is not None:
        warnings.append(ParseWarning(binary, "binary or undecodable bytes"))
    if len(text) > HUGE_LINE:
        long_line = _HUGE.search(text)
        if long_line is not None:
            start = text.rfind("\n", 0, long_line.start()) + 1
            end = text.find("\n", start)
            length = (len(text) if end < 0 else end) - start
            at = text.count("\n", 0, start) + 1
            warnings.append(ParseWarning(at, f"line of {length:,} characters"))

    def add(found: list[Evidence], line: int) -> None:
        if entries:
            entries[-1].evidence.extend(found)
        elif found:
            preamble.extend(found)
            warnings.append(ParseWarning(line, "evidence before the first entry heading"))

    skip_fence = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        start = token.map[0] + 1 if token.map else 0
        if token.type == "heading_open":
            content = tokens[index + 1].content
            if token.tag == "h1" and not entries and phase is None:
                phase, role = _title_line(content)
            elif token.tag in ("h2", "h3"):
                stamp = parse_heading(content)
                if stamp is not None:
                    entries.append(_Entry(stamp[0], stamp[1], unescape(stamp[2]), start))
                elif token.tag == "h2" and token.level == 0:
                    warnings.append(ParseWarning(start, f"heading without a timestamp: {content[:80]!r}"))
                    entries.append(_Entry(None, False, content, start))
            index += 3
            continue
        if token.type == "html_block" and token.content.startswith(ev.COMMENT_PREFIX):
            record = _probe(token, start, warnings)
            if record is not None:
                add([record], start)
                nxt = tokens[index + 1] if index + 1 < len(tokens) else None
                if nxt is not None and nxt.type == "fence":
                    skip_fence = True
                    if nxt.content.split("\n")[:2] != ev.display_lines(record):
                        mismatches.append(ParseWarning(start, _mismatch(record)))
                else:
                    mismatches.append(ParseWarning(start, _mismatch(record)))
        elif token.type in ("fence", "code_block"):
            if skip_fence:
                skip_fence = False
            else:
                first = start + 1 if token.type == "fence" else start
                add(list(ev.from_code(token.content, first)), start)
                if token.type == "fence" and fence_unclosed(token, text, total):
                    warnings.append(ParseWarning(start, "code fence is never closed"))
        elif token.type == "inline" and "→" in token.content:
            add(list(ev.from_prose(token.content, start)), start)
        skip_fence = skip_fence and token.type == "html_block"
        index += 1

    if not entries and any(t.type != "inline" and t.tag != "h1" for t in tokens if t.nesting >= 0):
        warnings.append(ParseWarning(1, "no entry headings (`## <timestamp> — <title>`)"))
    if file_name is not None and (phase is None or role is None):
        match = _FILE_NAME.match(Path(file_name).name)
        if match:
            phase = phase or match[2]
            role = role or ("builder" if match[1] == "JOURNAL" else "adversary")
    frozen = [e.freeze() for e in entries]
    if preamble:
        frozen.insert(0, JournalEntry(None, False, "", 1, tuple(preamble)))
    return Journal(phase, role, tuple(frozen), tuple(warnings), tuple(mismatches))


def _title_line(content: str) -> tuple[str | None, str | None]:
    phase = _TITLE_PHASE.search(content)
    role = _TITLE_ROLE.search(content)
    return (phase[1].lower() if phase else None, role[1].lower() if role else None)


def _probe(token: Token, line: int, warnings: list[ParseWarning]) -> ProbeRecord | None:
    data = ev.decode_comment(token.content)
    record = ev.record_from(data, line) if data is not None else None
    if record is None:
        warnings.append(ParseWarning(line, "loopkit:probe comment that does not hold a record"))
    return record


def _mismatch(record: ProbeRecord) -> str:
    return (
        f"evidence block for {record.milestone} {record.probe} does not show what its record holds "
        f"({ev.display_observed(record)!r}); it was edited by hand"
    )


# -- reading only the end of a journal ----------------------------------------------------------
def last_heading_time(tail: str) -> str | None:
    """The newest entry time in a journal's tail (status must not parse whole journals).

    Scans back for the last timestamped heading line and parses only from there to the end.
    """
    end = len(tail)
    while end > 0:
        at = tail.rfind("\n#", 0, end)
        start = at + 1
        window = tail[start:]
        if window.startswith(("## ", "### ")):
            tokens = parse(window[: window.find("\n") + 1 or None])
            if tokens and tokens[0].type == "heading_open":
                stamp = parse_heading(tokens[1].content)
                if stamp is not None:
                    return stamp[0]
        if at < 0:
            return None
        end = at
    return None


def probe_records_from_end(
    path: Path, *, with_lines: bool = False, wanted: Callable[[str, str], bool] | None = None
) -> Iterator[tuple[ProbeRecord, bool]]:
    """loopkit's probe records, newest first, each with whether its display block was hand-edited.

    It seeks from the end of the file, so finding the latest record of each probe costs what lies
    after it, not the size of the journal. Each candidate is confirmed by parsing its own entry;
    candidates whose (milestone, probe) `wanted` rejects are skipped unparsed.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, mmap needs it open
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, 2)
        if size == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            marker = ("\n" + ev.COMMENT_PREFIX).encode()
            end = size
            while True:
                hit = data.rfind(marker, 0, end)
                if hit < 0:
                    if data[: len(marker) - 1] == marker[1:]:
                        hit = -1
                    else:
                        return
                begin = hit + 1
                end = max(hit, 0)
                if wanted is not None and not _wanted(data, begin, wanted):
                    if hit < 0:
                        return
                    continue
                found = _confirm(data, begin, size, with_lines)
                if found is not None:
                    yield found
                if hit < 0:
                    return


def _wanted(data: mmap.mmap, begin: int, wanted: Callable[[str, str], bool]) -> bool:
    stop = data.find(b"\n", begin)
    line = data[begin : len(data) if stop < 0 else stop].decode("utf-8", errors="replace")
    decoded = ev.decode_comment(line)
    if decoded is None:
        return False
    milestone, probe = decoded.get("milestone"), decoded.get("probe")
    return isinstance(milestone, str) and isinstance(probe, str) and wanted(milestone, probe)


def _confirm(data: mmap.mmap, begin: int, size: int, with_lines: bool) -> tuple[ProbeRecord, bool] | None:
    entry_start = data.rfind(b"\n## ", 0, begin) + 1
    entry_end = data.find(b"\n## ", begin)
    entry_end = size if entry_end < 0 else entry_end + 1
    window = data[entry_start:entry_end].decode("utf-8", errors="replace")
    base = data[:entry_start].count(b"\n") if with_lines else 0
    comment_line = window.count("\n", 0, begin - entry_start)
    tokens = parse(window)
    for index, token in enumerate(tokens):
        if token.type == "html_block" and token.map and token.map[0] == comment_line:
            decoded = ev.decode_comment(token.content.split("\n", 1)[0])
            line = base + comment_line + 1 if with_lines else 0  # 0: not counted (costs a pass)
            record = ev.record_from(decoded, line) if decoded else None
            if record is None:
                return None
            nxt = tokens[index + 1] if index + 1 < len(tokens) else None
            edited = (
                nxt is None or nxt.type != "fence" or nxt.content.split("\n")[:2] != ev.display_lines(record)
            )
            return record, edited
    return None
