"""20,000 generated inputs across every parser: no exception, and everything they give as JSON is JSON.

Split over the parsers (journal full parse, the reader from the end, STATUS, inbox, the JSON comment
decoder) so that the whole file runs in well under a minute. Inputs mix any text, Markdown-shaped
lines, and loopkit's own comments holding values JSON has no portable form for (`1e400`, `NaN`,
`Infinity`, a 400-digit integer), which must read as no record (issue 7, item 11).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.markdown import comment
from loopkit.markdown.evidence import decode_comment, record_from
from loopkit.markdown.inbox import parse_inbox
from loopkit.markdown.journal import parse_journal, probe_records_from_end
from loopkit.markdown.status import parse_status
from loopkit.workspace import read_mapped

# 20,000 in all
JOURNAL_N, REVERSE_N, STATUS_N, INBOX_N, COMMENT_N = 6000, 3000, 4000, 4000, 3000


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def _json(value: Any) -> None:
    json.dumps(value, allow_nan=False)


WEIRD_NUMBERS = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" * 400,
    "-" + "9" * 400,
    "1.5e308",
    "0",
]
_RECORD = (
    '{"schema_version":1,"source":"probe","phase":"px","milestone":"M1","probe":"P1","title":"t",'
    '"command":"c","observe":"stdout","observed":"200","exit":%s,"expect":["200"],"expect_not":[],'
    '"expect_exit":null,"result":"PASS","duration":%s,"at":"2026-06-13T13:44:01Z","head":null,'
    '"dirty":false,"stdout":"200","stderr":"","stdout_bytes":%s,"stderr_bytes":0}'
)
_LINES = [
    "# JOURNAL — phase px (Builder)",
    "# STATUS — phase px",
    "# BUILDER-INBOX",
    "## 2026-06-13T13:24Z — entry",
    "## 2026-05-04",
    "### 18:08 UTC — time only",
    "### ~01:10 UTC",
    "## Build #5 — 2026-03-01 18:01 UTC — x",
    "## M1 — milestone",
    "## DONE",
    "- **CLAIM** M1 @2026-06-13T12:55:00Z by builder · head " + "a" * 40 + " — note",
    "- **PASS** M1 @2026-06-13T13:00:40Z by adversary · claim " + "b" * 40,
    "- **DONE** @2026-06-13T13:47:42Z by builder — done",
    '<!-- loopkit:message {"id":"x","to":"builder","from":"o","subject":"s","body":"b","at":1e400} -->',
    '<!-- loopkit:message {"id":"x","to":"builder","from":"o","subject":"s","body":"b"} -->',
    "<!-- loopkit:probe {} -->",
    "<!-- loopkit:probe [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ -->",
    "**Timestamp**: 2026-02-10 18:27 UTC",
    "- Command: `npm test`",
    "- Output: 12 passing",
    "- `cargo fmt` (pass)",
    "- ✅ GET /health → 200 OK",
    "`curl -s x` → 200 ✓",
    "$ curl -si localhost",
    "HTTP/1.1 200 OK",
    "exit 1",
    "→ 404 ✗",
    "```",
    "~~~~",
    "   ```",
    "> quoted",
    "- item",
    "  - nested",
    "---",
    "===",
    "<div>",
    "<!--",
    "-->",
    "",
    "    indented",
    "\t\ttabbed",
    "\x00\ufffd\r",
]
_CHUNKS = [
    "`",
    "``",
    "→",
    " -> ",
    "~",
    " ",
    "\t",
    "<",
    ">",
    "#",
    "- ",
    "\r",
    "\x00",
    "é",
    "\ufffd",
    "a",
    "1",
    ":",
    "(",
    ")",
    "✓",
    "✗",
    "$ ",
    "*",
    "[",
    "]",
    "|",
    "\\",
    "{",
    "}",
    '"',
]
_WEIRD = [
    "<!-- loopkit:probe " + _RECORD % (a, b, c) + " -->"
    for a, b, c in [("1e400", "0", "0"), ("0", "NaN", "0"), ("0", "Infinity", "0"), ("0", "0", "1" * 400), ("0", "-1e400", "0"), ("0", "0.25", "3")]
]  # fmt: skip


def _expand(data: bytes) -> str:
    """Bytes drawn by hypothesis (one cheap draw, shrinks well) read as Markdown-shaped text: each
    byte picks a line, a character chunk or a record with an odd number; the first says CRLF."""
    out: list[str] = []
    for byte in data[1:]:
        if byte < len(_LINES):
            out.append(_LINES[byte] + "\n")
        elif byte < len(_LINES) + len(_WEIRD):
            out.append(_WEIRD[byte - len(_LINES)] + "\n")
        else:
            out.append(_CHUNKS[byte % len(_CHUNKS)])
    text = "".join(out)
    return text.replace("\n", "\r\n") if data[:1] and data[0] & 1 else text


with_crlf = (
    st.binary(max_size=96).map(_expand)
    | st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace"))
)


def _journal_json(text: str) -> None:
    journal = parse_journal(text, file_name="JOURNAL-px.md")
    _json(
        {
            "phase": journal.phase,
            "role": journal.role,
            "warnings": [w.to_json() for w in journal.warnings + journal.mismatches],
            "entries": [e.to_json() for e in journal.entries],
        }
    )


@_settings(JOURNAL_N)
@given(with_crlf)
def test_journal_parse_fuzz(text: str) -> None:
    _journal_json(text)


_DIR = Path(tempfile.mkdtemp(prefix="loopkit-fuzz-"))


@_settings(REVERSE_N)
@given(with_crlf)
def test_reverse_reader_fuzz(text: str) -> None:
    path = _DIR / "JOURNAL-px.md"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    fast = list(probe_records_from_end(read_mapped(path), with_lines=True))
    for record, _ in fast:
        _json(record.to_json())
    # the fast path is the full parse, whatever the input
    decoded = path.read_bytes().decode("utf-8", "replace")
    journal = parse_journal(decoded)
    edited = {w.line for w in journal.mismatches}
    assert fast == [(r, r.line in edited) for r in reversed(journal.probe_records)]


@_settings(STATUS_N)
@given(with_crlf)
def test_status_parse_fuzz(text: str) -> None:
    doc = parse_status(text)
    _json(dataclasses.asdict(doc))


@_settings(INBOX_N)
@given(with_crlf, st.none() | st.just("2026-06-13T13:44:00Z"))
def test_inbox_parse_fuzz(text: str, mtime: str | None) -> None:
    for placed in parse_inbox(text, role="builder", mtime=mtime):
        _json(placed.message.to_json())
        assert all(0 <= start < end for start, end in placed.ranges)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
payloads = (
    st.builds(lambda v: json.dumps(v, allow_nan=True), json_values)
    | st.builds(lambda a, b, c: _RECORD % (a, b, c), *([st.sampled_from(WEIRD_NUMBERS)] * 3))
    | st.text(max_size=80)
    | st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)
)


@_settings(COMMENT_N)
@given(payloads, st.sampled_from(["probe", "message"]))
def test_comment_decoder_fuzz(payload: str, kind: str) -> None:
    line = comment.prefix(kind) + payload + " -->"
    data = comment.decode(kind, line)
    if data is not None:
        _json(data)
        if kind == "probe":
            record = record_from(data, 1)
            if record is not None:
                _json(record.to_json())
                assert decode_comment(comment.encode("probe", record.stored())) is not None


def test_values_json_has_no_portable_form_make_no_record() -> None:
    for bad in WEIRD_NUMBERS[:-3]:
        for slot in range(3):
            values = ["0", "0.5", "0"]
            values[slot] = bad
            line = "<!-- loopkit:probe " + _RECORD % tuple(values) + " -->"
            journal = parse_journal("## 2026-06-13T13:44Z — M1 P1 PASS: t\n\n" + line + "\n")
            assert journal.probe_records == [], (bad, slot)
            assert any("does not hold a record" in w.message for w in journal.warnings)
    ok = "<!-- loopkit:probe " + _RECORD % ("0", "1.5e308", "0") + " -->"
    assert len(parse_journal(ok + "\n").probe_records) == 1


def test_lines_just_under_the_limit_parse_in_linear_time() -> None:
    """Not a timing goal (a loaded machine must not fail it): the cost of 8 long lines against
    1 long line, through the four readers. Linear parsing gives about 8x, quadratic 64x."""

    def cost(fill: str, count: int) -> float:
        line = (fill * (99_999 // len(fill) + 1))[:99_999]
        text = "## 2026-06-13T13:44Z — long\n" + "\n".join([line] * count) + "\n"
        path = _DIR / "JOURNAL-long.md"
        path.write_text(text, encoding="utf-8")
        started = time.process_time()
        parse_journal(text)
        parse_status(text)
        parse_inbox(text, role="builder")
        list(probe_records_from_end(read_mapped(path)))
        return time.process_time() - started

    for fill in ("a", "`", "` ", "→ ", "`a`(", "<", "#", "- ", "> ", "[", "*", " "):
        one = min(cost(fill, 1) for _ in range(2))
        eight = min(cost(fill, 8) for _ in range(2))
        assert eight < 24 * one + 0.5, (fill, one, eight)
