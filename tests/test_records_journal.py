"""loopkit.records.journal: an entry appended to any text reads back as one more entry, or the
append is a LoopkitError; no byte of the old text changes; the merge's spans cut any text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from record_strategies import ANY_TEXT, NOTES, SETTINGS

from loopkit.errors import BadInput, LoopkitError
from loopkit.markdown.edit import split_lines
from loopkit.markdown.journal import parse_journal
from loopkit.records import journal
from loopkit.render import render

NAME = "JOURNAL-px.md"
BODIES = st.one_of(NOTES, st.sampled_from(["```sh\nopen", "## 2026-06-13T14:00Z — inner entry", "- a\n- b"]))


def entry(title: str, body: str) -> str:
    return render("journal-entry.md.j2", at="2026-06-13T13:44Z", title=title, body=body.strip("\n"))


@SETTINGS
@given(ANY_TEXT, st.text(st.characters(blacklist_characters="\r\n"), min_size=1, max_size=20), BODIES)
def test_append_any_text(text: str, title: str, body: str) -> None:
    block = entry(title, body)
    try:
        new, start, line = journal.append(text, 0, block, name=NAME)
    except LoopkitError:
        return
    assert new.startswith(text)
    before = [journal.key(e) for e in parse_journal(text).entries]
    after = parse_journal(new).entries
    assert [journal.key(e) for e in after] == before + [journal.key(e) for e in parse_journal(block).entries]
    assert after[-1].line == line
    assert new[start:].startswith(block.split("\n", 1)[0])


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["probe P1 PASS", "notes", "a # b"]), NOTES), min_size=1, max_size=5),
       st.booleans())  # fmt: skip
def test_entries_loopkit_writes_read_back(entries: list[tuple[str, str]], crlf: bool) -> None:
    """On a journal loopkit started, a titled entry with a plain body is always appended and read
    back: write → parse → same entries."""
    text = render("journal.md.j2", kind="JOURNAL", phase="px", role="builder")
    text = text.replace("\n", "\r\n") if crlf else text
    for title, body in entries:
        text, _, _ = journal.append(
            text, 0, entry(title, body.replace("`", "'").replace("#", "+")), name=NAME
        )
    assert [e.title for e in parse_journal(text).entries] == [t for t, _ in entries]


@SETTINGS
@given(ANY_TEXT)
def test_spans_any_text(text: str) -> None:
    total = len(split_lines(text))
    spans = journal.spans(text)
    ends = [0]
    for start, end, key, section in spans:
        assert ends[-1] <= start < end <= total and key is None and section is None
        ends.append(end)


def test_an_entry_that_would_not_read_back_is_never_written() -> None:
    with pytest.raises(BadInput, match="would not read back as one entry"):
        journal.append("# JOURNAL\n", 0, entry("two", "## 2026-06-13T14:00Z — in the body"), name=NAME)
