"""journal add, show, parse, and the one checked way to append to a journal."""

from __future__ import annotations

import contextlib
import re
import zlib
from pathlib import Path
from typing import Any

from loopkit import names, timefmt, txn
from loopkit.documents.journal import JournalAdded, JournalDocument
from loopkit.errors import BadInput, Refused, UsageError
from loopkit.model import Journal
from loopkit.records import journal as records
from loopkit.render import oneline, render
from loopkit.services.context import Context
from loopkit.txn import Plan
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
    ctx: Context, *, phase: str, role: str, block: str, text: str | None = None
) -> tuple[Path, str, int]:
    """The journal text with `block` appended, checked to read back as one more entry.

    Only the end of the journal is parsed, from an anchor: a heading the reader restarts at
    (`restarts_reader`), the last entry loopkit appended when its heading is one (or the last
    such heading, found by one full parse), remembered in .git with a hash of everything before
    it. Appends by loopkit or by hand after the anchor keep it valid, so appends stay O(1) in the
    journal's size while reading exactly as a full parse would. A code fence left open at the end
    would swallow the new entry: loopkit closes it first, which changes nothing in how the old
    text reads. Returns the path, the new text and the new entry's line. `text` is the journal as
    a previous append in the same transaction left it (several entries, one commit).
    """
    path = journal_path(ctx, phase, role)
    old = read_exact(path) if text is None else text
    if old is None or not old.strip():
        kind = "JOURNAL" if role == "builder" else "REVIEW"
        old = (old or "") + render(
            "journal.md.j2", workspace=ctx.workspace.root, kind=kind, phase=phase, role=role
        )
    quick = _append_quick(ctx, path, old, block)
    if quick is not None:
        new, entry_start = quick
        _remember(ctx, path, new, entry_start, clean=True)
        return path, new, new.count("\n", 0, entry_start) + 1
    start = _anchor(ctx, path, old)
    new, entry_start, line = records.append(old, start, block, name=path.name)
    at = entry_start if records.restarts_reader(block) else records.last_restart(new, start)
    _remember(ctx, path, new, at or 0, clean=records.simple_block(block))
    return path, new, line + old.count("\n", 0, start)


def _append_quick(ctx: Context, path: Path, old: str, block: str) -> tuple[str, int] | None:
    """The append without a parse: the journal is byte for byte what loopkit last wrote and left
    clean, and the block is simple. Returns the new text and where the new entry starts."""
    if not records.simple_block(block):
        return None
    data = _anchor_of(ctx, path)
    if data is None:
        return None
    try:
        offset = int(data["offset"])
        if data.get("clean") is not True or not 0 < offset <= len(old):
            return None
        if _digest(old[offset:]) != data["end"] or _digest(old[:offset]) != data["prefix"]:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return records.append_simple(old, block)


SMALL = 65536


