"""The reader from the end of a journal is a fast path: it must give exactly what the full parse gives.

A probe block quoted inside a fence (of either kind, any length, opened however far above) or inside
a block quote is not a record for either reader (issue 7, item 3).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.markdown.journal import parse_journal, probe_records_from_end
from loopkit.model import ProbeRecord
from loopkit.services.probes import render_evidence
from loopkit.workspace import read_mapped

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _record(
    milestone: str = "M1", probe: str = "P1", result: str = "PASS", observed: str = "200"
) -> ProbeRecord:
    return ProbeRecord(
        phase="px",
        milestone=milestone,
        probe=probe,
        title="answers 200",
        command="curl -s http://127.0.0.1:8080/",
        observe="stdout",
        observed=observed,
        exit=0,
        expect=("200",),
        expect_not=(),
        expect_exit=None,
        result=result,
        duration=0.25,
        at="2026-06-13T13:44:01Z",
        head="a" * 40,
        dirty=False,
        stdout=observed,
        stderr="",
    )


def _fast(path: Path, **kwargs: object) -> list[tuple[ProbeRecord, bool]]:
    return list(probe_records_from_end(read_mapped(path), **kwargs))  # type: ignore[arg-type]


def _full(text: str) -> list[tuple[ProbeRecord, bool]]:
    journal = parse_journal(text)
    edited = {w.line for w in journal.mismatches}
    return [(r, r.line in edited) for r in reversed(journal.probe_records)]


def _latest(pairs: list[tuple[ProbeRecord, bool]]) -> dict[tuple[str, str], ProbeRecord]:
    found: dict[tuple[str, str], ProbeRecord] = {}
    for record, _ in pairs:
        found.setdefault((record.milestone, record.probe), record)
    return found


def _assert_same(tmp_path: Path, text: str) -> None:
    path = tmp_path / "JOURNAL-px.md"
    path.write_bytes(text.encode("utf-8"))
    fast = _fast(path, with_lines=True)
    full = _full(text)
    assert fast == full
    assert _latest(fast) == _latest(full)
    # without line numbers, the same records (line 0)
    assert [r for r, _ in _fast(path)] == [replace(r, line=0) for r, _ in full]


# -- the cases the issue names ------------------------------------------------------------------
HEAD = "# JOURNAL — phase px (Builder)\n\n"
FAIL = render_evidence(_record(result="FAIL", observed="404"))
PASS = render_evidence(_record())


@pytest.mark.parametrize("fence", ["~~~~", "```", "`````", "~~~"])
def test_a_pass_quoted_in_a_fence_is_not_a_record(tmp_path: Path, fence: str) -> None:
    inner = PASS.replace("```", "~~~" if fence.startswith("`") else "```")
    text = HEAD + FAIL + "\n## 2026-06-13T14:00Z — notes\n\n" + fence + "markdown\n" + inner + fence + "\n"
    _assert_same(tmp_path, text)
    found = _fast(tmp_path / "JOURNAL-px.md")
    assert [r.result for r, _ in found] == ["FAIL"]


def test_a_pass_in_a_fence_opened_far_above_is_not_a_record(tmp_path: Path) -> None:
    text = (
        HEAD
        + FAIL
        + "\n```\nan unclosed fence\n"
        + "\n".join(f"## 2026-06-13T14:{i:02d}Z — x" for i in range(30))
    )
    text += "\n" + PASS
    _assert_same(tmp_path, text)
    assert [r.result for r, _ in _fast(tmp_path / "JOURNAL-px.md")] == ["FAIL"]


def test_a_pass_in_a_block_quote_is_not_a_record(tmp_path: Path) -> None:
    quoted = "".join("> " + line + "\n" for line in PASS.splitlines())
    text = HEAD + FAIL + "\n## 2026-06-13T14:00Z — a message\n\n" + quoted
    _assert_same(tmp_path, text)
    assert [r.result for r, _ in _fast(tmp_path / "JOURNAL-px.md")] == ["FAIL"]


def test_records_in_list_items_and_indented_fences(tmp_path: Path) -> None:
    text = HEAD + FAIL + "\n- item\n\n  ```\n" + PASS + "\n  ```\n- " + PASS.replace("\n", "\n  ") + "\n"
    _assert_same(tmp_path, text)


def test_html_blocks_and_multi_line_comments(tmp_path: Path) -> None:
    text = (
        HEAD
        + "<details>\n"
        + PASS
        + "\n<!--\n"
        + PASS
        + "-->\n\n"
        + FAIL
        + "<pre>\n\n"
        + PASS
        + "</pre>\n"
        + PASS.replace('{"schema', '{\n"schema')
    )
    _assert_same(tmp_path, text)


def test_front_matter_deep_lists_and_crlf(tmp_path: Path) -> None:
    front = "---\ntitle: x\n---\n"
    _assert_same(tmp_path, front + HEAD + PASS)
    deep = "- " * 11 + "x\n"
    _assert_same(tmp_path, HEAD + FAIL + deep + PASS)
    _assert_same(tmp_path, (HEAD + FAIL + "\n```\n" + PASS + "```\n" + PASS).replace("\n", "\r\n"))


# -- the property -------------------------------------------------------------------------------
keys = st.sampled_from([("M1", "P1"), ("M1", "P2"), ("M2", "P1")])
records = st.builds(
    lambda key, result: _record(key[0], key[1], result, "200" if result == "PASS" else "404"),
    keys,
    st.sampled_from(["PASS", "FAIL"]),
)


@st.composite
def blocks(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(
            [
                "entry",
                "record",
                "record",
                "fence",
                "unclosed",
                "quote",
                "list",
                "html",
                "para",
                "dup",
                "edit",
                "deep",
            ]
            + ["lines"] * 4
        )
    )
    block = render_evidence(draw(records))
    if kind == "entry":
        return f"## 2026-06-13T1{draw(st.integers(0, 9))}:00Z — entry\n\ntext\n"
    if kind in ("record", "dup"):
        return block + ("\n" + block if kind == "dup" else "")
    if kind == "edit":
        return block.replace("✓ PASS", "✗ FAIL").replace("→ 404", "→ 200")
    if kind in ("fence", "unclosed"):
        char = draw(st.sampled_from(["`", "~"]))
        size = draw(st.integers(3, 5))
        indent = " " * draw(st.integers(0, 3))
        inner = block.replace("```", "~~~") if char == "`" else block
        closing = "" if kind == "unclosed" else indent + char * draw(st.integers(size, size + 1)) + "\n"
        return f"{indent}{char * size}md\n{inner}{closing}"
    if kind == "quote":
        return "".join("> " + line + "\n" for line in block.splitlines())
    if kind == "list":
        return "- item\n  " + block.replace("\n", "\n  ") + "\n"
    if kind == "html":
        return draw(
            st.sampled_from(["<div>\n", "<!--\n", "-->\n", "<pre>\n", "</pre>\n", "<span>\n", "text <b>\n"])
        )
    if kind == "deep":
        return draw(st.sampled_from(["- " * 11 + "x\n", ">" * 22 + " x\n", "  - " * 5 + "y\n"]))
    if kind == "lines":
        return "".join(draw(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=6)))
    return draw(st.sampled_from(["a paragraph\n", "title\n---\n", "\n", "    indented\n", "```\n", "~~~~\n"]))


TRICKY = [
    "```\n",
    "~~~\n",
    "````\n",
    "   ```\n",
    "    ```\n",
    "\t```\n",
    "``` a`b\n",
    "```   \n",
    "``` x\n",
    "~~~~~\n",
    "## 2026-06-13T15:00Z — inner\n",
    "#no space\n",
    "   ## indented heading\n",
    "<!-- loopkit:probe {} -->\n",
    "<!-- loopkit:probe {\n",
    "<!-- an open comment\n",
    "-->\n",
    "<div>\n",
    "</div>\n",
    "<br>\n",
    "  <!-- x -->\n",
    "<?php\n",
    "?>\n",
    "<![CDATA[\n",
    "]]>\n",
    "<!DOCTYPE html>\n",
    "> quoted\n",
    "> ```\n",
    "- item\n",
    "  - nested\n",
    "1. one\n",
    "   ```\n",
    "text\n",
    "===\n",
    "---\n",
    "\n",
    "  \n",
    "a\rb\n",
    "```\r\n",
    "\x00\n",
]


@SETTINGS
@given(
    st.lists(blocks(), max_size=14),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "\n", "\n\n"]),
)
def test_reader_from_the_end_equals_the_full_parse(
    tmp_path: Path, parts: list[str], crlf: bool, front: bool, gap: str
) -> None:
    text = ("---\nkey: v\n---\n" if front else "") + HEAD + gap.join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    _assert_same(tmp_path, text)


def test_wanted_skips_without_changing_the_rest(tmp_path: Path) -> None:
    text = HEAD + render_evidence(_record("M1", "P1")) + "\n" + render_evidence(_record("M2", "P1"))
    path = tmp_path / "JOURNAL-px.md"
    path.write_text(text, encoding="utf-8")
    found = list(probe_records_from_end(read_mapped(path), wanted=lambda m, p: m == "M1"))
    assert [(r.milestone, r.probe) for r, _ in found] == [("M1", "P1")]
