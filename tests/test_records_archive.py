"""loopkit.records.archive: an archived message reads back as exactly that message, whatever it
holds; any text parses or is refused with a LoopkitError; the file is written as rendered."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from record_strategies import ANY_TEXT, SETTINGS, messages

from loopkit.errors import BadInput, LoopkitError
from loopkit.markdown.inbox import encode
from loopkit.model import Message
from loopkit.records import archive
from loopkit.render import render
from loopkit.services.inbox import quote


def rendered(message: Message) -> str:
    return render(
        "archive-message.md.j2", message=message, consumed_at="2026-06-13T14:00:00Z", consumed_by="builder",
        comment=encode(message), quoted=quote(message.body),
    )  # fmt: skip


@SETTINGS
@given(messages())
def test_archive_reads_back(message: Message) -> None:
    text = rendered(message)
    assert archive.check(text, message, name="a.md") == text
    assert [replace(m, line=0) for m in archive.parse(text)] == [replace(message, line=0)]
    assert [key for _, _, key, _ in archive.spans(text)] == ["M\0" + message.id]


@SETTINGS
@given(ANY_TEXT, messages())
def test_any_text(text: str, message: Message) -> None:
    archive.parse(text)
    archive.spans(text)
    try:
        assert archive.check(text, message, name="a.md") == text
    except LoopkitError:
        return
    assert [m.id for m in archive.parse(text)] == [message.id]


def test_an_archive_that_lost_its_message_is_never_written() -> None:
    message = Message(id="20260613T134400Z-buil-000000000001", to="builder", sender="adversary",
                      phase="px", at=None, subject="s", body="b")  # fmt: skip
    other = replace(message, body="another body")
    with pytest.raises(BadInput, match="would not read back"):
        archive.check(rendered(other), message, name="a.md")
