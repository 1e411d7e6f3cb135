"""Human renderers: the `status` document as text a person (or an orchestrator) reads at a glance.

Also the one-line renderers of the other commands (records, journals, messages, gates).

Pure functions of the document, the clock, the width and whether to colour, so golden files can pin
them. Every value from the books is made safe for a terminal first (a title holding an escape
sequence must not move the cursor), and every line is cut to the width on display columns.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from loopkit import timefmt

if TYPE_CHECKING:  # a command imports only the records it uses (tests/test_hot_path.py)
    from loopkit.documents.journal import JournalDocument
    from loopkit.documents.status import MilestoneStatus, PhaseStatus, StatusDocument
    from loopkit.model.inbox import Message
    from loopkit.model.journal import ProbeRecord

SIGNS = {"passed": "✓", "failed": "✗", "claimed": "…", "open": "·"}
_STYLE = {
    "changes-requested": "1;31",
    "awaiting-review": "1;33",
    "ready": "1;32",
    "in-progress": "36",
    "planned": "2",
    "done": "32",
    "passed": "32",
    "failed": "31",
    "claimed": "33",
    "open": "2",
    "problem": "31",
    "dim": "2",
    "head": "1",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """One line of text that cannot drive the terminal: controls and bidi overrides shown escaped."""

    def shown(match: re.Match[str]) -> str:
        char = match.group()
        if char in "\t\n\r":
            return " "
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(shown, text)


def width_of(text: str) -> int:
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cut(text: str, width: int) -> str:
    """The text in at most `width` display columns, ending with … when something was cut."""
    if width_of(text) <= width:
        return text
    if width <= 0:
        return ""
    out, used = [], 0
    for char in text:
        w = _char_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - width_of(text))


def marks(milestones: Sequence[MilestoneStatus], *, words: bool = True) -> str:
    """`M1✓passed M2✗failed M3…claimed`: a sign for the eye and the word for everyone else; on a
    narrow terminal only the signs (`M1✓ M2✗ M3…`), spelled out once in the last line."""
    if words:
        return " ".join(f"{m.id}{SIGNS.get(m.state, '?')}{m.state}" for m in milestones) or "-"
    return " ".join(f"{m.id}{SIGNS.get(m.state, '?')}" for m in milestones) or "-"


LEGEND = "✓ passed, ✗ failed, … claimed, · open"
WORDS_FROM = 120  # columns from which milestone marks carry their words


def remark(phase: PhaseStatus) -> str:
    """The first problem, else the latest FAIL's note, else who has mail waiting."""
    if phase.problems:
        first = phase.problems[0]
        more = len(phase.problems) - 1
        return f"{first.code}: {first.message}" + (f" (+{more} more)" if more else "")
    failed = [(m.verdict, m.id) for m in phase.milestones if m.state == "failed" and m.verdict]
    if failed:
        verdict, mid = max(failed, key=lambda pair: pair[0].at or "")
        return f"FAIL {mid}: {verdict.note or 'no note'}"
    mail = [f"{role} {n}" for role, n in phase.inbox.items() if n]
    return f"inbox: {', '.join(mail)}" if mail else ""


@dataclass(frozen=True)
class Cell:
    """One cell of a status line: its text and the colour it takes on a terminal."""

    text: str
    style: str | None = None


def _paint(cell: Cell, text: str, colour: bool) -> str:
    if not colour or not cell.style or not text:
        return text
    return f"\x1b[{_STYLE[cell.style]}m{text}\x1b[0m"


def _line(cells: Sequence[Cell], widths: Sequence[int | None], width: int, colour: bool) -> str:
    """Cells joined by two spaces, padded to their column widths, the whole cut to `width`."""
    out: list[str] = []
    used = 0
    for index, (cell, col) in enumerate(zip(cells, widths, strict=True)):
        sep = "" if index == 0 else "  "
        text = cell.text if col is None else pad(cut(cell.text, col), col)
        last = index == len(cells) - 1
        if last:
            text = text.rstrip()
        room = width - used - len(sep)
        if room <= 0:
            break
        shown = cut(text, room)
        out.append(sep + _paint(cell, shown.rstrip() if shown != text else shown, colour))
        used += len(sep) + width_of(shown)
        if shown != text:
            break
    return "".join(out).rstrip()


