"""loopkit.markdown.edit: appends and inserts keep every other byte, the newline style and the
final-newline state; a journal entry appended the way loopkit.services.journals does reads back."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from loopkit.markdown.edit import append, insert_after_line, newline_of, split_lines
from loopkit.markdown.journal import parse_journal
from loopkit.model import JournalEntry
from loopkit.render import oneline, render
from loopkit.services.journals import heading_safe

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -----------------------------------------------------------------------------------

LINE_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n")
line = st.text(LINE_CHARS, max_size=30)
MD_LINE = st.one_of(
    line,
    st.sampled_from(
        ["", "```", "~~~", "## heading", "# title", "- item", "> quote", "    code", "---", "   "]
    ),
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    """LF, CRLF, final newline or not, empty: the files people leave behind."""
    lines = draw(st.lists(MD_LINE, max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())
    text = newline.join(lines)
    if lines and final:
        text += newline
    return text


any_text = st.one_of(texts(), st.text(max_size=200))
BLOCK_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\r")
# what loopkit inserts: rendered records and entries, never an empty block
blocks = (
    st.text(BLOCK_CHARS, min_size=1, max_size=80)
    .filter(lambda s: bool(s.strip()))
    .map(lambda s: s.rstrip("\n") + "\n")
)


def style(text: str) -> str | None:
    """The one newline style of a text, or None when it mixes LF and CRLF (or has no line break)."""
    crlf = text.count("\r\n")
    lf = text.count("\n")
    if lf == 0:
        return None
    if crlf == lf:
        return "\r\n"
    return "\n" if crlf == 0 else None


def appended_style_ok(added: str, newline: str) -> bool:
    if newline == "\r\n":
        return added.count("\n") == added.count("\r\n")
    return "\r\n" not in added


# -- split_lines / newline_of ---------------------------------------------------------------------


@SETTINGS
@given(any_text)
def test_split_lines(text: str) -> None:
    lines = split_lines(text)
    assert "".join(lines) == text
    assert all(piece.endswith("\n") and "\n" not in piece[:-1] for piece in lines[:-1])
    if lines:
        assert "\n" not in lines[-1][:-1]
    expected = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    assert len(lines) == expected
    assert "" not in lines


@SETTINGS
@given(any_text)
@example("a\r\nb\n")
@example("\r\n")
@example("\n\r\n")
def test_newline_of(text: str) -> None:
    at = text.find("\n")
    expected = "\r\n" if at > 0 and text[at - 1] == "\r" else "\n"
    assert newline_of(text) == expected
    if style(text) is not None:
        assert newline_of(text) == style(text)


# -- append ---------------------------------------------------------------------------------------


@SETTINGS
@given(any_text, blocks)
@example("", "x\n")
@example("a", "x\n")
@example("a\r\nb", "x\ny\n")
@example("a\r\n\r\n", "x\n")
@example("\n", "x\n")
def test_append_keeps_every_byte(text: str, block: str) -> None:
    result = append(text, block)
    if not text:
        assert result == block
        return
    newline = newline_of(text)
    assert result.startswith(text), "the original bytes are a prefix"
    added = result[len(text) :]
    assert appended_style_ok(added, newline), repr(added)
    assert result.endswith("\n") == text.endswith("\n"), "final-newline state"
    converted = block.replace("\n", newline)
    tail = converted if text.endswith("\n") else converted[: -len(newline)]
    assert added.endswith(tail)
    separator = added[: len(added) - len(tail)]
    assert separator.replace("\r\n", "").replace("\n", "") == "", repr(separator)
    if text.strip():  # one blank line between the old text and the block, not more
        assert re.search(r"\n\r?\n$", text + separator), repr(text + separator)
        assert separator.count("\n") <= 2


@SETTINGS
@given(texts(), st.lists(blocks, min_size=1, max_size=4))
def test_repeated_appends_keep_style(text: str, more: list[str]) -> None:
    assume(text.strip())
    newline = newline_of(text)
    current = text
    for block in more:
        nxt = append(current, block)
        assert nxt.startswith(current)
        assert appended_style_ok(nxt[len(current) :], newline)
        assert nxt.endswith("\n") == text.endswith("\n")
        current = nxt
    if style(text) is not None:
        assert style(current) == style(text)


# -- insert_after_line ----------------------------------------------------------------------------


@SETTINGS
@given(texts(), blocks, st.booleans(), st.integers(0, 20))
@example("a\nb", "x\n", True, 2)
@example("a\r\nb\r\n", "x\ny\n", False, 1)
@example("", "x\n", False, 0)
def test_insert_after_line_preserves_around(text: str, block: str, blank: bool, at: int) -> None:
    lines = split_lines(text)
    at = min(at, len(lines))
    result = insert_after_line(text, at, block, blank_before=blank)
    head = "".join(lines[:at])
    tail = "".join(lines[at:])
    assert result.startswith(head), "bytes before the insertion point"
    assert result.endswith(tail), "bytes after the insertion point"
    assert len(result) > len(text)
    newline = newline_of(text)
    middle = result[len(head) : len(result) - len(tail)]
    assert appended_style_ok(middle, newline), repr(middle)
    assert block.rstrip("\n").replace("\n", newline) in middle
    if text:
        assert result.endswith("\n") == text.endswith("\n"), "final-newline state"


# -- a journal entry appended as loopkit.services.journals does it --------------------------------

SAFE_WORD = st.text(
    st.characters(
        whitelist_categories=("L", "N", "Zs", "So", "Sm", "Mn"),
        blacklist_characters="#`~<>|\\\u2028\u2029\x85",
    ),
    min_size=1,
    max_size=20,
).map(lambda s: s.strip() or "w")
TITLE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: bool(oneline(s))
)
COMMAND = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -/:.'%{}_"), min_size=1, max_size=30
).map(lambda s: s.strip() or "cmd")
OBSERVED = st.sampled_from(["200 ✓", "HTTP/2 200", "HTTP 404 ✗ FAILS", "ok", "000", "timeout ✗"])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A body that loopkit accepts (no entry-like heading, fences closed) and the evidence it holds."""
    parts: list[str] = []
    evidence: list[tuple[str, str]] = []
    for kind in draw(st.lists(st.sampled_from(["para", "fence", "quoted-heading", "bullet"]), max_size=4)):
        if kind == "para":
            parts.append(" ".join(draw(st.lists(SAFE_WORD, min_size=1, max_size=4))))
        elif kind == "fence":
            command, observed = draw(COMMAND), draw(OBSERVED)
            parts.append(f"```sh\n$ {command}\n→ {observed}\n```")
            evidence.append((command.strip(), observed))
        elif kind == "quoted-heading":
            parts.append("```md\n## 2026-06-13 — quoted, not an entry\n## loose\n# top\n```")
        else:
            parts.append(f"- plain bullet {draw(SAFE_WORD)}")
    return "\n\n".join(parts), evidence


