"""The first `journal add` without an anchor (after a clone, or when the journal changed before
it) finds where the last entry may start by the one-pass scan, not by a full parse: pinned to the
full parse it stands in for (DESIGN: a fast path is pinned to its slow path).

Whatever the journal holds, the scan's answer is a top-level heading of the full parse that the
reader restarts at (`self_dated`), or the start; and the append checked from it writes, numbers
and refuses exactly as the append checked from the full parse's last such heading.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_shortcut_props import FILLER, HAND_BLOCKS, RECORDS

from loopkit.errors import BadInput
from loopkit.markdown.journal import self_dated
from loopkit.markdown.tokens import parse
from loopkit.model import ProbeRecord
from loopkit.records import journal as journals
from loopkit.services.probes import render_evidence

# lines whose meaning depends on what is above them: fences, HTML, setext underlines, indented
# and deep headings, lists, quotes, front-matter-like rules
LINES = st.sampled_from(
    [
        "## 2026-06-14T10:00Z — hand entry\n",
        "  ## indented heading\n",
        "### 12:00 UTC — time only\n",
        "#not a heading\n",
        "text\n",
        "---\n",
        "===\n",
        "\n",
        "```\n",
        "~~~~\n",
        "    ```\n",
        "<div>\n",
        "</div>\n",
        "<!-- open\n",
        "-->\n",
        "- item\n",
        "  - nested\n",
        "> quoted\n",
        "> ```\n",
        "1. first\n",
        "\t# tabbed\n",
        "<pre>\n",
        "</pre>\n",
        "- - - - - - - - - - - - - - - - - - - - - - x\n",
    ]
)


def _block(item: ProbeRecord | str) -> str:
    return item if isinstance(item, str) else render_evidence(item)


def _append(old: str, start: int, block: str) -> tuple[str, int, int] | str:
    """The new text, where the entry starts, and its line in the whole file (as append_entry
    counts it); or the refusal."""
    try:
        new, entry_start, line = journals.append(old, start, block, name="JOURNAL-px.md")
    except BadInput as exc:
        return exc.message
    return new, entry_start, line + old.count("\n", 0, start)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@example(
    middle=["```\n", "## 2026-06-14T10:00Z — hand entry\n"], tail=[], item="## 2026-06-15T09:01Z — x\n\ny\n"
)
@example(middle=["text\n", "---\n"], tail=["text\n", "===\n"], item="## 2026-06-15T09:01Z — x\n\ny\n")
@given(
    middle=st.lists(LINES, max_size=12),
    tail=st.lists(LINES, max_size=8),
    item=st.one_of(RECORDS, HAND_BLOCKS),
)
def test_the_scans_heading_appends_as_the_full_parses(
    middle: list[str], tail: list[str], item: ProbeRecord | str
) -> None:
    old = (
        "# JOURNAL — phase px (Builder)\n\n" + FILLER[:3000] + "".join(middle) + FILLER[:800] + "".join(tail)
    )
    fast = journals.last_restart_scanned(old)
    slow = journals.last_restart(old) or 0
    lines = old.splitlines(keepends=True)
    restarts = {0} | {
        len("".join(lines[: t.map[0]]))
        for t in parse(old)
        if t.type == "heading_open" and t.level == 0 and t.map is not None and self_dated(lines[t.map[0]])
    }
    assert fast in restarts and fast <= slow
    block = _block(item)
    assert _append(old, fast, block) == _append(old, slow, block)
