"""loopkit.records.status: any text in gives records placed and read back, or a LoopkitError;
what it writes parses to the old records plus the new one; no byte outside the edit changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from record_strategies import ANY_TEXT, NOTES, SETTINGS, inserted

from loopkit.errors import BadInput, LoopkitError
from loopkit.markdown.edit import newline_of, split_lines
from loopkit.records import status
from loopkit.render import oneline, render

NAME = "STATUS-px.md"
BASE = render(
    "status.md.j2",
    phase="px",
    title="Proxy gate",
    plan=None,
    milestones=[{"id": "M1", "title": "First", "probes": [{"id": "P1", "title": "answers"}]},
                {"id": "M2", "title": "Second", "probes": []}],
)  # fmt: skip


def record(kind: str, milestone: str | None, note: str) -> str:
    return render(
        "status-record.md.j2", kind=kind, milestone=milestone, at="2026-06-13T13:44:00Z", by="builder",
        ref_kind="head", ref="abcdef1", code=None, claim_id=None, note=oneline(note),
    )  # fmt: skip


def shape(text: str) -> list[tuple[str, list[str]]]:
    return [(s.id, [r.text for r in s.records]) for s in status.parse(text).sections]


@SETTINGS
@given(ANY_TEXT, st.sampled_from(["M1", "M2", "M9"]), NOTES)
def test_insert_any_text(text: str, milestone: str, note: str) -> None:
    line = record("CLAIM", milestone, note)
    try:
        new = status.insert(text, milestone, line, name=NAME)
    except LoopkitError:
        return
    assert inserted(text, new).strip() == line.strip()
    want = [(sid, [*texts, line.strip()[2:]] if sid == milestone else texts) for sid, texts in shape(text)]
    assert shape(new) == want
    assert status.parse(new).done_line is None or status.parse(text).done_line is not None


@SETTINGS
@given(ANY_TEXT, st.sampled_from([None, "M1", "M9"]), NOTES)
def test_instructions_any_text(text: str, milestone: str | None, body: str) -> None:
    block = render("status-instructions.md.j2", at="2026-06-13T13:44:00Z", by="orchestrator",
                   milestone=milestone, body=body or "do it")  # fmt: skip
    try:
        new = status.insert_note(text, milestone, block, name=NAME)
    except LoopkitError:
        return
    assert inserted(text, new).strip() == block.replace("\n", newline_of(text)).strip()
    assert shape(new) == shape(text)


@SETTINGS
@given(ANY_TEXT, NOTES)
def test_done_any_text(text: str, summary: str) -> None:
    line = record("DONE", None, "M1 PASS " + summary)
    try:
        new = status.append_done(text, render("status-done.md.j2", record=line.rstrip("\n")), line, name=NAME)
    except LoopkitError:
        return
    assert new.startswith(text)
    done = status.parse(new).done
    assert done is not None and done.text == line.strip()[2:]
    assert shape(new) == shape(text)


@SETTINGS
@given(ANY_TEXT, st.lists(st.sampled_from(["M3", "M4", "x.y"]), unique=True, min_size=1), NOTES)
def test_sections_any_text(text: str, ids: list[str], title: str) -> None:
    block = render(
        "status-sections.md.j2", milestones=[{"id": i, "title": title or i, "probes": []} for i in ids]
    )
    try:
        new = status.append_sections(text, block, ids, name=NAME)
    except LoopkitError:
        return
    assert new.startswith(text)
    assert shape(new) == shape(text) + [(i, []) for i in ids]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["CLAIM", "PASS", "FAIL"]), st.sampled_from(["M1", "M2"]),
                          st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30)),
                max_size=6),
       st.booleans())  # fmt: skip
def test_records_loopkit_writes_read_back(records: list[tuple[str, str, str]], crlf: bool) -> None:
    """On a STATUS loopkit wrote (LF or CRLF), every record is placed: write → parse → same records,
    and each record's line is the line git blame counts."""
    text = BASE.replace("\n", "\r\n") if crlf else BASE
    want: dict[str, list[str]] = {"M1": [], "M2": []}
    for kind, milestone, note in records:
        line = record(kind, milestone, note)
        text = status.insert(text, milestone, line, name=NAME)
        want[milestone].append(line.strip()[2:])
    assert dict(shape(text)) == want
    lines = split_lines(text)
    for start, end, key, section in status.spans(text):
        assert end == start + 1 and key is None and section in ("M1", "M2")
        assert lines[start].rstrip("\r\n")[2:] in want[section]
    assert len(status.spans(text)) == len(records)


def test_a_record_that_would_not_read_back_is_never_written() -> None:
    """A section ending in an unclosed fence would swallow the record: refused, nothing returned."""
    text = BASE.replace("## M2", "```\n\n## M2")
    with pytest.raises(BadInput, match="would not read back"):
        status.insert(text, "M1", record("CLAIM", "M1", "swallowed?"), name=NAME)