def status_text(data: StatusDocument, *, now: datetime, width: int = 80, colour: bool = False) -> str:
    """One line per phase, what needs someone first, then a line of totals."""
    from loopkit.services.view import NEEDS_FIRST, age, needs_first  # lazy: start-up stays light

    phases = sorted(data.phases, key=needs_first)
    if not phases:
        return "no phases"
    words = width >= WORDS_FROM
    rows = []
    for p in phases:
        rows.append(
            [
                Cell(safe(p.phase)),
                Cell(p.state, p.state),
                Cell(safe(marks(p.milestones, words=words))),
                Cell(p.waiting_on or "-", None if p.waiting_on else "dim"),
                Cell(age(p.last_activity, now)),
                Cell(safe(remark(p)), "problem" if p.problems else None),
            ]
        )
    head = [Cell(h, "head") for h in ("PHASE", "STATE", "MILESTONES", "WAITS ON", "ACTIVE", "NOTE")]
    # Fixed columns as wide as their widest value (phase and milestones capped), the note takes the rest.
    caps = (min(24, max(12, width // 5)), 17, max(16, width // 3), 12, 8)
    widths: list[int | None] = [
        min(cap, max(width_of(r[i].text) for r in [head, *rows])) for i, cap in enumerate(caps)
    ]
    widths.append(None)
    lines = [_line(head, widths, width, colour)]
    lines += [_line(r, widths, width, colour) for r in rows]
    counts = Counter(p.state for p in phases)
    totals = ", ".join(f"{counts[s]} {s}" for s in NEEDS_FIRST if s in counts)
    waiting = Counter(p.waiting_on for p in phases if p.waiting_on)
    waits = ", ".join(f"{role} {n}" for role, n in sorted(waiting.items()))
    summary = f"{len(phases)} phase{'s' if len(phases) != 1 else ''}: {totals}"
    if waits:
        summary += f"; waiting on {waits}"
    lines.append(_line([Cell(summary, "dim")], [None], width, colour))
    if not words:
        lines.append(_line([Cell(f"milestones: {LEGEND}", "dim")], [None], width, colour))
    return "\n".join(lines)


def phase_detail(data: StatusDocument, *, now: datetime, width: int = 80, colour: bool = False) -> str:
    """`status --phase P`: the phase, each milestone with its evidence, claim and verdict, problems."""
    from loopkit.services.view import age  # lazy: start-up stays light

    rows: list[list[Cell]] = []
    for p in data.phases:
        rows.append([Cell(safe(p.phase), "head"), Cell(p.state, p.state), Cell(safe(p.title))])
        facts = [
            f"  waits on {p.waiting_on or 'nobody'}",
            f"last activity {age(p.last_activity, now)}"
            + (f" ({p.last_activity})" if p.last_activity else ""),
        ]
        inbox = ", ".join(f"{k} {v}" for k, v in p.inbox.items() if v)
        if inbox:
            facts.append(f"inbox {inbox}")
        rows.append([Cell("; ".join(facts))])
        for m in p.milestones:
            ev = m.evidence
            detail = f"evidence {len(ev.passing)}/{len(ev.required)}"
            for key, names in (("failing", ev.failing), ("missing", ev.missing), ("stale", ev.stale)):
                if names:
                    detail += f", {key} {', '.join(names)}"
            sign = SIGNS.get(m.state, "?")
            rows.append(
                [
                    Cell(pad("  " + safe(m.id), 10)),
                    Cell(pad(f"{sign} {m.state}", 9), m.state),
                    Cell(detail),
                    Cell(safe(m.title)),
                ]
            )
            if c := m.claim:
                note = f" — {c.note}" if c.note else ""
                text = f"claim {age(c.at, now)} by {c.by}, head {(c.head or '-')[:10]}{note}"
                rows.append([Cell(" " * 10), Cell(safe(text))])
            if v := m.verdict:
                note = f" — {v.note}" if v.note else ""
                text = f"{v.result} {age(v.at, now)} by {v.by}{note}"
                rows.append([Cell(" " * 10), Cell(safe(text), "failed" if v.result == "FAIL" else None)])
            stale_pass = m.state == "passed" and any(
                x.code == "stale-verdict" and x.milestone == m.id for x in p.problems
            )
            if stale_pass:
                text = f"stale PASS (its paths changed): run its probes, then claim {m.id} again"
                rows.append([Cell(" " * 10), Cell(safe(text), "problem")])
        for problem in p.problems:
            rows.append([Cell(f"  problem: {problem.code}: {safe(problem.message)}", "problem")])
    if not rows:
        return "no phases"
    return "\n".join(_line(r, [None] * len(r), width, colour) for r in rows)


def terminal_width(environ: Mapping[str, str]) -> int:
    """COLUMNS when set, else the terminal's width, else 80."""
    import shutil

    raw = environ.get("COLUMNS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return shutil.get_terminal_size((80, 24)).columns


def use_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def status_renderer(*, phase: str | None, stream: TextIO) -> Any:
    """The `status` command's human renderer, bound to this process's clock, terminal and colour."""
    environ = os.environ
    width = terminal_width(environ)
    colour = use_colour(stream, environ)

    def render(data: StatusDocument) -> str:
        now = timefmt.now(environ.get("LOOPKIT_NOW"))
        if phase is not None:
            return phase_detail(data, now=now, width=width, colour=colour)
        return status_text(data, now=now, width=width, colour=colour)

    return render


# -- the other commands' text --------------------------------------------------------------------
def _record_text(r: ProbeRecord) -> str:
    if r.observe == "exit":
        return f"{r.milestone} {r.probe} {r.result}: → exit {r.observed} ({r.duration} s)"
    observed = f"→ {r.observed!r} (exit {r.exit}, {r.duration} s)"
    return f"{r.milestone} {r.probe} {r.result}: {observed}"


def _committed(what: str, commit: str | None) -> str:
    return what + (f" [{commit[:10]}]" if commit else " (not committed)")


def _journal_text(d: JournalDocument) -> str:
    from loopkit.model.journal import FreeEvidence

    out = [f"{d.file}: phase {d.phase}, {d.role}, {len(d.entries)} entries"]
    for entry in d.entries:
        out.append(f"{entry.line:>6}  {entry.at or '-':<20}  {entry.title}")
        for e in entry.evidence:
            observed = e.observed[:80]
            if isinstance(e, FreeEvidence):
                # the observed text already holds what the person wrote (`200 ✓`, `404 ← FAILS`):
                # add the code and the mark only where it does not show them
                mark = {"pass": "✓", "fail": "✗"}.get(e.mark or "", "")
                code = f" [{e.code}]" if e.code and e.code not in observed else ""
                mark = "" if mark and mark in observed else mark
            else:
                mark, code = e.result, ""
                if e.observe == "exit":
                    observed = f"exit {observed}"
            shown = f"{e.command or '(no command)'} → {observed}{code} {mark}".strip()
            out.append(f"{e.line:>6}    {shown}")
    for w in d.warnings:
        out.append(f"warning: line {w.line}: {w.message}")
    return "\n".join(out)


def _message_text(m: Message) -> str:
    return f"{m.id}  {m.sender} → {m.to}  [{m.phase or '-'}]  {m.subject}"
