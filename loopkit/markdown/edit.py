"""Pure text edits that keep every other byte: the file's newline style, its final-newline state,
and everything people wrote. Blocks come in with `\\n` and are converted to the file's style."""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """Lines with their endings, broken at `\n` only, as markdown-it counts them (str.splitlines
    would also break at form feeds and Unicode separators and shift every line number)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def newline_of(text: str) -> str:
    """The file's line ending: that of its first line break (LF for a new or one-line file)."""
    at = text.find("\n")
    return "\r\n" if at > 0 and text[at - 1] == "\r" else "\n"


def _convert(block: str, newline: str) -> str:
    return block.replace("\n", newline) if newline != "\n" else block


def append(text: str, block: str) -> str:
    """`block` (ending in a newline) after `text`, separated by one blank line.

    A file that had no final newline gets none after the block either.
    """
    if not text:
        return block
    newline = newline_of(text)
    final = text.endswith("\n")
    body = text if final else text + newline
    if not body.endswith(newline * 2) and body.strip():
        body += newline
    result = body + _convert(block, newline)
    return result if final else result[: -len(newline)] if result.endswith(newline) else result


def insert_after_line(text: str, line: int, block: str, *, blank_before: bool) -> str:
    """`block` inserted after 1-based `line` (0 = at the very start)."""
    newline = newline_of(text)
    if not block.endswith("\n"):
        block += "\n"
    lines = split_lines(text)
    head = lines[:line]
    tail = lines[line:]
    if head and not head[-1].endswith(("\n", "\r")):
        # inserting after the last line of a file without a final newline
        head[-1] += newline
        converted = _convert(block, newline)
        converted = converted[: -len(newline)] if converted.endswith(newline) else converted
        prefix = newline if blank_before else ""
        return "".join(head) + prefix + converted
    prefix = newline if blank_before else ""
    converted = _convert(block, newline)
    if tail and tail[0].strip():
        converted += newline
    return "".join(head) + prefix + converted + "".join(tail)


def last_content_line(text: str, start: int, end: int) -> int:
    """The last non-blank 1-based line in [start, end], or start when all are blank."""
    lines = [line.rstrip("\r\n") for line in split_lines(text)]
    for number in range(min(end, len(lines)), start - 1, -1):
        if number >= 1 and lines[number - 1].strip():
            return number
    return start
