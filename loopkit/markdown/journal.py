"""Journal text → entries and evidence, for loopkit's journals and hand-written ones alike."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from loopkit.markdown import evidence as ev
from loopkit.markdown import stamps
from loopkit.markdown.freeform import ProseReader, from_code
from loopkit.markdown.tokens import (
    collector_paused,
    fence_unclosed,
    front_matter_lines,
    has_binary,
    line_count,
    parse,
)
from loopkit.markdown.toplevel import Undecided, is_record_token, scan
from loopkit.model import Evidence, Journal, JournalEntry, ParseWarning, ProbeRecord

if TYPE_CHECKING:
    import mmap

    from markdown_it.token import Token

    Mapped = bytes | mmap.mmap  # a file's bytes, or the file mapped (workspace.read_mapped)

_TITLE_PHASE = re.compile(r"\bphase\s+`?([a-z0-9][a-z0-9._-]{0,63})`?", re.IGNORECASE)
_TITLE_ROLE = re.compile(r"\((builder|adversary|orchestrator)\)", re.IGNORECASE)
_FILE_NAME = re.compile(r"^(JOURNAL|REVIEW)-([a-z0-9][a-z0-9._-]{0,63})\.md$")
HUGE_LINE = 100_000
# anchored at line starts, so a line just under the limit costs one pass, not one per character
_HUGE = re.compile(f"^[^\\n]{{{HUGE_LINE}}}", re.MULTILINE)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_ENTRY_LEVELS = ("h2", "h3", "h4")


def unescape(text: str) -> str:
    """CommonMark backslash escapes of ASCII punctuation, as a reader of the heading sees them."""
    return _ESCAPED.sub(r"\1", text)


@dataclass
class _Entry:
    """An entry while its journal is read (frozen into a JournalEntry at the end)."""

    at: str | None
    date_only: bool
    title: str
    line: int
    approx: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    untitled: bool = False  # a title-less timestamp heading: the heading right below names it
    bare: bool = True  # nothing but its heading so far

    def freeze(self) -> JournalEntry:
        return JournalEntry(
            self.at, self.date_only, self.title, self.line, tuple(self.evidence), approx=self.approx
        )


def parse_journal(text: str, *, file_name: str | None = None) -> Journal:
    """Any text in, entries and warnings out; never raises on content."""
    with collector_paused():
        return _Reader(text).read(file_name)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.warnings: list[ParseWarning] = []
        self.mismatches: list[ParseWarning] = []
        self.entries: list[_Entry] = []
        self.preamble: list[Evidence] = []
        self.phase: str | None = None
        self.role: str | None = None
        self.day: str | None = None  # the date a time-only heading takes
        self.prose = ProseReader()

    def add(self, found: Sequence[Evidence], line: int) -> None:
        if self.entries:
            self.entries[-1].evidence.extend(found)
        elif found:
            self.preamble.extend(found)
            self.warnings.append(ParseWarning(line, "evidence before the first entry heading"))

    def read(self, file_name: str | None) -> Journal:
        text = self.text
        skip = front_matter_lines(text)
        if skip:
            # YAML front matter is metadata: blank it out, so that line numbers stay the file's
            text = "\n" * skip + text.split("\n", skip)[-1]
        tokens = parse(text)
        total = line_count(text)
        self._file_warnings()
        skip_fence = False
        index = 0
        count = len(tokens)
        prose = self.prose.feed
        add = self.add
        while index < count:
            token = tokens[index]
            kind = token.type
            if kind == "inline":
                line = token.map[0] + 1 if token.map else 0
                add(prose(token.content, line), line)
                skip_fence = False
                index += 1
                continue
            if kind.endswith("_close"):
                skip_fence = False
                index += 1
                continue
            start = token.map[0] + 1 if token.map else 0
            if kind == "heading_open":
                self._heading(tokens, index, start)
                index += 3
                continue
            if token.level == 0 and self.entries:
                self.entries[-1].bare = False
                self.entries[-1].untitled = False
            if kind == "html_block":
                skip_fence = token.content.startswith(ev.COMMENT_PREFIX) and self._record(
                    tokens, index, start
                )
                index += 1
                continue
            if kind == "fence" or kind == "code_block":
                if skip_fence:
                    skip_fence = False
                else:
                    first = start + 1 if kind == "fence" else start
                    add(list(from_code(token.content, first)), start)
                    if kind == "fence" and fence_unclosed(token, text, total):
                        self.warnings.append(ParseWarning(start, "code fence is never closed"))
                index += 1
                continue
            skip_fence = False
            index += 1
        return self._finish(tokens, file_name)

    def _file_warnings(self) -> None:
        text = self.text
        binary = has_binary(text)
        if binary is not None:
            self.warnings.append(ParseWarning(binary, "binary or undecodable bytes"))
        if len(text) > HUGE_LINE:
            long_line = _HUGE.search(text)
            if long_line is not None:
                start = long_line.start()
                end = text.find("\n", start)
                length = (len(text) if end < 0 else end) - start
                at = text.count("\n", 0, start) + 1
                self.warnings.append(ParseWarning(at, f"line of {length:,} characters"))

    def _heading(self, tokens: list[Token], index: int, start: int) -> None:
        token = tokens[index]
        content = tokens[index + 1].content
        self.prose.reset()
        if token.markup not in ("#", "##", "###", "####", "#####", "######"):
            return  # a setext heading (text over `---`) is part of the entry's text, not an entry
        if token.tag == "h1" and not self.entries and self.phase is None:
            self.phase, self.role = _title_line(content)
            return
        if token.tag not in _ENTRY_LEVELS:
            return
        stamp = stamps.read(content)
        last = self.entries[-1] if self.entries else None
        if stamp is None and last is not None and last.untitled:
            last.title, last.untitled = unescape(content.strip()), False
            return
        if stamp is None:
            stamp = self._label_stamp(tokens, index + 3, content)
        if stamp is None:
            if token.tag == "h2" and token.level == 0:
                self.warnings.append(ParseWarning(start, f"heading without a timestamp: {content[:80]!r}"))
                self.entries.append(_Entry(None, False, content, start))
            return
        if stamp.clock is not None:
            if self.day is None:
                self.warnings.append(ParseWarning(start, f"a time with no date above it: {content[:80]!r}"))
                self.entries.append(_Entry(None, False, unescape(stamp.title), start, stamp.approx))
                return
            if last is not None and last.bare and last.date_only and not last.title:
                self.entries.pop()  # `## 2026-05-04` over `### 18:08 UTC — …`: a day, not an entry
            stamp = stamp.on(self.day)
        if stamp.at is not None:
            self.day = stamp.at
        entry = _Entry(stamp.at, stamp.date_only, unescape(stamp.title), start, stamp.approx)
        entry.untitled = not stamp.title
        self.entries.append(entry)

    def _label_stamp(self, tokens: list[Token], index: int, content: str) -> stamps.Stamp | None:
        """An undated heading with `**Timestamp**: …` (or `Date:`) as the first line under it."""
        if index < len(tokens) and tokens[index].type == "bullet_list_open":
            index += 2  # `- **Timestamp**: …` as the first item of a list
        if index + 1 >= len(tokens) or tokens[index].type != "paragraph_open":
            return None
        first = tokens[index + 1].content.split("\n", 1)[0]
        found = stamps.from_label(first)
        if found is None:
            return None
        return stamps.Stamp(found.at, found.date_only, found.approx, content.strip())

    def _record(self, tokens: list[Token], index: int, start: int) -> bool:
        """A probe comment: True when the fence after it is its display block (not evidence)."""
        token = tokens[index]
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        shown = nxt is not None and nxt.type == "fence"  # a record's display, quoted or not
        if not is_record_token(token):
            if token.level == 0:
                self.warnings.append(ParseWarning(start, "loopkit:probe comment that does not hold a record"))
            return shown
        record = _record_of(token, start)
        if record is None:
            self.warnings.append(ParseWarning(start, "loopkit:probe comment that does not hold a record"))
            return shown
        self.add([record], start)
        if _edited(record, nxt):
            self.mismatches.append(ParseWarning(start, _mismatch(record)))
        return shown

    def _finish(self, tokens: list[Token], file_name: str | None) -> Journal:
        if not self.entries and any(t.type != "inline" and t.tag != "h1" for t in tokens if t.nesting >= 0):
            self.warnings.append(ParseWarning(1, "no entry headings (`## <timestamp> — <title>`)"))
        phase, role = self.phase, self.role
        if file_name is not None and (phase is None or role is None):
            match = _FILE_NAME.match(PurePath(file_name).name)
            if match:
                phase = phase or match[2]
                role = role or ("builder" if match[1] == "JOURNAL" else "adversary")
        frozen = [e.freeze() for e in self.entries]
        if self.preamble:
            frozen.insert(0, JournalEntry(None, False, "", 1, tuple(self.preamble)))
        return Journal(phase, role, tuple(frozen), tuple(self.warnings), tuple(self.mismatches))


def _title_line(content: str) -> tuple[str | None, str | None]:
    phase = _TITLE_PHASE.search(content)
    role = _TITLE_ROLE.search(content)
    return (phase[1].lower() if phase else None, role[1].lower() if role else None)


def _record_of(token: Token, line: int) -> ProbeRecord | None:
    """The record a one-line top-level probe comment holds (the same test for both readers)."""
    data = ev.decode_comment(token.content)
    return ev.record_from(data, line) if data is not None else None


def _edited(record: ProbeRecord, nxt: Token | None) -> bool:
    """Whether the block after a record fails to show what the record holds."""
    return nxt is None or nxt.type != "fence" or nxt.content.split("\n")[:2] != ev.display_lines(record)


def _mismatch(record: ProbeRecord) -> str:
    return (
        f"evidence block for {record.milestone} {record.probe} does not show what its record holds "
        f"({ev.display_observed(record)!r}); it was edited by hand"
    )


# -- reading only the end of a journal ----------------------------------------------------------


def last_entry_time(data: Mapped | None) -> str | None:
    """The time of the journal's last dated entry, as the full parse reads it (`status`'s last
    activity), read from the end.

    One scan finds the top-level headings (one inside a fence, a quote or an HTML block starts no
    entry); the text is parsed from the last of them that carries a full date itself (a `##` to
    `####` heading: how it reads then depends on nothing above it, and every entry after it reads
    as in the full parse, times of day included). tests/test_journal_styles.py pins the two
    together. A file the scan cannot read alone, or with no such heading, is parsed whole.
    `data`: the file's bytes (`workspace.read_mapped`), None for no file.
    """
    if not data:
        return None
    begin = 0
    try:
        found = scan(data)
    except Undecided:
        found = None
    if found is not None and found.end == len(data):
        for at in reversed(found.starts):
            if data[at : at + 1] == b"#" and _self_dated(data, at):
                begin = at
                break
    journal = parse_journal(data[begin:].decode("utf-8", errors="replace"))
    dated = [e.at for e in journal.entries if e.at is not None]
    return dated[-1] if dated else None


def _self_dated(data: Mapped, at: int) -> bool:
    """Whether the heading line at `at` is an entry heading dated by its own text."""
    stop = data.find(b"\n", at)
    return self_dated(data[at : len(data) if stop < 0 else stop].decode("utf-8", errors="replace"))


def self_dated(line: str) -> bool:
    """Whether `line` is an entry heading (`##` to `####`) dated by its own text.

    The reader starts afresh at such a heading: how it and everything after it read depends on
    nothing above it. Any other heading does depend on it: a time of day takes the date of the
    last dated heading, an untitled entry takes the next undated heading as its title, a first
    `#` heading is the file's title."""
    tokens = parse(line.removesuffix("\r"))  # markdown-it reads a lone CR as a character
    return len(tokens) >= 2 and _dated_at(tokens, 0)


