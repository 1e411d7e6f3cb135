"""Strategies shared by the record layer's property tests (tests/test_records_*.py): the files
people leave behind (any mix of Markdown, LF or CRLF, a final newline or none), notes, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from loopkit.model import Message

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Stand-in for the service context: default templates, no redaction, a fixed clock.
CTX: Any = SimpleNamespace(
    workspace=SimpleNamespace(root=None),
    redactor=SimpleNamespace(redact=lambda text: text),
    now=datetime(2026, 6, 13, 13, 44, tzinfo=UTC),
)

PIECES = [
    "# STATUS — phase px",
    "# BUILDER-INBOX",
    "## M1 — title",
    "## M2: other",
    "## DONE",
    "## 2026-06-13T13:44Z — an entry",
    "### 2026-06-13 13:50 UTC - another",
    "## Notes",
    "- **CLAIM** M1 @2026-06-13T13:44:00Z by builder · head abcdef1 — n",
    "- **PASS** M1 @2026-06-13T13:44Z by adversary · claim abcdef1",
    "- **DONE** @2026-06-13T13:44Z by builder — M1 PASS",
    "- **FAIL** M9 @2026-06-13T13:44:00Z by adversary",
    "```",
    "~~~",
    "> quote",
    "<!-- loopkit:message {} -->",
    '<!-- loopkit:message {"id":"x","to":"builder","from":"adversary","subject":"s","body":"b"} -->',
    "<!--",
    "-->",
    "    indented",
    "- item",
    "1. item",
    "---",
    "===",
    "",
    "\x00\ufffd",
    "text\r",
]
LINE = st.one_of(st.sampled_from(PIECES), st.text(st.characters(blacklist_characters="\r\n"), max_size=20))


@st.composite
def texts(draw: st.DrawFn) -> str:
    """A file: any of the pieces above and free text, LF or CRLF, a final newline or none."""
    lines = draw(st.lists(LINE, max_size=14))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    return text + newline if lines and draw(st.booleans()) else text


ANY_TEXT = st.one_of(texts(), st.text(max_size=200))
NOTES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "## heading-like", "```", "`code` **bold** <!-- c -->", "a\nb", "ends with \\"]),
)
ROLES = st.sampled_from(["builder", "adversary", "orchestrator"])


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """A message as `build_message` makes them: an id, roles, a one-line subject, any body."""
    sender = draw(ROLES)
    number = draw(st.integers(0, 2**48 - 1))
    body = draw(
        st.one_of(st.text(max_size=80), st.sampled_from(["```\nopen fence", "## heading\n\n> quote"]))
    )
    return Message(
        id=f"20260613T134400Z-{sender[:4]}-{number:012x}",
        to=draw(ROLES),
        sender=sender,
        phase=draw(st.sampled_from([None, "px"])),
        at="2026-06-13T13:44:00Z",
        subject=" ".join(draw(NOTES).split()) or "(no subject)",
        body=body.strip("\n"),
        milestone=draw(st.sampled_from([None, "M1"])),
    )


def inserted(old: str, new: str) -> str:
    """What `new` adds to `old`, asserting that it is one insertion and every old byte is kept."""
    p = 0
    while p < len(old) and p < len(new) and old[p] == new[p]:
        p += 1
    s = 0
    while s < len(old) - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
        s += 1
    assert p + s == len(old), "bytes that were there before are gone or changed"
    return new[p : len(new) - s]
