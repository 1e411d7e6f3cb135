"""One shared block-level CommonMark parser.

loopkit reads structure (headings, fences, HTML comments, paragraphs) and the raw source of
each paragraph line; it never needs rendered inline HTML. So the inline phase is switched off:
parsing costs what markdown-it's block phase costs, and titles keep the bytes people typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


@cache
def parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.disable(["inline", "text_join"])
    _prefilter(md)
    return md


# The first character a block rule needs at the start of a line (after its indentation). Every rule
# tries each line, and each one announces itself to a logger before looking: on a journal that is
# most of a parse. A rule whose character is not there would return False without touching the
# state, so asking first gives the same tokens (a property test compares them with a plain parser).
_FIRST_CHARS = {
    "fence": "`~",
    "blockquote": ">",
    "hr": "*-_",
    "list": "*-+0123456789",
    "reference": "[",
    "html_block": "<",
    "heading": "#",
}


def _prefilter(md: MarkdownIt) -> None:
    from markdown_it.rules_block import StateBlock

    def wrap(rule: Callable[[StateBlock, int, int, bool], bool], chars: str) -> Callable[..., bool]:
        def first_char_first(state: StateBlock, start: int, end: int, silent: bool) -> bool:
            pos = state.bMarks[start] + state.tShift[start]
            if state.src[pos : pos + 1] not in chars or pos >= state.eMarks[start]:
                return False
            return rule(state, start, end, silent)

        return first_char_first

    def code_first(rule: Callable[[StateBlock, int, int, bool], bool]) -> Callable[..., bool]:
        def indented_first(state: StateBlock, start: int, end: int, silent: bool) -> bool:
            if state.sCount[start] - state.blkIndent < 4:
                return False
            return rule(state, start, end, silent)

        return indented_first

    def underline_first(rule: Callable[[StateBlock, int, int, bool], bool]) -> Callable[..., bool]:
        # a setext heading needs a `=` or `-` line before the paragraph's first blank line; without
        # one the rule would scan the paragraph for nothing, and the paragraph rule scans it again
        def underline_somewhere(state: StateBlock, start: int, end: int, silent: bool) -> bool:
            src, marks, shifts, ends = state.src, state.bMarks, state.tShift, state.eMarks
            line = start + 1
            while line < end and not state.isEmpty(line):
                pos = marks[line] + shifts[line]
                char = src[pos]
                if char in "=-" and not src[pos : ends[line]].rstrip(" \t").lstrip(char):
                    return rule(state, start, end, silent)
                line += 1
            return False

        return underline_somewhere

    ruler = md.block.ruler
    plain: list[tuple[str, Callable[[StateBlock, int, int, bool], bool]]] = []
    for rule in ruler.__rules__:
        if not rule.enabled:
            continue
        if rule.name in _FIRST_CHARS:
            plain.append((_FIRST_CHARS[rule.name], rule.fn))
            rule.fn = wrap(rule.fn, _FIRST_CHARS[rule.name])
        elif rule.name == "code":
            rule.fn = code_first(rule.fn)
        elif rule.name == "lheading":
            rule.fn = underline_first(rule.fn)
            plain.append(("", rule.fn))
        else:
            plain.append(("", rule.fn))
    ruler.__cache__ = None
    _dispatch(md, plain)


def _dispatch(md: MarkdownIt, plain: list[tuple[str, Callable[..., bool]]]) -> None:
    """markdown-it's block loop, trying at each block start only the rules its first character
    allows (the loop itself is markdown-it's ParserBlock.tokenize)."""
    from markdown_it.rules_block import StateBlock

    every = md.block.ruler.getRules("")
    chars = {c for wanted, _ in plain for c in wanted}
    by_char = {c: [fn for wanted, fn in plain if not wanted or c in wanted] for c in chars}
    other = [fn for wanted, fn in plain if not wanted]

    def tokenize(state: StateBlock, start_line: int, end_line: int) -> None:
        line = start_line
        max_nesting = state.md.options.maxNesting
        has_empty_lines = False
        src, marks, shifts, counts = state.src, state.bMarks, state.tShift, state.sCount
        while line < end_line:
            state.line = line = state.skipEmptyLines(line)
            if line >= end_line:
                break
            if counts[line] < state.blkIndent:
                break
            if state.level >= max_nesting:
                state.line = end_line
                break
            if counts[line] - state.blkIndent >= 4:
                rules = every
            else:
                rules = by_char.get(src[marks[line] + shifts[line]], other)
            ok = False
            for rule in rules:
                ok = rule(state, line, end_line, False)
                if ok:
                    if state.line <= line:
                        raise RuntimeError("block rule didn't increment state.line")
                    break
            if not ok:
                raise RuntimeError("none of the block rules matched")
            state.tight = not has_empty_lines
            line = state.line
            if (line - 1) < end_line and state.isEmpty(line - 1):
                has_empty_lines = True
            if line < end_line and state.isEmpty(line):
                has_empty_lines = True
                line += 1
                state.line = line

    md.block.tokenize = tokenize  # type: ignore[method-assign,assignment]


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
    return parser().parse(text)


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
