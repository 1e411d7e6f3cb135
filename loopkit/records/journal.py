"""Journal entries (JOURNAL and REVIEW files): appended at the end, read back, and where the
reader may restart so that only the journal's end needs parsing.

An entry runs from its heading to the next entry's; its identity is its bytes. The parser is
imported where it is needed: an append of a simple block parses nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from loopkit.errors import BadInput
from loopkit.markdown import edit
from loopkit.model import JournalEntry
from loopkit.records import Span

# A block loopkit can append without parsing anything: one dated, titled `## ` heading as loopkit
# writes it, then only blank lines, one-line HTML comments and closed backtick fences (an
# evidence entry). After such a block the journal ends "clean": no open fence, HTML block, list
# or untitled entry can take in what comes next.
_SIMPLE_HEADING = re.compile(r"## \d{4}-\d\d-\d\dT\d\d:\d\dZ — \S[^\n]*")
_FENCE_OPEN = re.compile(r"(`{3,})[^`\n]*")
_FENCE_LIKE = re.compile(r" {0,3}`{3,} *")


def spans(text: str) -> list[Span]:
    """Each entry, from its heading to the next entry's: the merge's identities (its bytes)."""
    from loopkit.markdown.journal import parse_journal

    lines = edit.split_lines(text)
    total = len(lines)
    starts = sorted(
        {
            e.line - 1
            for e in parse_journal(text).entries
            if 0 < e.line <= total and lines[e.line - 1].lstrip().startswith("#")
        }
    )
    return [(s, starts[n + 1] if n + 1 < len(starts) else total, None, None) for n, s in enumerate(starts)]


def key(entry: JournalEntry) -> tuple[Any, ...]:
    """An entry without line numbers: the block sits at a new place in the file."""
    return (entry.at, entry.date_only, entry.title, tuple(replace(e, line=0) for e in entry.evidence))


def append(old: str, start: int, block: str, *, name: str) -> tuple[str, int, int]:
    """`old` with `block` appended, checked by parsing from `start` (a heading the reader restarts
    at, or 0): the new text, where the new entry starts, and its line counted from `start`.

    A code fence left open at the end would swallow the new entry: it is closed first, which
    changes nothing in how the old text reads. The new text must read as the old entries plus
    exactly the block's one entry, else BadInput (nothing is written)."""
    from loopkit.markdown.journal import parse_journal

    tail = old[start:]
    closing = _open_fence(tail)
    base = old
    if closing is not None:
        newline = edit.newline_of(old)
        base = old + ("" if old.endswith("\n") else newline) + closing + newline
    new = edit.append(base, block)
    if closing is not None and not old.endswith("\n"):
        new = new.rstrip("\r\n")
    before = [key(e) for e in parse_journal(tail).entries]
    after = parse_journal(new[start:]).entries
    expected = [key(e) for e in parse_journal(block).entries]
    if [key(e) for e in after] != before + expected or len(expected) != 1:
        raise BadInput(
            f"refusing to write {name}: the new entry would not read back as one entry "
            "(does the body hold an entry-like heading, or leave a code fence open?)"
        )
    return new, new.rfind(block.split("\n", 1)[0]), after[-1].line


def append_simple(old: str, block: str) -> tuple[str, int]:
    """`old`, known to end clean, with the simple `block` appended, parsing nothing (pinned to
    `append` by tests/test_shortcut_props.py): the new text and where the new entry starts."""
    new = edit.append(old, block)
    return new, new.rfind(block.split("\n", 1)[0])


def simple_block(block: str) -> bool:
    """True when `block` reads as one entry that leaves the journal's end clean, by its lines alone.

    Conservative: anything else (a body people typed, an entry-like line inside) is False and
    takes the full check. tests/test_shortcut_props.py pins it to the full parse."""
    lines = block.split("\n")
    if lines[-1] != "" or not _dated_heading(lines[0]):
        return False
    fence: str | None = None
    for line in lines[1:-1]:
        if fence is not None:
            if line == fence:
                fence = None
            elif _FENCE_LIKE.fullmatch(line) and len(line.strip(" ")) >= len(fence):
                return False  # it would close the fence where the block does not mean it to
            continue
        if not line:
            continue
        if line.startswith("<!--") and line.endswith("-->") and "-->" not in line[4:-3] and len(line) >= 7:
            continue
        opened = _FENCE_OPEN.fullmatch(line)
        if opened is None:
            return False
        fence = opened[1]
    return fence is None


def restarts_reader(block: str) -> bool:
    """True when the block's first line is a heading the journal reader restarts at
    (`markdown.journal.self_dated`): parsing from there reads the rest as a full parse does.

    The anchor is only ever put on such a heading: on the new entry when its heading is one, else
    on the last one above it. A `## 12:00 UTC` or `## Notes` entry reads one way from its own
    heading and another in the whole file (the date of a `### 13:00 UTC` typed below it)."""
    first = block[: block.find("\n")] if "\n" in block else block
    if _dated_heading(first):
        return True  # what loopkit writes: no parser for it
    from loopkit.markdown.journal import self_dated

    return self_dated(first)


def _dated_heading(line: str) -> bool:
    """`line` is a heading as loopkit writes it, on a day that exists (`2026-02-30` reads as no
    time at all, so that heading would restart nothing)."""
    if not _SIMPLE_HEADING.fullmatch(line):
        return False
    from loopkit.markdown import stamps

    stamp = stamps.read(line[3:])
    return stamp is not None and stamp.at is not None


def last_restart_scanned(text: str) -> int:
    """Where parsing may start without an anchor (the first add after a clone): the last heading
    the reader restarts at, among the column-0 headings the one-pass scan (markdown/toplevel.py)
    knows to start a top-level block. It may be earlier than the full parse's (a heading the scan
    hands to markdown-it): then only more text is checked. When the scan cannot tell, or finds
    none, one full parse answers (`last_restart`)."""
    from loopkit.markdown.journal import self_dated
    from loopkit.markdown.toplevel import Undecided, is_heading_start, scan

    data = text.encode("utf-8", "surrogatepass")
    try:
        top = scan(data)
    except Undecided:
        return last_restart(text) or 0
    if top.end < len(data):
        return last_restart(text) or 0  # a list that swallows the rest: nothing is known
    for at in reversed(top.starts):
        stop = data.find(b"\n", at)
        line = data[at : len(data) if stop < 0 else stop].decode("utf-8", "surrogatepass")
        if is_heading_start(data, at) and self_dated(line.rstrip("\r")):
            return len(data[:at].decode("utf-8", "surrogatepass"))
    return last_restart(text) or 0


def last_restart(text: str, start: int = 0) -> int | None:
    """One parse from `start` (0, or a heading the reader restarts at): where the last heading
    the reader restarts at is, None when there is none."""
    from loopkit.markdown.journal import last_self_dated

    found = last_self_dated(text[start:])
    return None if found is None else start + found


def _open_fence(tail: str) -> str | None:
    """The closing fence the tail needs, when its last code block runs to the end of the text."""
    from loopkit.markdown.tokens import fence_unclosed, parse

    for token in reversed(parse(tail)):
        if token.type == "fence" and token.level == 0:
            return token.markup[0] * max(len(token.markup), 3) if fence_unclosed(token, tail) else None
    return None
