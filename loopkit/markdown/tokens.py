"""One shared block-level CommonMark parser.

loopkit reads structure (headings, fences, HTML comments, paragraphs) and the raw source of
each paragraph line; it never needs rendered inline HTML. So the inline phase is switched off:
parsing costs what markdown-it's block phase costs, and titles keep the bytes people typed.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


# the core rules that fill in and join inline tokens: loopkit reads each paragraph's raw source
_UNUSED = ["inline", "text_join"]


@cache
def parser() -> MarkdownIt:
    """markdown-it-py as it ships, with the rules loopkit never needs switched off through its own
    API (`disable`): nothing of it is replaced or patched (docs/decisions.md: a patched block loop
    once made a long journal quadratic)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable(_UNUSED)


_LONE_CR = re.compile(r"\r(?!\n)")
LONE_CR_MARK = "\u240d"  # ␍


def parse(text: str) -> list[Token]:
    """Tokens whose line numbers are git's: a line ends at `\n` only.

    CommonMark also ends a line at a lone `\r` (pasted progress output: `10%\r50%`), which would
    shift every later line number away from what git blame and loopkit's edits count. A lone CR
    is shown as ␍ instead; CRLF is untouched.
    """
    if "\r" in text:
        text = _LONE_CR.sub(LONE_CR_MARK, text)
    with collector_paused():
        return parser().parse(text)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a text is parsed (and read), then resumed.

    A parse makes a few dozen objects per line (tokens, their lists and dicts), none in a cycle, so
    a collection finds nothing to free; but each one walks every object alive, and as the tokens
    pile up the full ones cost a third of a 4 MB parse and grow faster than the text. Reference
    counting frees everything as before. A caller that paused it already keeps it paused.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def has_binary(text: str) -> int | None:
    """The 1-based line of the first NUL or replacement character (undecodable bytes), if any."""
    for marker in ("\x00", "\ufffd"):
        at = text.find(marker)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return None


def line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def fence_unclosed(token: Token, text: str, total: int | None = None) -> bool:
    """A fence that runs to the end of the text because nothing closed it.

    Pass `total` (line_count(text)) when asking about many tokens: only a fence reaching the last
    line can be unclosed, and that integer test keeps a whole parse linear.
    """
    if token.type != "fence" or token.map is None:
        return False
    if token.map[1] < (line_count(text) if total is None else total):
        return False
    if token.map[1] - token.map[0] < 2:
        return True
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1].strip()
    char = token.markup[0]
    return not (last and set(last) == {char} and len(last) >= len(token.markup))


# `---`, up to 200 lines that read as YAML (`key: value`, indented, `- item`, `# comment`), `---`
_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n"
    r"(?:(?:[ \t#-][^\n]*|[\w.-]+[ \t]*:[^\n]*|[ \t\r]*)\n){0,200}?"
    r"(?:---|\.\.\.)[ \t]*\r?(?:\n|\Z)"
)
FRONT_MATTER_LINES = 203  # the most lines front matter may span, fences included


def front_matter_lines(text: str) -> int:
    """How many lines of YAML front matter (`---` … `---` at the very top) the text starts with."""
    if not text.startswith("---"):
        return 0
    match = _FRONT_MATTER.match(text)
    return 0 if match is None else match.group().count("\n") + (0 if match.group().endswith("\n") else 1)