def last_self_dated(text: str) -> int | None:
    """The offset of the last top-level `self_dated` heading in `text` (one parse), or None."""
    tokens = parse(text)
    line = None
    for index, token in enumerate(tokens):
        if token.map is not None and _dated_at(tokens, index):
            line = token.map[0]
    if line is None:
        return None
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def _dated_at(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    if token.type != "heading_open" or token.level != 0 or token.tag not in _ENTRY_LEVELS:
        return False
    if not token.markup.startswith("#") or index + 1 >= len(tokens):
        return False  # a setext heading is text of the entry above
    stamp = stamps.read(tokens[index + 1].content)
    return stamp is not None and stamp.clock is None and stamp.at is not None


Spans = list[tuple[int, int, int]]  # each top-level probe comment: (byte offset, 0-based line, window end)


def record_spans(data: Mapped | None) -> tuple[int, Spans] | None:
    """The file's size and where its top-level probe comments are (one scan over its bytes);
    None when the scan cannot tell alone (the records are then read by a full parse), or for no
    file (`data` None)."""
    if data is None:
        return None
    if not data:
        return 0, []
    try:
        return len(data), _spans(data)
    except Undecided:
        return None


def _spans(data: Mapped) -> Spans:
    found = scan(data)
    return [(offset, line, found.window_end(offset)) for offset, line in found.candidates]


def probe_records_from_end(
    data: Mapped | None,
    *,
    with_lines: bool = False,
    wanted: Callable[[str, str], bool] | None = None,
    known: tuple[int, Spans] | None = None,
    confirmed: dict[Any, Any] | None = None,
) -> Iterator[tuple[ProbeRecord, bool]]:
    """loopkit's probe records, newest first, each with whether its display block was hand-edited.

    Exactly the records a full parse finds, in reverse: one scan over the bytes tells which probe
    comment lines are top-level blocks (not inside a fence or a quote, however far above it was
    opened), then only the entry of each record asked for is parsed. Candidates whose
    (milestone, probe) `wanted` rejects are skipped unparsed. `known`: what `record_spans` said of
    this file (remembered by the caller); used only when the size is still the same. `confirmed`:
    the records read before from these same bytes (remembered by the caller), filled here.
    `data`: the file's bytes (`workspace.read_mapped`), None for no file.
    """
    if not data:
        return
    try:
        spans = known[1] if known is not None and known[0] == len(data) else _spans(data)
    except Undecided:
        yield from _slow(data, with_lines=with_lines, wanted=wanted)
        return
    for offset, line, end in reversed(spans):
        if wanted is not None and not _wanted(data, offset, wanted):
            continue
        number = line + 1 if with_lines else 0
        key = f"{offset} {end} {number}"
        found = (
            confirmed[key]
            if confirmed is not None and key in confirmed
            else _confirm(data, offset, end, number)
        )
        if confirmed is not None:
            confirmed[key] = found
        if found is not None:
            yield found


def _slow(
    data: Mapped, *, with_lines: bool, wanted: Callable[[str, str], bool] | None
) -> Iterator[tuple[ProbeRecord, bool]]:
    """The full parse, for the rare file the scan cannot read alone."""
    journal = parse_journal(data[:].decode("utf-8", errors="replace"))
    edited = {w.line for w in journal.mismatches}
    for record in reversed(journal.probe_records):
        if wanted is None or wanted(record.milestone, record.probe):
            yield (record if with_lines else replace(record, line=0)), record.line in edited


def _wanted(data: Mapped, begin: int, wanted: Callable[[str, str], bool]) -> bool:
    stop = data.find(b"\n", begin)
    line = data[begin : len(data) if stop < 0 else stop].decode("utf-8", errors="replace")
    decoded = ev.decode_comment(line)
    if decoded is None:
        return False
    milestone, probe = decoded.get("milestone"), decoded.get("probe")
    return isinstance(milestone, str) and isinstance(probe, str) and wanted(milestone, probe)


def _confirm(data: Mapped, begin: int, end: int, line: int) -> tuple[ProbeRecord, bool] | None:
    """The record at `begin` read as the full parse reads it, from `begin` to the next known
    top-level block start (both ends are block starts, so the tokens between are the full
    parse's)."""
    tokens = parse(data[begin:end].decode("utf-8", errors="replace"))
    if not tokens or not is_record_token(tokens[0]):
        return None
    record = _record_of(tokens[0], line)
    if record is None:
        return None
    return record, _edited(record, tokens[1] if len(tokens) > 1 else None)
