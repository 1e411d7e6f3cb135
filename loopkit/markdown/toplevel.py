"""Where a Markdown file's top-level blocks start, found by one cheap pass over its bytes.

The reader from the end of a journal must see exactly what a full parse sees: a probe comment
inside a fence opened anywhere above it, or inside a block quote, is not a record. Whether a line
at column 0 starts a top-level block depends on the text before it only through a few states: a
top-level fence still open, a top-level HTML block still open, or (past markdown-it's nesting
limit) a list that swallows the rest of the file. This pass tracks those states over the few
lines that can change them, found by a regular expression over the bytes. Where a line's meaning
depends on more (an indented fence that may belong to a list item, a tag that may continue a
paragraph, deeply nested containers), the region from the last known block start to the next
heading-shaped line is handed to markdown-it itself and the state after it is read from its
tokens. So the pass agrees with the full parse by construction, at the cost of a scan plus the
parse of the regions that need it (a property test pins the two together).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from loopkit.markdown.tokens import FRONT_MATTER_LINES, front_matter_lines, parse

if TYPE_CHECKING:
    import mmap

    from markdown_it.token import Token

# A line that may matter: a fence-shaped or `<` line indented up to 3 spaces, a column-0 `#`, or a
# line whose container prefix could nest deep enough to reach markdown-it's limit (tabs count 4).
_SHAPES = rb"(?: {0,3}(?:`{3}|~{3}|<)|#|[ >*+\-0-9.)]{16}|[ >*+\-0-9.)]{0,15}\t)"
_FIRST = re.compile(_SHAPES)
_NEXT = re.compile(rb"\n" + _SHAPES)
_HEADING = re.compile(rb"#{1,6}(?=[ \t]|\r?\n|\Z)")
_NEXT_HEADING = re.compile(rb"\n#{1,6}(?=[ \t]|\r?\n|\Z)")
_DEEP = re.compile(rb"[ \t>*+\-0-9.)]+")
_BLANK = re.compile(rb"^[ \t]*\r?\n", re.MULTILINE)
DEEP_COLUMNS = 16  # markdown-it stops nesting at level 20: no line below 16 columns gets there
_MARKER = "<!-- loopkit:probe "
# markdown-it's HTML block end conditions (types 1-5), as byte patterns for the scan
_HTML_CLOSE = [
    re.compile(rb"</(?:script|pre|style|textarea)>", re.IGNORECASE),
    re.compile(rb"-->"),
    re.compile(rb"\?>"),
    re.compile(rb">"),
    re.compile(rb"\]\]>"),
]


class Undecided(Exception):
    """The scan met a state it does not model: the caller reads the file the slow way."""


@dataclass
class TopLevel:
    """What one pass found: probe comment lines that are top-level blocks, and block starts."""

    candidates: list[tuple[int, int]] = field(default_factory=list)  # (byte offset, 0-based line)
    starts: list[int] = field(default_factory=list)  # byte offsets of known top-level block starts
    end: int = 0  # past this nothing is read (the end of the file, or a list that swallows it)

    def window_end(self, offset: int) -> int:
        """The first known block start after `offset`: parsing up to it reads as the full parse."""
        at = bisect_right(self.starts, offset)
        return self.starts[at] if at < len(self.starts) else self.end


def _html_sequences() -> list[tuple[re.Pattern[str], re.Pattern[str], bool]]:
    from markdown_it.rules_block.html_block import HTML_SEQUENCES

    return HTML_SEQUENCES


def _line_text(raw: bytes, at_end: bool) -> str:
    """A line as markdown-it sees it: CRLF read as LF, a lone CR shown as ␍, NUL as U+FFFD."""
    if raw.endswith(b"\r") and not at_end:
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace").replace("\r", "\u240d").replace("\x00", "\ufffd")


@lru_cache(maxsize=64)
def _closer(char: str, run: int) -> re.Pattern[bytes]:
    """The closing line of a fence opened by `run` times `char`, as markdown-it reads one."""
    return re.compile(
        rb"(?:\n|\A) {0,3}"
        + re.escape(char.encode() * run)
        + re.escape(char.encode())
        + rb"*[ \t]*(?:\r?\n|\Z)"
    )


def _fence_open(body: str) -> tuple[str, int] | None:
    char = body[:1]
    if char not in ("`", "~"):
        return None
    run = len(body) - len(body.lstrip(char))
    if run < 3 or (char == "`" and "`" in body[run:]):
        return None
    return char, run


def _fence_closes(line: str, char: str, run: int) -> bool:
    body = line.lstrip(" ")
    if len(line) - len(body) > 3 or not body.startswith(char * run):
        return False
    return not body.lstrip(char).strip(" \t")


class _Scan:
    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.raw = data
        self.size = len(data)
        self.out = TopLevel(end=self.size)
        self.sync = 0  # offset of the last known top-level block start
        self.sync_line = 0
        self.fence: tuple[str, int] | None = None

    def _front_matter(self) -> tuple[int, int]:
        """Past YAML front matter, which the full parse blanks out too."""
        if self.raw[:3] != b"---":
            return 0, 0
        end = 0
        for _ in range(FRONT_MATTER_LINES):
            end = self.raw.find(b"\n", end) + 1
            if end == 0:
                end = self.size
                break
        skip = front_matter_lines(self.raw[:end].decode("utf-8", errors="replace"))
        if not skip:
            return 0, 0
        offset = 0
        for _ in range(skip):
            offset = self.raw.find(b"\n", offset) + 1 or self.size
        return offset, skip

    def _lines(self, start: int, end: int) -> int:
        return self.raw[start:end].count(b"\n")  # mmap has no count(): a slice is bytes

    # -- lines --------------------------------------------------------------------------------
    def _line_at(self, offset: int) -> tuple[str, int]:
        eol = self.raw.find(b"\n", offset)
        end = self.size if eol < 0 else eol
        return _line_text(self.raw[offset:end], eol < 0), (self.size if eol < 0 else eol + 1)

    def _next_interesting(self, offset: int) -> int:
        if offset >= self.size:
            return -1
        if offset == 0:
            if _FIRST.match(self.raw, 0):
                return 0
            hit = _NEXT.search(self.raw, 0)
        else:
            hit = _NEXT.search(self.raw, offset - 1)
        return -1 if hit is None else int(hit.start()) + 1

    # -- the pass -----------------------------------------------------------------------------
    def run(self) -> TopLevel:
        offset, line = self._front_matter()
        self.sync, self.sync_line = offset, line
        while True:
            if self.fence is not None:
                # inside a top-level fence only its closing line matters: jump to it
                closer = _closer(*self.fence).search(self.raw, offset - 1 if offset else 0)
                if closer is None:
                    return self.out
                start = int(closer.start()) + (self.raw[closer.start() : closer.start() + 1] == b"\n")
                line += self._lines(offset, start)
                self.fence = None
                offset, line = self._line_at(start)[1], line + 1
                continue
            start = self._next_interesting(offset)
            if start < 0:
                return self.out
            line += self._lines(offset, start)
            text, after = self._line_at(start)
            step = self._one(text, start, line, after)
            if step is None:
                return self.out
            offset, line = step

    def _one(self, text: str, start: int, line: int, after: int) -> tuple[int, int] | None:
        """Handle one interesting line; the offset and line number to go on from (None: stop)."""
        if self.fence is not None:
            if _fence_closes(text, *self.fence):
                self.fence = None
            return after, line + 1
        body = text.lstrip(" ")
        indent = len(text) - len(body)
        prefix = _DEEP.match(text.encode("utf-8", "replace"))
        if prefix is not None:
            run = prefix.group()
            if len(run) + 3 * run.count(b"\t") >= DEEP_COLUMNS:
                return self._region(start, line)
        opener = _fence_open(body) if indent <= 3 else None
        if opener is not None:
            if indent:
                return self._region(start, line)
            self.fence = opener
            return after, line + 1
        if indent == 0 and _HEADING.match(self.raw, start):
            self._start(start, line)
            return after, line + 1
        if indent <= 3 and body.startswith("<"):
            return self._html(text, body, indent, start, line, after)
        return after, line + 1

    def _start(self, offset: int, line: int) -> None:
        self.sync, self.sync_line = offset, line
        if not self.out.starts or self.out.starts[-1] < offset:
            self.out.starts.append(offset)

    def _html(
        self, text: str, body: str, indent: int, start: int, line: int, after: int
    ) -> tuple[int, int] | None:
        kind = next((i for i, seq in enumerate(_html_sequences()) if seq[0].search(body)), None)
        if kind is None:
            return after, line + 1
        closes_here = kind < 5 and _html_sequences()[kind][1].search(body) is not None
        if closes_here:
            # one line, whatever holds it: nothing stays open after it
            if indent == 0 and body.startswith(_MARKER):
                self.out.candidates.append((start, line))
                self._start(start, line)
            return after, line + 1
        if indent or kind == 6:
            return self._region(start, line)
        return self._skip_html(kind, after, line + 1)

    def _skip_html(self, kind: int, offset: int, line: int) -> tuple[int, int] | None:
        """Past the end of a top-level HTML block whose first line ended before `offset`."""
        if kind >= 5:
            blank = _BLANK.search(self.raw, offset)
            if blank is None:
                return None
            return int(blank.start()), line + self._lines(offset, blank.start())
        hit = _HTML_CLOSE[kind].search(self.raw, offset)
        if hit is None:
            return None
        eol = self.raw.find(b"\n", hit.end())
        if eol < 0:
            return None
        return eol + 1, line + self._lines(offset, eol + 1)

    # -- what the scan cannot tell, markdown-it tells -----------------------------------------
    def _region(self, start: int, line: int) -> tuple[int, int] | None:
        """Parse from the last block start through the next heading-shaped line and read the
        state there from the tokens."""
        heading = _NEXT_HEADING.search(self.raw, start)
        x = self.size if heading is None else int(heading.start()) + 1
        x_end = self.size if heading is None else self._line_at(x)[1]
        base, base_line = self.sync, self.sync_line
        region = self.raw[base:x_end]
        tokens = parse(region.decode("utf-8", errors="replace"))
        offsets = _line_offsets(region, base)
        first = line - base_line  # the hard line, in region lines
        x_line = bisect_right(offsets, x) - 1 if heading is not None else None
        covering: Token | None = None
        for token in tokens:
            if token.level != 0 or token.map is None or token.nesting < 0:
                continue
            begin, end = token.map
            if begin >= first and (x_line is None or begin < x_line):
                if is_record_token(token):
                    self.out.candidates.append((offsets[begin], base_line + begin))
                self._start(offsets[begin], base_line + begin)
            if x_line is not None and begin <= x_line < end:
                covering = token
        if x_line is None:
            return None
        x_number = base_line + x_line
        after = x_end, x_number + 1
        if covering is None:
            return None  # the region ended before the heading-shaped line: the file ends there
        if covering.type == "heading_open" and covering.map and covering.map[0] == x_line:
            self._start(x, x_number)
            return after
        if covering.type == "fence":
            self.fence = (covering.markup[0], len(covering.markup))
            return after
        if covering.type == "html_block":
            first_line = covering.content.split("\n", 1)[0].lstrip(" ")
            kind = next((i for i, seq in enumerate(_html_sequences()) if seq[0].search(first_line)), None)
            if kind is None:
                raise Undecided("an HTML block of no known kind")
            x_text = self._line_at(x)[0].lstrip(" \t")
            if kind < 5 and _html_sequences()[kind][1].search(x_text):
                return after
            return self._skip_html(kind, *after)
        if covering.type in ("bullet_list_open", "ordered_list_open"):
            self.out.end = x  # a list past the nesting limit: markdown-it drops the rest of the file
            return None
        raise Undecided(f"a {covering.type} runs over a heading")


def is_record_token(token: Token) -> bool:
    """A probe record is a top-level, one-line HTML block starting `<!-- loopkit:probe `.

    Quoted (in a block quote or a list item), inside a fence, indented or spread over lines, the
    same text is something shown, not something recorded.
    """
    return (
        token.type == "html_block"
        and token.level == 0
        and token.map is not None
        and token.map[1] - token.map[0] == 1
        and token.content.startswith(_MARKER)
    )


def _line_offsets(region: bytes, base: int) -> list[int]:
    offsets = [base]
    at = region.find(b"\n")
    while at >= 0:
        offsets.append(base + at + 1)
        at = region.find(b"\n", at + 1)
    return offsets


def is_heading_start(data: bytes, offset: int) -> bool:
    """Whether a column-0 ATX heading (`#` to `######`, then a space, a tab or the line's end)
    begins at `offset`."""
    return (offset == 0 or data[offset - 1 : offset] == b"\n") and _HEADING.match(data, offset) is not None


def scan(data: bytes | mmap.mmap) -> TopLevel:
    """The top-level probe comment lines of `data` (bytes or an mmap), and its block starts."""
    return _Scan(data).run()
