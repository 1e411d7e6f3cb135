"""Journal parsing: the corpus style, hand-written variants, loopkit's own blocks, any text at all."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.markdown.journal import parse_journal, probe_records_from_end
from loopkit.model import FreeEvidence, Journal, ParseWarning, ProbeRecord
from loopkit.services.probes import render_evidence
from loopkit.workspace import read_mapped

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.skipif(not (CORPUS / "JOURNAL-pxgate.md").is_file(), reason="../shared/corpus is absent")
def test_corpus_journal() -> None:
    text = (CORPUS / "JOURNAL-pxgate.md").read_text(encoding="utf-8")
    journal = parse_journal(text, file_name="JOURNAL-pxgate.md")
    assert (journal.phase, journal.role) == ("pxgate", "builder")
    assert journal.warnings == ()
    assert [(e.at, e.date_only, e.title, e.line) for e in journal.entries] == [
        ("2026-06-13T00:00:00Z", True, "Phase start", 2),
        ("2026-06-13T13:24:00Z", False, "Builder poll (M2 monitoring)", 56),
        ("2026-06-13T13:35:00Z", False, "Adversary verdict received + builder-clone fix", 64),
        ("2026-06-13T13:44:00Z", False, "M2 PASS: nixos-rebuild complete, all checks green", 79),
    ]
    evidence = [e for entry in journal.entries for e in entry.evidence]
    assert all(isinstance(e, FreeEvidence) for e in evidence)
    by_line = {e.line: e for e in evidence}
    old = by_line[26]
    assert old.command is not None and old.command.startswith("curl -sk")
    assert (old.code, old.mark) == ("404", "fail")
    new = by_line[29]
    assert new.code == "200" and "api/version" in (new.command or "")
    assert by_line[6].code == "200" and by_line[6].observed.startswith("HTTP/2 200")
    one_liners = [e for e in evidence if e.command and e.line in (34, 36, 86, 102, 103)]
    assert [e.mark for e in one_liners] == ["pass"] * 5
    assert by_line[86].command == "systemctl status deploy-proxy"
    assert by_line[102].code == "200" and by_line[102].command == "curl https://ci.commoninternet.net/"


@pytest.mark.parametrize(
    ("heading", "at", "date_only", "title"),
    [
        ("## 2026-06-13 — Phase start", "2026-06-13T00:00:00Z", True, "Phase start"),
        ("## 2026-06-13T13:24Z — Builder poll", "2026-06-13T13:24:00Z", False, "Builder poll"),
        ("### 2026-06-13 13:24 UTC – Poll", "2026-06-13T13:24:00Z", False, "Poll"),
        ("## 2026-06-13T13:24:00Z: Poll", "2026-06-13T13:24:00Z", False, "Poll"),
        ("## [2026-06-13 13:24] → Poll", "2026-06-13T13:24:00Z", False, "Poll"),
        ("## 2026-06-13 13:24 - Poll", "2026-06-13T13:24:00Z", False, "Poll"),
    ],
)
def test_heading_variants(heading: str, at: str, date_only: bool, title: str) -> None:
    entry = parse_journal(f"# JOURNAL — phase px (Builder)\n{heading}\nbody\n").entries[0]
    assert (entry.at, entry.date_only, entry.title, entry.line) == (at, date_only, title, 2)


def test_malformed_inputs_warn_not_raise() -> None:
    text = "no headings at all\n```\ncurl -s localhost → 200 ✓\n"
    journal = parse_journal(text)
    assert any("never closed" in w.message for w in journal.warnings)
    assert any("before the first entry" in w.message for w in journal.warnings)
    assert journal.entries[0].evidence[0].observed == "200 ✓"
    binary = parse_journal("## 2026-06-13 — x\n\x00\x01\ufffd\n")
    assert any("binary" in w.message for w in binary.warnings)
    huge = parse_journal("## 2026-06-13 — x\n" + "a" * 3_000_000 + "\n")
    assert any("characters" in w.message for w in huge.warnings)
    stray = parse_journal("## Notes\ntext\n## 2026-06-13 — x\n")
    assert stray.entries[0].at is None and any("without a timestamp" in w.message for w in stray.warnings)


def _record(**changes: object) -> ProbeRecord:
    base = ProbeRecord(
        phase="px",
        milestone="M1",
        probe="P1",
        title="answers 200",
        command="curl -s http://127.0.0.1:8080/",
        observe="stdout",
        observed="200",
        exit=0,
        expect=("200",),
        expect_not=(),
        expect_exit=None,
        result="PASS",
        duration=0.034,
        at="2026-06-13T13:44:01Z",
        head="a" * 40,
        dirty=False,
        stdout="200",
        stderr="",
        stdout_bytes=3,
        stderr_bytes=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_probe_block_reads_like_the_corpus_and_back() -> None:
    record = _record()
    block = render_evidence(record)
    assert "$ curl -s http://127.0.0.1:8080/\n→ 200 ✓ PASS\n" in block
    parsed = parse_journal(block).entries[0].evidence
    assert parsed == (replace(record, line=3),)


def test_hand_edit_of_the_block_is_a_mismatch() -> None:
    block = render_evidence(_record(observed="404", result="FAIL"))
    edited = block.replace("→ 404 ✗ FAIL", "→ 200 ✓ PASS")
    journal = parse_journal(edited)
    assert journal.mismatches and journal.probe_records[0].result == "FAIL"


text_st = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
records = st.builds(
    _record,
    command=text_st,
    title=text_st,
    observed=text_st,
    stdout=text_st,
    stderr=text_st,
    exit=st.none() | st.integers(-255, 255),
    result=st.sampled_from(["PASS", "FAIL", "ERROR"]),
    expect=st.lists(text_st, max_size=3).map(tuple),
    dirty=st.booleans(),
)


@SETTINGS
@given(records)
def test_any_record_round_trips(record: ProbeRecord) -> None:
    journal = parse_journal("# JOURNAL — phase px (Builder)\n\n" + render_evidence(record))
    assert journal.mismatches == ()
    got = journal.probe_records
    assert [replace(r, line=0) for r in got] == [record]


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_parses(text: str) -> None:
    journal = parse_journal(text)
    for entry in journal.entries:
        assert entry.line >= 1


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                "## 2026-06-13 — x",
                "```",
                "~~~",
                "→ 200 ✓",
                "cmd → 404",
                "`c` → 200",
                "<!-- loopkit:probe {} -->",
                "- item",
                "> q",
                "",
                "    code",
            ]
        ),
        max_size=30,
    )
)
def test_markdown_shaped_text_parses(lines: list[str]) -> None:
    parse_journal("\n".join(lines))


def test_records_from_the_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "JOURNAL-px.md"
    first = render_evidence(_record(observed="404", result="FAIL"))
    second = render_evidence(_record(probe="P2"))
    third = render_evidence(_record())
    path.write_text(
        "# JOURNAL — phase px (Builder)\n\n" + first + "\n" + second + "\n" + third,
        encoding="utf-8",
    )
    found = list(probe_records_from_end(read_mapped(path), with_lines=True))
    assert [(r.probe, r.result) for r, _ in found] == [
        ("P1", "PASS"),
        ("P2", "PASS"),
        ("P1", "FAIL"),
    ]
    full = parse_journal(path.read_text(encoding="utf-8")).probe_records
    assert [r.line for r, _ in found] == [r.line for r in reversed(full)]


# -- tokens.parse gives markdown-it's own tokens (a lone CR shown as ␍) ----------------------
_BLOCK_LINES = [
    "## 2026-06-13 — x", "# t", "#x", "```", "~~~", "   ```", "    code", "\tcode", "- item", "* item",
    "+ item", "1. one", "2) two", "  - nested", "> q", ">", "---", "***", "___", "===", "- - -", "text",
    "[ref]: /url", "<div>", "<!-- c -->", "<!--", "-->", "", "  ", "| a | b |", "a\rb", "\x00",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_BLOCK_LINES) | st.text(max_size=12), max_size=30), st.booleans())
def test_block_tokens_equal_a_plain_markdown_it(lines: list[str], crlf: bool) -> None:
    from markdown_it import MarkdownIt

    from loopkit.markdown.tokens import parse

    text = ("\r\n" if crlf else "\n").join(lines)
    plain = MarkdownIt("commonmark")
    plain.disable(["inline", "text_join"])
    assert parse(text) == plain.parse(text.replace("\r\n", "\n").replace("\r", "\u240d"))


# -- parsing from a restart point reads as the whole file (issue 24) -----------------------------
# Every shortcut that reads only the end of a journal (`last_entry_time`, `journal add` from its
# anchor or from the scan's last heading) parses from a top-level heading dated by its own text
# (`self_dated`): what follows must read exactly as in the parse of the whole file. Pieces mix the
# corpus's long runs of list lines without a blank line, unclosed fences, setext underlines,
# binary-ish bytes, lone CRs and a line past HUGE_LINE.
def _long_list(count: int) -> str:
    return "".join(f"- `curl -s https://h.example/{i}` → {200 + i % 3} ✓\n" for i in range(count))


_PART_PIECES = st.one_of(
    st.sampled_from(
        [
            "## 2026-05-04T10:00Z — dated\n", "## 2026-05-06\n", "### 18:08 UTC — a time\n",
            "#### 2026-05-07 09:15 UTC — h4\n", "## Notes\n", "# JOURNAL — phase p (Builder)\n",
            "```\n", "~~~~\n", "```console\n$ make\nok\n", "> ## 2026-05-07T10:00Z — quoted\n",
            "- ## 2026-05-08T10:00Z — listed\n", "<!-- open\n", "-->\n", "<div>\n", "\n", "text\n",
            "**Orientation:**\n", "---\n", "===\n", "    ## indented\n", "\t- deep\n", "1. one\n",
            "  - nested\n", "**Timestamp**: 2026-05-10T12:00Z\n", "a\rb\n", "x\r\n", "\x00\x01\n",
            "\ufffd\n", "x" * 100_001 + "\n", _long_list(40), _long_list(3),
            render_evidence(_record()), render_evidence(_record(probe="P2", result="FAIL")),
            render_evidence(_record()).replace("✓ PASS", "✗ FAIL"),
        ]
    ),
    st.binary(max_size=40).map(lambda raw: raw.decode("utf-8", errors="replace")),
    st.text(max_size=30),
)  # fmt: skip
_FILE_WARNINGS = ("binary or undecodable bytes", "line of ")


def _restarts(text: str) -> list[int]:
    """The offsets of the full parse's top-level headings dated by their own text."""
    from loopkit.markdown.journal import self_dated
    from loopkit.markdown.tokens import front_matter_lines, parse

    skip = front_matter_lines(text)
    seen = "\n" * skip + text.split("\n", skip)[-1] if skip else text
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    return [
        starts[t.map[0]]
        for t in parse(seen)
        if t.type == "heading_open" and t.level == 0 and t.map and self_dated(lines[t.map[0]])
    ]


