"""loopkit.records.inbox: a message appended to any text reads back with every old message, or
the send is a LoopkitError; a consume removes exactly its messages and no other byte; the merge's
spans name loopkit's messages by id."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from record_strategies import ANY_TEXT, CTX, SETTINGS, messages

from loopkit.errors import BadInput, LoopkitError
from loopkit.markdown.edit import append as plain_append
from loopkit.markdown.edit import split_lines
from loopkit.markdown.inbox import Placed
from loopkit.model import Message
from loopkit.records import inbox
from loopkit.render import render
from loopkit.services.inbox import render_message

NAME = "BUILDER-INBOX.md"


def bare(found: list[Placed]) -> list[object]:
    return [replace(p.message, line=0) for p in found]


@SETTINGS
@given(ANY_TEXT, messages())
def test_append_any_text(text: str, message: Message) -> None:
    try:
        new = inbox.append(text, render_message(CTX, message), message, role="builder", name=NAME)
    except LoopkitError:
        return
    assert new.startswith(text)
    old = bare(inbox.parse(text, role="builder"))
    assert bare(inbox.parse(new, role="builder")) == [*old, replace(message, line=0)]


@SETTINGS
@given(st.lists(messages(), min_size=1, max_size=5, unique_by=lambda m: m.id), st.booleans(), st.data())
def test_messages_loopkit_writes_read_back_and_consume_removes_only_them(
    sent: list[Message], crlf: bool, data: st.DataObject
) -> None:
    text = render("inbox.md.j2", role="builder")
    text = text.replace("\n", "\r\n") if crlf else text
    for message in sent:
        text = inbox.append(text, render_message(CTX, message), message, role="builder", name=NAME)
    placed = inbox.parse(text, role="builder")
    assert bare(placed) == [replace(m, line=0) for m in sent]
    assert [key for _, _, key, _ in inbox.spans(text)] == ["M\0" + m.id for m in sent]
    taken = data.draw(st.lists(st.sampled_from(placed), unique_by=lambda p: p.message.id))
    new = inbox.remove(text, taken, role="builder", name=NAME)
    gone = {p.message.id for p in taken}
    assert bare(inbox.parse(new, role="builder")) == [replace(m, line=0) for m in sent if m.id not in gone]
    dropped = {i for p in taken for a, b in p.ranges for i in range(a, b)}
    kept = "".join(line for i, line in enumerate(split_lines(text)) if i not in dropped)
    assert new.rstrip("\r\n") == kept.rstrip("\r\n")


@SETTINGS
@given(ANY_TEXT, st.data())
def test_remove_any_text(text: str, data: st.DataObject) -> None:
    placed = inbox.parse(text, role="builder")
    taken = data.draw(st.lists(st.sampled_from(placed), unique_by=lambda p: p.ranges)) if placed else []
    try:
        new = inbox.remove(text, taken, role="builder", name=NAME)
    except LoopkitError:
        return
    # a message is the one at its place: of two copies with one id (pasted by hand), the one taken goes
    gone = {p.ranges for p in taken}
    assert bare(inbox.parse(new, role="builder")) == [replace(p.message, line=0) for p in placed
                                                       if p.ranges not in gone]  # fmt: skip
    assert new.endswith(("\n", "\r\n"))


@SETTINGS
@given(ANY_TEXT, messages())
def test_spans_any_text(text: str, message: Message) -> None:
    text = plain_append(text, render_message(CTX, message))
    total = len(split_lines(text))
    spans = inbox.spans(text)
    for start, end, key, _ in spans:
        assert 0 <= start < end <= total and key is not None and key.startswith("M\0")


def test_a_consume_that_would_turn_a_typed_message_into_the_title_is_refused() -> None:
    """Found by the read-back: in an inbox whose title line was deleted, a `# BUILDER-INBOX` typed
    after the messages is a message from `unknown` (it blocks DONE); consuming every message above
    it would leave it first, where it reads as the title, and the typed message would silently stop
    counting. The consume is refused instead of written."""
    sent = [Message(id=f"20260613T134400Z-orch-00000000000{n}", to="builder", sender="orchestrator",
                    phase=None, at=None, subject="s", body="b") for n in (1, 2)]  # fmt: skip
    text = ""
    for message in sent:
        text = plain_append(text, render_message(CTX, message))
    text = plain_append(text, "# BUILDER-INBOX\n")
    placed = inbox.parse(text, role="builder")
    assert [p.message.sender for p in placed] == ["orchestrator", "orchestrator", "unknown"]
    with pytest.raises(BadInput, match="would not read back"):
        inbox.remove(text, placed[:2], role="builder", name=NAME)


def test_of_two_copies_of_a_message_a_consume_removes_the_one_taken() -> None:
    """A message pasted twice by hand has one id twice: a message is the one at its place."""
    message = Message(id="20260613T134400Z-orch-000000000001", to="builder", sender="orchestrator",
                      phase=None, at=None, subject="s", body="b")  # fmt: skip
    block = render_message(CTX, message)
    text = plain_append(plain_append("# BUILDER-INBOX\n", block), block)
    first, second = inbox.parse(text, role="builder")
    assert first.message.id == second.message.id
    new = inbox.remove(text, [second], role="builder", name=NAME)
    assert bare(inbox.parse(new, role="builder")) == [replace(first.message, line=0)]