def append_in_place(
    ctx: Context, *, phase: str, role: str, block: str
) -> tuple[Path, txn.Append, int] | None:
    """`append_entry` on a big journal without decoding, encoding or checksumming the whole file.

    The text before the remembered anchor is the bytes loopkit last planned (its length and CRC
    match the anchor, whose CRC is carried forward rather than recomputed); only the rest (the
    last entry, and whatever was typed after it) is decoded, and the append is computed on that
    part exactly as `append_entry` computes it on the whole text (same newline, same checks, same
    refusals, same line). Returns the path, the bytes to append and the new entry's line, or None
    when the anchor does not hold (then `append_entry`, the slow path, decides).
    tests/test_append_props.py pins it to `append_entry`."""
    path = journal_path(ctx, phase, role)
    record = _anchor_of(ctx, path)
    if record is None:
        return None
    try:
        data = path.read_bytes()
        chars = int(record["offset"])
        size, crc = str(record["prefix"]).split(":")
        at, lines = int(size), int(record["lines"])
        if not (0 < chars <= at < len(data)) or data[at - 1 : at + 1] != b"\n#":
            return None
        if f"{zlib.crc32(memoryview(data)[:at]):08x}" != crc:
            return None
        tail = data[at:].decode("utf-8")
        first = data[: data.index(b"\n") + 1].decode("utf-8")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if chars + len(tail) <= SMALL or not records.restarts_reader(tail):
        return None  # append_entry parses a small journal whole (and checks an anchor): let it
    # `first + tail` reads as the whole text for every question the append asks: its newline (that
    # of the first line), its end, and, from `len(first)` on, the text from the anchor.
    probe = first + tail
    start = len(first)
    clean = record.get("clean") is True and _digest(tail) == record.get("end")
    if clean and records.simple_block(block):
        new, entry_start = records.append_simple(probe, block)
        line = lines + new.count("\n", start, entry_start) + 1
        simple = True
    else:
        new, entry_start, line = records.append(probe, start, block, name=path.name)
        line += lines
        simple = records.simple_block(block)
    if not new.startswith(probe) or entry_start < start:
        return None
    anchor_at = entry_start if records.restarts_reader(block) else records.last_restart(new, start)
    if anchor_at is None:
        return None
    added = new[len(probe) :].encode("utf-8")
    between = new[start:anchor_at].encode("utf-8")
    _remember_record(
        ctx,
        path,
        chars=chars + anchor_at - start,
        prefix=(at + len(between), zlib.crc32(between, int(crc, 16))),
        lines=lines + new.count("\n", start, anchor_at),
        end=new[anchor_at:],
        clean=simple,
    )
    return path, txn.Append(base=data, tail=added), line


def _anchor_of(ctx: Context, path: Path) -> dict[str, Any] | None:
    """The journal's anchor, kept in the index (kind `anchors`, by the journal's path)."""
    found = ctx.index.kind("anchors").get(str(path))
    return found if isinstance(found, dict) else None


def _anchor(ctx: Context, path: Path, text: str) -> int:
    """Where parsing may start so that the end of the journal reads as in a full parse."""
    if len(text) <= SMALL:
        return 0
    data = _anchor_of(ctx, path)
    if data is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            offset = int(data["offset"])
            at_heading = 0 < offset <= len(text) and text.startswith("#", offset) and text[offset - 1] == "\n"
            if (
                at_heading
                and _digest(text[:offset]) == data["prefix"]
                and records.restarts_reader(text[offset:])
            ):
                return offset
    return records.last_restart_scanned(text)


def _remember(ctx: Context, path: Path, text: str, offset: int, *, clean: bool) -> None:
    """The anchor: where the last entry loopkit appended starts, a checksum of the text before it
    and of the text from it, and whether the journal ended clean. A disposable cache: a lost or
    stale one only means one full parse, so it is written without fsync. None is kept for an
    offset of 0: the parse starts there anyway."""
    if offset <= 0:
        _forget(ctx, path)
        return
    data = text[:offset].encode("utf-8", "surrogatepass")
    _remember_record(
        ctx,
        path,
        chars=offset,
        prefix=(len(data), zlib.crc32(data)),
        lines=text.count("\n", 0, offset),
        end=text[offset:],
        clean=clean,
    )


def _forget(ctx: Context, path: Path) -> None:
    """No anchor: the next append parses the journal once."""
    if ctx.index.kind("anchors").pop(str(path), None) is not None:
        ctx.index.changed("anchors")
        ctx.index.save()


def _remember_record(
    ctx: Context, path: Path, *, chars: int, prefix: tuple[int, int], lines: int, end: str, clean: bool
) -> None:
    """The anchor record: `chars` and `lines` before the entry, the byte length and CRC-32 of the
    text before it (`prefix`), a checksum of the text from it, and whether the journal ends clean."""
    size, crc = prefix
    record = {
        "offset": chars,
        "prefix": _checksum(size, crc),
        "end": _digest(end),
        "clean": clean,
        "lines": lines,
    }
    ctx.index.kind("anchors")[str(path)] = record
    ctx.index.changed("anchors")
    ctx.index.save()


