"""Archived messages: one file per consumed message (the message's fields, its comment and its
quoted body), written once and never changed; its identity is the message's id (`spans`, the
inbox's)."""

from __future__ import annotations

from loopkit.model.inbox import Message
from loopkit.records import inbox
from loopkit.records.inbox import spans

__all__ = ["check", "parse", "spans"]


def parse(text: str) -> list[Message]:
    """The messages an archive file holds (its field list, typed as prose, aside)."""
    return [p.message for p in inbox.parse(text, role="unknown") if not inbox.typed_by_hand(p.message)]


def check(text: str, message: Message, *, name: str) -> str:
    """The rendered archive file of `message`, checked to read back as exactly that message."""
    inbox.check(text, [message], role="unknown", name=name, what="the archived message", typed=False)
    return text
