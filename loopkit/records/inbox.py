"""Inbox messages: appended by a send, removed by a consume, read back each time.

A message is its heading, its comment (the message as JSON) and its quoted body; its identity is
its id. Text typed by hand into an inbox reads as one message from `unknown`, merged as text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from loopkit.errors import BadInput
from loopkit.markdown import edit
from loopkit.markdown.inbox import Placed, parse_inbox
from loopkit.markdown.inbox import remove as remove_lines
from loopkit.model.inbox import Message
from loopkit.records import Span

parse = parse_inbox


def spans(text: str) -> list[Span]:
    """Each message loopkit wrote (hand-typed text aside), keyed by its id: the merge's identities
    (an archive file's too)."""
    found: list[Span] = []
    for placed in parse_inbox(text, role="unknown"):
        if typed_by_hand(placed.message):
            continue
        for start, end in placed.ranges[:1]:
            found.append((start, end, "M\0" + placed.message.id, None))
    return sorted(found, key=lambda span: span[0])


def typed_by_hand(message: Message) -> bool:
    return message.sender == "unknown" and message.id.startswith("hand-")


def _bare(messages: Iterable[Message]) -> list[Message]:
    return [replace(m, line=0) for m in messages]


def check(
    new: str, expected: Sequence[Message], *, role: str, name: str, what: str, typed: bool = True
) -> list[Placed]:
    """The one read-back of an inbox edit (and of an archive file): `new` holds exactly the
    `expected` messages, in order (line numbers aside; hand-typed text left out unless `typed`);
    else BadInput and nothing is written."""
    placed = [p for p in parse_inbox(new, role=role) if typed or not typed_by_hand(p.message)]
    if _bare(p.message for p in placed) != _bare(expected):
        raise BadInput(f"refusing to write {name}: {what} would not read back")
    return placed


def append(old: str, block: str, message: Message, *, role: str, name: str) -> str:
    """The inbox with the rendered message `block` appended, every old message still there."""
    new = edit.append(old, block)
    before = [p.message for p in parse_inbox(old, role=role)]
    check(new, [*before, message], role=role, name=name, what="the message")
    return new


def remove(text: str, taken: Sequence[Placed], *, role: str, name: str) -> str:
    """The inbox without the `taken` messages (a consume), every other message still there, and no
    blank lines left at its end; every other byte stays as it was."""
    kept = remove_lines(text, [r for p in taken for r in p.ranges])
    new = kept.rstrip("\r\n") + edit.newline_of(text)
    gone = {p.ranges for p in taken}
    left = [p.message for p in parse_inbox(text, role=role) if p.ranges not in gone]
    check(new, left, role=role, name=name, what="the messages left")
    return new