def entry_block(title: str, body: str) -> str:
    return render(
        "journal-entry.md.j2", at="2026-06-13T13:44Z", title=heading_safe(oneline(title)), body=body
    )


def bare(entries: tuple[JournalEntry, ...]) -> list[Any]:
    return [(e.at, e.date_only, e.title, tuple(replace(x, line=0) for x in e.evidence)) for e in entries]


OLD_JOURNAL = st.sampled_from(
    [
        "",
        "# JOURNAL — phase p (Builder)\n",
        "# JOURNAL — phase p (Builder)",
        "# JOURNAL — phase p (Builder)\r\n\r\n## 2026-06-12 — old\r\n\r\ntext\r\n",
        "# JOURNAL — phase p (Builder)\n\n## 2026-06-12 — old\n\n```\ncurl a → 200 ✓\n```",
        "## 2026-06-12T10:00Z — a\n\n- `curl b` → 404 ✗\n\n## 2026-06-12T11:00Z — b\n\ntrailing spaces   \n\n\n",
        "# JOURNAL — phase p (Builder)\r\n\r\n## [2026-06-12 10:00] → old\r\n\r\nno final newline",
    ]
)


@SETTINGS
@given(OLD_JOURNAL, st.lists(st.tuples(TITLE, bodies()), min_size=1, max_size=3))
def test_appended_entries_read_back(
    old: str, new_entries: list[tuple[str, tuple[str, list[tuple[str, str]]]]]
) -> None:
    before = parse_journal(old).entries
    text = old
    for title, (body, evidence) in new_entries:
        previous = text
        text = append(text, entry_block(title, body))
        assert text.startswith(previous)
        entries = parse_journal(text).entries
        assert bare(entries[:-1]) == bare(parse_journal(previous).entries), "older entries changed"
        last = entries[-1]
        assert (last.at, last.date_only) == ("2026-06-13T13:44:00Z", False)
        assert last.title == oneline(title)
        found = [(e.command, e.observed) for e in last.evidence]
        assert found == evidence
        heading_line = split_lines(text)[last.line - 1]
        assert heading_line.startswith("## 2026-06-13T13:44Z")
    assert bare(parse_journal(text).entries[: len(before)]) == bare(before)
    assert len(parse_journal(text).entries) == len(before) + len(new_entries)
    if old:
        assert text.endswith("\n") == old.endswith("\n")
        if style(old) is not None:
            assert style(text) == style(old)
