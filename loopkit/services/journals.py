"""journal add, show, parse, and the one checked way to append to a journal."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from loopkit import names, timefmt
from loopkit.errors import BadInput, Refused, UsageError
from loopkit.markdown import edit
from loopkit.markdown.journal import parse_journal, unescape
from loopkit.markdown.tokens import fence_unclosed, parse
from loopkit.model import Journal, JournalEntry
from loopkit.render import oneline, render
from loopkit.services.context import Context
from loopkit.workspace import read_exact, read_text


def journal_path(ctx: Context, phase: str, role: str) -> Path:
    path = ctx.workspace.journal_file(phase, role)
    if path is None:
        raise Refused(f"the {role} keeps no journal (files.journal.{role} in loopkit.toml)")
    return path


def require_phase(ctx: Context, phase: str) -> None:
    names.phase(phase)
    ws = ctx.workspace
    if not ws.status_file(phase).is_file() and not ws.spec_file(phase).is_file():
        raise BadInput(
            f"no phase {phase}: neither {ws.status_file(phase).name} nor phases/{phase}.toml exists"
        )


def append_entry(
    ctx: Context, *, phase: str, role: str, block: str, base_text: str | None = None
) -> tuple[Path, str, int]:
    """The journal text with `block` appended, checked to read back as one more entry.

    Only the journal's last entry is parsed, so appends stay O(1) in the journal's size. A code
    fence left open there would swallow the new entry: loopkit closes it first, which changes
    nothing in how the old text reads. Returns the path, the new text and the new entry's line.
    """
    path = journal_path(ctx, phase, role)
    old = base_text if base_text is not None else read_exact(path)
    if old is None or not old.strip():
        kind = "JOURNAL" if role == "builder" else "REVIEW"
        old = (old or "") + render(
            "journal.md.j2", workspace=ctx.workspace.root, kind=kind, phase=phase, role=role
        )
    start = _last_entry_start(old)
    tail = old[start:]
    closing = _open_fence(tail)
    base = old
    if closing is not None:
        newline = edit.newline_of(old)
        base = old + ("" if old.endswith("\n") else newline) + closing + newline
    new = edit.append(base, block)
    if closing is not None and not old.endswith("\n"):
        new = new.rstrip("\r\n")
    before = [_key(e) for e in parse_journal(tail).entries]
    after = [_key(e) for e in parse_journal(new[start:]).entries]
    expected = [_key(e) for e in parse_journal(block).entries]
    if after != before + expected or len(expected) != 1:
        raise BadInput(
            f"refusing to write {path.name}: the new entry would not read back as one entry "
            "(does the body hold an entry-like heading, or leave a code fence open?)"
        )
    window_line = parse_journal(new[start:]).entries[-1].line
    return path, new, window_line + old.count("\n", 0, start)


def _key(entry: JournalEntry) -> tuple[Any, ...]:
    """An entry without line numbers: the block sits at a new place in the file."""
    return (
        entry.at,
        entry.date_only,
        entry.title,
        tuple(replace(e, line=0) for e in entry.evidence),
    )


_ENTRY_HEADING = re.compile(r"#{2,3} +\[?\d{4}-\d{2}-\d{2}")
WINDOW = 65536


def _last_entry_start(text: str) -> int:
    """Where to start reading so that the end of the journal parses as it does in the whole file.

    A timestamped entry heading at least WINDOW characters before the end: starting inside a code
    fence would need that fence to span more than the window across entries. A `## ` line inside
    a fence (a body quoting Markdown) is never taken for a start unless it carries a timestamp.
    """
    limit = len(text) - WINDOW
    end = len(text)
    found = 0
    while end > 0:
        at = text.rfind("\n#", 0, end)
        if at < 0:
            return 0
        if _ENTRY_HEADING.match(text, at + 1):
            found = at + 1
            if at <= limit:
                return found
        end = at
    return 0 if limit > 0 else found


def _open_fence(tail: str) -> str | None:
    """The closing fence the tail needs, when its last code block runs to the end of the text."""
    for token in reversed(parse(tail)):
        if token.type == "fence" and token.level == 0:
            return token.markup[0] * max(len(token.markup), 3) if fence_unclosed(token, tail) else None
    return None


def journal_add(ctx: Context, *, phase: str, title: str, body: str | None) -> dict[str, Any]:
    require_phase(ctx, phase)
    role = ctx.need_role(doing="add a journal entry")
    journal_path(ctx, phase, role)
    if not oneline(title):
        raise UsageError("--title must not be empty")
    redact = ctx.redactor.redact
    clean_title = heading_safe(redact(oneline(title)))
    clean_body = redact(body or "").strip("\n")
    if "\x00" in clean_body:
        raise BadInput("the body holds NUL bytes; loopkit writes text only")
    at = timefmt.heading(ctx.now)
    block = render(
        "journal-entry.md.j2",
        workspace=ctx.workspace.root,
        at=at,
        title=clean_title,
        body=clean_body,
    )
    ctx.redactor.check(block)
    with ctx.workspace.lock():
        path, text, line = append_entry(ctx, phase=phase, role=role, block=block)
        sha = ctx.commit(
            {path: text},
            action="journal",
            phase=phase,
            subject={"title": clean_title},
            body=clean_body,
        )
    return {
        "file": path.name,
        "phase": phase,
        "role": role,
        "at": timefmt.iso(ctx.now.replace(second=0)),
        "title": unescape(clean_title),
        "line": line,
        "commit": sha,
    }


def heading_safe(title: str) -> str:
    """A title that reads back the same from an ATX heading: a trailing `#` run would be eaten as
    the heading's closing sequence, so one escaped `#` keeps it."""
    title = re.sub(r"\\(?=[!-/:-@\[-`{-~])", r"\\\\", title)
    if title.endswith("#"):
        stripped = title.rstrip("#")
        if not stripped or stripped.endswith((" ", "\t")):
            return stripped + "\\" + title[len(stripped) :]
    return title


def journal_show(ctx: Context, *, phase: str, of: str | None) -> dict[str, Any]:
    require_phase(ctx, phase)
    role = of or "builder"
    if role not in ctx.workspace.config.journals:
        raise UsageError(f"--of {role}: no journal is kept for that role")
    path = journal_path(ctx, phase, role)
    if not path.exists():
        raise BadInput(f"{path.name} does not exist yet")
    journal = parse_journal(read_text(path), file_name=path.name)
    return journal_json(path.name, journal, phase=phase, role=role)


def journal_parse(ctx: Context, file: str) -> dict[str, Any]:
    path = ctx.cwd / file
    if path.is_dir():
        raise BadInput(f"{file} is a folder, not a journal file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {file}: {exc.strerror}") from None
    journal = parse_journal(data.decode("utf-8", errors="replace"), file_name=path.name)
    return journal_json(path.name, journal, phase=journal.phase, role=journal.role)


def journal_json(file: str, journal: Journal, *, phase: str | None, role: str | None) -> dict[str, Any]:
    return {
        "file": file,
        "phase": journal.phase or phase,
        "role": journal.role or role,
        "warnings": [w.to_json() for w in journal.warnings + journal.mismatches],
        "entries": [e.to_json() for e in journal.entries],
    }
