"""Pure parser tests: STATUS (loopkit.markdown.status) and inbox files (loopkit.markdown.inbox).

Any text parses without an exception; what loopkit writes (record lines, message blocks) reads back
to the same fields whatever the notes, subjects and bodies hold; hand-written inbox text becomes
one message from `unknown`; `remove` leaves every other byte as it was.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from record_strategies import inserted

from loopkit.errors import BadInput
from loopkit.markdown.edit import append, split_lines
from loopkit.markdown.inbox import COMMENT_PREFIX, parse_inbox, remove
from loopkit.markdown.status import parse_status
from loopkit.markdown.tokens import line_count
from loopkit.model import Message
from loopkit.render import oneline, render
from loopkit.services.inbox import render_message
from loopkit.services.loop import _record_line, insert_record

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = datetime(2026, 6, 13, 13, 44, tzinfo=UTC)

# Stand-ins for the service context: default templates, no redaction, a fixed clock.
CTX: Any = SimpleNamespace(
    workspace=SimpleNamespace(root=None),
    redactor=SimpleNamespace(redact=lambda text: text),
    now=T0,
)

MARKDOWNISH = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "# STATUS — phase px",
                "## M1 — title",
                "## M2: other",
                "## DONE",
                "## not a milestone!",
                "- **CLAIM** M1 @2026-06-13T13:44:00Z by builder · head abcdef1 — n",
                "- **PASS** M1 @2026-06-13T13:44Z by adversary · claim abcdef1",
                "- **DONE** @2026-06-13T13:44Z by builder — M1 PASS",
                "- **FAIL** M9 @2026-06-13T13:44:00Z by adversary",
                "```",
                "~~~",
                "> quote",
                "<!-- loopkit:message {} -->",
                '<!-- loopkit:message {"id":"x","to":"b","from":"c","subject":"s","body":"b"} -->',
                "<!--",
                "-->",
                "    indented",
                "",
                "\x00\ufffd",
                "text\r",
            ]
        ),
        max_size=20,
    ).map("\n".join),
)


# -- STATUS: any text -----------------------------------------------------------------------------


@SETTINGS
@given(MARKDOWNISH)
def test_parse_status_any_text(text: str) -> None:
    doc = parse_status(text)
    total = max(line_count(text), 1)
    for section in doc.sections:
        assert 1 <= section.line <= section.end or section.end == section.line - 1
        for record in section.records:
            assert record.milestone == section.id
            assert section.line < record.line <= total
    for warning in doc.warnings:
        assert isinstance(warning.message, str) and warning.line >= 0


# -- STATUS: loopkit's record lines read back ----------------------------------------------------

STATUS_BASES = [
    render(
        "status.md.j2",
        phase="px",
        title="Proxy gate",
        plan="plans/px.md",
        milestones=[
            {"id": "M1", "title": "First", "probes": [{"id": "P1", "title": "answers"}]},
            {"id": "M2", "title": "Second", "probes": []},
        ],
    ),
    # hand-written, CRLF, instructions, a fenced block inside a section, no final newline
    "# STATUS — phase px\r\n\r\n**Title:** Proxy gate\r\n\r\n## M1 — First\r\n\r\nDo the thing.\r\n\r\n"
    "```sh\r\n## not a section\r\n```\r\n\r\n- a bullet of instructions\r\n\r\n## M2 — Second\r\n\r\n"
    "Notes typed by a person, no final newline",
    "# STATUS — phase px\n\n## M1: First\n\n## M2 - Second\n",
]

NOTES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            "fix: BREAKING CHANGE ---",
            "x — y · claim abcdef1 — z",
            "ends with \\",
            "## heading-like",
            "`code` **bold** <b>html</b> <!-- c -->",
            "```",
            "line one\nline two\r\nthree",
            "  padded  ",
            "— leading dash",
            "🎉 שלום e\u0301",
        ]
    ),
)
RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["CLAIM", "PASS", "FAIL"]),
        st.sampled_from(["M1", "M2"]),
        st.integers(0, 10_000_000),
        st.sampled_from(["builder", "adversary", "orchestrator"]),
        st.one_of(st.none(), st.text("0123456789abcdef", min_size=7, max_size=40)),
        NOTES,
    ),
    min_size=1,
    max_size=5,
)


def fake_book(path: Path) -> Any:
    """insert_record reads only the STATUS path of its Book."""
    return SimpleNamespace(status_path=path)


def ids_of(kind: str, note: str) -> tuple[str | None, str | None]:
    """A code id and a claim id for a record (claims carry both, verdicts the claim id, DONE none)."""
    import hashlib

    digest = hashlib.sha1(note.encode("utf-8", "surrogatepass")).hexdigest()
    claim_id = f"20260613T134400Z-buil-{digest[:12]}"
    if kind == "CLAIM":
        return digest, claim_id
    return (None, claim_id) if kind in ("PASS", "FAIL") else (None, None)


def record_line(kind: str, milestone: str | None, at: str, by: str, ref: str | None, note: str) -> str:
    ref_kind = None if ref is None else ("head" if kind == "CLAIM" else "claim")
    code, claim_id = ids_of(kind, note)
    return _record_line(
        kind=kind, milestone=milestone, at=at, by=by, ref_kind=ref_kind, ref=ref, note=note, ctx=CTX,
        code=code, claim_id=claim_id,
    )  # fmt: skip


@SETTINGS
@given(st.sampled_from(STATUS_BASES), RECORDS)
@example(STATUS_BASES[1], [("CLAIM", "M2", 0, "builder", "abcdef1", "after no final newline")])
@example(STATUS_BASES[0], [("PASS", "M1", 0, "adversary", None, "\x00nul")])
def test_status_records_read_back(
    base: str, records: list[tuple[str, str, int, str, str | None, str]]
) -> None:
    expected: dict[str, list[tuple[Any, ...]]] = {"M1": [], "M2": []}
    text = base
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "STATUS-px.md"
        for kind, milestone, seconds, by, ref, note in records:
            at = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = record_line(kind, milestone, at, by, ref, note)
            assert line.count("\n") == 1 and line.endswith("\n")
            path.write_bytes(text.encode("utf-8"))
            try:
                new = insert_record(fake_book(path), milestone, line)
            except BadInput:
                # refusing is only acceptable for what a Markdown parser cannot keep (NUL bytes)
                assert "\x00" in note, f"insert_record refused {kind} {milestone} with note {note!r}"
                continue
            added = inserted(text, new)
            assert added.strip() == line.strip(), repr(added)
            assert new.endswith("\n") == text.endswith("\n")
            text = new
            code, claim_id = ids_of(kind, note)
            ids = (code, claim_id if kind == "CLAIM" else None, claim_id if kind != "CLAIM" else None)
            expected[milestone].append((kind, milestone, at, by, ref, oneline(note), *ids))
    doc = parse_status(text)
    got = {
        s.id: [(r.kind, r.milestone, r.at, r.by, r.ref, r.note, r.code, r.id, r.claim_id) for r in s.records]
        for s in doc.sections
    }
    assert got == expected
    lines = split_lines(text)
    for record in doc.records:
        assert lines[record.line - 1].rstrip("\r\n") == "- " + record.text


@SETTINGS
@given(st.sampled_from(STATUS_BASES), st.text(max_size=40))
def test_done_record_reads_back(base: str, summary: str) -> None:
    headline = "M1+M2 PASS" + (f", {oneline(summary)}" if oneline(summary) else "")
    record = record_line("DONE", None, "2026-06-13T13:44:00Z", "builder", None, headline)
    new = append(base, render("status-done.md.j2", record=record.rstrip("\n")))
    assert new.startswith(base)
    doc = parse_status(new)
    before = parse_status(base)
    assert [s.records for s in doc.sections] == [s.records for s in before.sections]
    assume("\x00" not in summary)
    assert doc.done is not None
    assert (doc.done.kind, doc.done.milestone, doc.done.at, doc.done.by) == (
        "DONE",
        None,
        "2026-06-13T13:44:00Z",
        "builder",
    )
    assert doc.done.note == oneline(headline)


LONE_CR_STATUS = (
    "# STATUS — phase px\n\n## M1 — First\n\nProgress pasted from a terminal: 10%\r50%\r100%\n\n"
    "- **CLAIM** M1 @2026-06-13T13:44:00Z by builder · head abcdef1\n"
    "- **PASS** M1 @2026-06-13T13:50:00Z by adversary · claim 1234567\n\n## M2 — Second\n\ntext\n"
)


def test_record_lines_are_the_lines_git_blame_counts() -> None:
    """Provenance blames each record's line; git counts lines at LF only, so a lone CR typed by a
    person (pasted progress output) must not shift the line loopkit reports for later records."""
    doc = parse_status(LONE_CR_STATUS)
    lines = split_lines(LONE_CR_STATUS)
    assert [(r.kind, r.line) for r in doc.records] == [("CLAIM", 7), ("PASS", 8)]
    for record in doc.records:
        assert lines[record.line - 1] == "- " + record.text + "\n"
    [m1, m2] = doc.sections
    assert (m1.line, m2.line) == (3, 10)


def test_record_inserted_after_a_lone_cr() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "STATUS-px.md"
        path.write_bytes(LONE_CR_STATUS.encode("utf-8"))
        line = record_line("CLAIM", "M1", "2026-06-13T14:00:00Z", "builder", "fedcba9", "again")
        new = insert_record(fake_book(path), "M1", line)
    assert inserted(LONE_CR_STATUS, new).strip() == line.strip()
    assert [r.note for r in parse_status(new).section("M1").records] == ["", "", "again"]  # type: ignore[union-attr]


# -- inbox: any text ------------------------------------------------------------------------------


@SETTINGS
@given(MARKDOWNISH, st.sampled_from(["builder", "adversary", "orchestrator"]))
def test_parse_inbox_any_text(text: str, role: str) -> None:
    placed = parse_inbox(text, role=role)
    total = len(split_lines(text))
    seen: set[int] = set()
    for p in placed:
        for start, end in p.ranges:
            assert 0 <= start < end <= total
            assert not seen & set(range(start, end)), "two messages claim the same line"
            seen |= set(range(start, end))
    assert [p.message.line for p in placed] == sorted(p.message.line for p in placed)
    assert sum(p.message.sender == "unknown" for p in placed) <= 1
    # consuming everything found leaves no message behind
    left = remove(text, [r for p in placed for r in p.ranges])
    assert parse_inbox(left, role=role) == []


@SETTINGS
@given(st.text(max_size=300), st.sampled_from(["builder", "adversary"]), st.booleans())
@example("please re-run P1 before claiming\n", "builder", True)
@example("  \n# BUILDER-INBOX\n", "builder", False)
def test_hand_written_inbox_is_one_unknown_message(text: str, role: str, titled: bool) -> None:
    assume(COMMENT_PREFIX not in text)
    if titled:
        text = f"# {role.upper()}-INBOX\n\n" + text
    placed = parse_inbox(text, role=role)
    lines = split_lines(text)
    content = [i for i, raw in enumerate(lines) if raw.strip() and not (titled and i == 0)]
    if not content:
        assert placed == []
        return
    assert len(placed) == 1
    message = placed[0].message
    assert (message.sender, message.to, message.phase) == ("unknown", role, None)
    assert message.body.strip() and message.body in text
    for i in content:
        assert lines[i].strip("\r\n").strip() in message.body
    assert remove(text, list(placed[0].ranges)).strip() in ("", f"# {role.upper()}-INBOX")


# -- inbox: loopkit's messages read back ----------------------------------------------------------

TRICKY_BODIES = [
    "```python\nunclosed = True",
    "## 2026-06-13 — looks like an entry\n## M1 — looks like a section",
    '<!-- loopkit:message {"id":"fake","to":"builder","from":"x","subject":"s","body":"b"} -->',
    "-->\n<!--\n--",
    "> already quoted\n>\n> > nested",
    "    indented code\n\n\n\ntrailing blank lines inside",
    "line with CRLF\r\nnext",
    "progress 10%\r20%\r100%\n## after a lone CR",
    "~~~\n```\n",
    "",
]
SUBJECTS = st.one_of(
    st.text(max_size=40), st.sampled_from(["claim M1 — ready", "## sub", "<!-- x -->", "a\nb"])
)
BODIES = st.one_of(st.text(max_size=200), st.sampled_from(TRICKY_BODIES))
MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["builder", "adversary", "orchestrator"]),
        st.one_of(st.none(), st.sampled_from(["px", "q.2"])),
        SUBJECTS,
        BODIES,
    ),
    min_size=1,
    max_size=4,
)


def message(index: int, to: str, sender: str, phase: str | None, subject: str, body: str) -> Message:
    """As services.inbox.build_message makes one (without redaction)."""
    body = body.strip("\n")
    clean = oneline(subject) or oneline(body.split("\n", 1)[0])[:72] or "(no subject)"
    at = T0 + timedelta(seconds=index)
    return Message(
        id=f"{at.strftime('%Y%m%dT%H%M%SZ')}-{sender[:4]}-{index:012x}",
        to=to,
        sender=sender,
        phase=phase,
        at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        subject=clean,
        body=body,
    )


def build_inbox(to: str, messages: list[Message], *, newline: str = "\n") -> str:
    text = render("inbox.md.j2", role=to).replace("\n", newline)
    for m in messages:
        text = append(text, render_message(CTX, m))
    return text


def bare(placed: list[Any]) -> list[Message]:
    return [replace(p.message, line=0) for p in placed]


@SETTINGS
@given(MESSAGES, st.sampled_from(["builder", "adversary", "orchestrator"]))
def test_inbox_messages_read_back(specs: list[tuple[str, str | None, str, str]], to: str) -> None:
    messages = [
        message(i, to, sender, phase, subject, body) for i, (sender, phase, subject, body) in enumerate(specs)
    ]
    text = build_inbox(to, messages)
    assert bare(parse_inbox(text, role=to)) == messages


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_inbox_tricky_body_then_more_messages(body: str) -> None:
    """A tricky body must not swallow or shift the messages after it; removing it keeps theirs."""
    messages = [
        message(0, "builder", "adversary", "px", "first", "plain"),
        message(1, "builder", "orchestrator", "px", "tricky", body),
        message(2, "builder", "adversary", None, "last", "after the tricky one"),
    ]
    for newline in ("\n", "\r\n"):
        text = build_inbox("builder", messages, newline=newline)
        placed = parse_inbox(text, role="builder")
        assert bare(placed) == messages, newline
        left = remove(text, list(placed[1].ranges))
        assert bare(parse_inbox(left, role="builder")) == [messages[0], messages[2]]


@SETTINGS
@given(MESSAGES, st.data())
def test_remove_keeps_every_other_byte(specs: list[tuple[str, str | None, str, str]], data: Any) -> None:
    messages = [message(i, "builder", s, p, subj, b) for i, (s, p, subj, b) in enumerate(specs)]
    hand = data.draw(st.sampled_from(["", "please also look at P2\n", "- a note\n- typed by hand\n"]))
    text = build_inbox("builder", messages)
    if hand:
        text = append(text, hand)
    placed = parse_inbox(text, role="builder")
    ours = [p for p in placed if p.message.sender != "unknown"]
    assert [p.message.id for p in ours] == [m.id for m in messages]
    chosen = data.draw(st.lists(st.sampled_from(ours), unique_by=lambda p: p.message.id))
    ranges = [r for p in chosen for r in p.ranges]
    left = remove(text, ranges)
    drop = {i for start, end in ranges for i in range(start, end)}
    lines = split_lines(text)
    assert left == "".join(raw for i, raw in enumerate(lines) if i not in drop)
    kept_ids = [m.id for m in messages if m.id not in {p.message.id for p in chosen}]
    after = parse_inbox(left, role="builder")
    assert [p.message.id for p in after if p.message.sender != "unknown"] == kept_ids
    if hand:
        assert hand.strip() in left
        [unknown] = [p.message for p in after if p.message.sender == "unknown"]
        assert unknown.body == hand.strip("\n")


@pytest.mark.parametrize("separator", ["\n", ""], ids=["after-a-blank-line", "right-after-the-quote"])
def test_hand_text_typed_after_a_message_is_its_own_message(separator: str) -> None:
    """`echo 'note' >> BUILDER-INBOX.md`: the note must be read as a message from `unknown`, not
    folded into the loopkit message above it (consuming that one would then delete the note)."""
    first = message(0, "builder", "adversary", "px", "M1 FAIL", "P1 still 404")
    text = build_inbox("builder", [first]) + separator + "hand typed: please also rerun P2\n"
    placed = parse_inbox(text, role="builder")
    assert [p.message.sender for p in placed] == ["adversary", "unknown"]
    assert placed[0].message == replace(first, line=placed[0].message.line)
    assert placed[1].message.body == "hand typed: please also rerun P2"
    left = remove(text, list(placed[0].ranges))
    assert "hand typed: please also rerun P2" in left