def _digest(text: str) -> str:
    """A checksum of the text before the anchor: a change anywhere above it means re-reading."""
    data = text.encode("utf-8", "surrogatepass")
    return _checksum(len(data), zlib.crc32(data))


def _checksum(size: int, crc: int) -> str:
    """How the anchor writes a text's checksum: its UTF-8 length and CRC-32."""
    return f"{size}:{crc:08x}"


def journal_add(ctx: Context, *, phase: str, title: str, body: str | None) -> JournalAdded:
    require_phase(ctx, phase)
    role = ctx.need_role(doing="add a journal entry")
    journal_path(ctx, phase, role)
    if not oneline(title):
        raise UsageError("--title must not be empty")
    from loopkit.services import limits

    limits.check(ctx, "title", title, "--title")
    limits.no_nul(body, "the body")
    limits.check(ctx, "body", body, "the body")
    redact = ctx.redactor.redact
    plain_title = redact(oneline(title))
    clean_body = redact(body or "").strip("\n")
    if "\x00" in clean_body:
        raise BadInput("the body holds NUL bytes; loopkit writes text only")
    block = entry_block(ctx, plain_title, clean_body)
    ctx.redactor.check(block)

    def plan() -> Plan:
        appended = append_in_place(ctx, phase=phase, role=role, block=block)
        writes: dict[Path, str | None] = {}
        appends: dict[Path, txn.Append] = {}
        if appended is not None:
            path, appends[path], line = appended
        else:
            path, text, line = append_entry(ctx, phase=phase, role=role, block=block)
            writes[path] = text
        return Plan(
            writes,
            appends=appends,
            action="journal",
            phase=phase,
            subject={"title": plain_title},
            body=clean_body,
            result={
                "file": path.name,
                "phase": phase,
                "role": role,
                "at": timefmt.iso(ctx.now.replace(second=0)),
                "title": plain_title,
                "line": line,
            },
        )

    outcome = ctx.transact(plan)
    return JournalAdded(**outcome.plan.result, commit=outcome.commit)


def entry_block(ctx: Context, title: str, body: str) -> str:
    """A journal entry dated now, as the template writes it, its title safe in a heading."""
    at = timefmt.heading(ctx.now)
    return render(
        "journal-entry.md.j2", workspace=ctx.workspace.root, at=at, title=heading_safe(title), body=body
    )


def heading_safe(title: str) -> str:
    """A title that reads back the same from an ATX heading: a trailing `#` run would be eaten as
    the heading's closing sequence, so one escaped `#` keeps it."""
    title = re.sub(r"\\(?=[!-/:-@\[-`{-~])", r"\\\\", title)
    if title.endswith("#"):
        stripped = title.rstrip("#")
        if not stripped or stripped.endswith((" ", "\t")):
            return stripped + "\\" + title[len(stripped) :]
    return title


def journal_show(ctx: Context, *, phase: str, of: str | None) -> JournalDocument:
    require_phase(ctx, phase)
    role = of or "builder"
    if role not in ctx.workspace.config.journals:
        raise UsageError(f"--of {role}: no journal is kept for that role")
    path = journal_path(ctx, phase, role)
    from loopkit.markdown.journal import parse_journal

    # a journal nobody has written to yet (the adversary's before any review) is an empty one
    journal = parse_journal(read_text(path) if path.exists() else "", file_name=path.name)
    return journal_json(path.name, journal, phase=phase, role=role)


def journal_parse(ctx: Context, file: str) -> JournalDocument:
    path = ctx.cwd / file
    if path.is_dir():
        raise BadInput(f"{file} is a folder, not a journal file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {file}: {exc.strerror}") from None
    from loopkit.markdown.journal import parse_journal

    journal = parse_journal(data.decode("utf-8", errors="replace"), file_name=path.name)
    return journal_json(path.name, journal, phase=journal.phase, role=journal.role)


def journal_json(file: str, journal: Journal, *, phase: str | None, role: str | None) -> JournalDocument:
    return JournalDocument(
        file,
        journal.phase or phase,
        journal.role or role,
        journal.warnings + journal.mismatches,
        journal.entries,
    )
