"""Inbox text → messages. loopkit owns inbox files; anything typed into one by hand is read as a
single message from `unknown`, so that it blocks DONE until someone consumes it."""

from __future__ import annotations

from dataclasses import dataclass

from loopkit.markdown import comment
from loopkit.markdown.edit import split_lines
from loopkit.markdown.tokens import parse
from loopkit.model.inbox import Message

COMMENT_PREFIX = comment.prefix("message")


@dataclass(frozen=True)
class Placed:
    """A message and the line ranges (0-based, end exclusive) it occupies in the file."""

    message: Message
    ranges: tuple[tuple[int, int], ...]


def encode(message: Message) -> str:
    return comment.encode("message", {k: v for k, v in message.to_json().items() if v is not None})


def _decode(content: str, line: int) -> Message | None:
    data = comment.decode("message", content)
    strings = ("id", "to", "from", "subject", "body")
    if data is None or not all(isinstance(data.get(k), str) for k in strings):
        return None
    return Message.from_json(data, line)


def parse_inbox(text: str, *, role: str, mtime: str | None = None) -> list[Placed]:
    """Messages in file order. Text outside loopkit's message blocks becomes one `unknown` message.

    A message block is the heading right above its comment, the comment, and the `> ` lines of its
    quoted body; a line typed after the quote belongs to no message, even where CommonMark would
    continue the quote lazily, so nothing typed by hand is ever taken for part of a message.
    """
    lines = split_lines(text)
    tokens = parse(text)
    placed: list[Placed] = []
    owned: set[int] = set()
    for index, token in enumerate(tokens):
        if token.type != "html_block" or token.level != 0 or token.map is None:
            continue
        if not token.content.startswith(COMMENT_PREFIX):
            continue
        start = token.map[0]
        message = _decode(token.content.split("\n", 1)[0], start + 1)
        if message is None:
            continue
        heading = tokens[index - 3].map if index >= 3 and tokens[index - 3].type == "heading_open" else None
        first = heading[0] if heading is not None and heading[1] == start else start
        end = start + 1
        while end < len(lines) and not lines[end].strip():
            end += 1
        if end < len(lines) and lines[end].startswith(">"):
            while end < len(lines) and lines[end].startswith(">"):
                end += 1
            while end < len(lines) and not lines[end].strip():
                end += 1
        else:
            end = start + 1
        owned.update(range(first, end))
        placed.append(Placed(message, ((first, end),)))
    loose = [i for i, raw in enumerate(lines) if i not in owned and raw.strip() and not _is_title(raw, i)]
    if loose:
        body = "".join(lines[i] for i in range(loose[0], loose[-1] + 1) if i not in owned).strip("\r\n")
        import hashlib  # lazy: only hand-typed text is named by a digest

        digest = hashlib.sha1(body.encode("utf-8", "replace")).hexdigest()[:12]
        unknown = Message(
            id=f"hand-{digest}",
            to=role,
            sender="unknown",
            phase=None,
            at=mtime,
            subject=body.strip().split("\n", 1)[0][:80],
            body=body,
            line=loose[0] + 1,
        )
        ranges = tuple((i, i + 1) for i in range(loose[0], loose[-1] + 1) if i not in owned)
        placed.append(Placed(unknown, ranges))
    return sorted(placed, key=lambda p: p.message.line)


def _is_title(raw: str, index: int) -> bool:
    return index == 0 and raw.startswith("# ") and raw.rstrip().endswith("-INBOX")


def remove(text: str, ranges: list[tuple[int, int]]) -> str:
    """The text without those lines; every other byte stays as it was."""
    drop = {i for start, end in ranges for i in range(start, end)}
    return "".join(raw for i, raw in enumerate(split_lines(text)) if i not in drop)