def _shifted(journal: Journal, by: int, after: int) -> tuple[object, ...]:
    entries = [
        replace(e, line=e.line + by, evidence=tuple(replace(x, line=x.line + by) for x in e.evidence))
        for e in journal.entries
        if e.line + by > after
    ]

    def notes(found: tuple[ParseWarning, ...]) -> list[ParseWarning]:
        kept = [w for w in found if not w.message.startswith(_FILE_WARNINGS)]
        return [replace(w, line=w.line + by) for w in kept if w.line + by > after]

    return entries, notes(journal.warnings), notes(journal.mismatches)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PART_PIECES, max_size=30), st.booleans())
def test_a_journal_read_from_a_restart_point_reads_as_the_whole(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str], crlf: bool
) -> None:
    from loopkit.markdown.journal import last_entry_time

    text = "".join(pieces)
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    whole = parse_journal(text)  # any text in: no exception
    for offset in _restarts(text):
        before = text.count("\n", 0, offset)
        assert _shifted(parse_journal(text[offset:]), before, before) == _shifted(whole, 0, before)
    path = tmp_path_factory.mktemp("j") / "JOURNAL-p.md"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    dated = [e.at for e in whole.entries if e.at is not None]
    assert last_entry_time(read_mapped(path)) == (dated[-1] if dated else None)
