"""STATUS records: claim, verdict and DONE lines, the orchestrator's instructions and the milestone
sections, placed in the text and read back.

A record is one list line (git blame maps it to one commit); its identity is its bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loopkit.errors import BadInput
from loopkit.markdown import edit
from loopkit.markdown.status import parse_status
from loopkit.model.status import StatusDoc
from loopkit.records import Span

parse = parse_status


def spans(text: str, doc: StatusDoc | None = None) -> list[Span]:
    """Each record line with its section (`DONE` for the DONE record): the merge's identities
    (`doc`: the text's parse, when the caller holds it)."""
    doc = doc or parse_status(text)
    found: list[Span] = [(r.line - 1, r.line, None, s.id) for s in doc.sections for r in s.records]
    if doc.done is not None:
        found.append((doc.done.line - 1, doc.done.line, None, "DONE"))
    return sorted(found, key=lambda span: span[0])


def identity(line: str) -> str:
    """The identity the merge driver unions a STATUS record by: its line, line ending aside."""
    return line.rstrip("\r\n")


def identities(text: str, doc: StatusDoc | None = None) -> set[str]:
    """The identity of every record `text` holds (`doc`: its parse, when the caller holds it)."""
    lines = edit.split_lines(text)
    return {identity(lines[start]) for start, *_ in spans(text, doc)}


def _shape(doc: StatusDoc) -> tuple[list[tuple[str, list[str]]], str | None]:
    """What a STATUS holds, line numbers aside: each section's records, and the DONE record."""
    return [(s.id, [r.text for r in s.records]) for s in doc.sections], (
        None if doc.done_line is None else (doc.done.text if doc.done else "")
    )


def check(
    old: StatusDoc,
    new: str,
    *,
    name: str,
    what: str,
    added: Mapping[str, str] | None = None,
    sections: Sequence[str] = (),
    done: str | None = None,
) -> StatusDoc:
    """The one read-back of a STATUS edit: `new` parses to `old`'s records, each in its section,
    plus the record lines `added` (milestone → line), the new empty `sections` and the DONE record
    `done`; else BadInput and nothing is written. Returns the new text's parse."""
    parsed = parse_status(new)
    shape, had_done = _shape(old)
    extra = {mid: line.strip()[2:] for mid, line in (added or {}).items()}
    expected = [(sid, [*texts, extra[sid]] if sid in extra else texts) for sid, texts in shape]
    expected += [(sid, []) for sid in sections]
    want_done = had_done if done is None else done.strip()[2:]
    if _shape(parsed) != (expected, want_done):
        raise BadInput(
            f"refusing to write {name}: {what} would not read back with every record as it was "
            "(an unclosed fence? a heading in a title or note?)"
        )
    return parsed


def _end_of(text: str, doc: StatusDoc, milestone: str | None, name: str) -> int:
    """The last written line of the milestone's section (of the header, before the first section,
    for None): where a record or an instruction goes."""
    if milestone is not None:
        section = doc.section(milestone)
        if section is None:
            raise BadInput(f"{name} has no section for {milestone}")
        return edit.last_content_line(text, section.line, section.end)
    if doc.sections:
        return edit.last_content_line(text, 1, doc.sections[0].line - 1)
    return edit.last_content_line(text, 1, text.count("\n") + 1)


def insert(text: str, milestone: str, line: str, *, name: str) -> str:
    """STATUS with one record line (`- **CLAIM** …\\n`) at the end of the milestone's section."""
    doc = parse_status(text)
    last = _end_of(text, doc, milestone, name)
    section = doc.section(milestone)
    after_record = section is not None and any(r.line == last for r in section.records)
    new = edit.insert_after_line(text, last, line, blank_before=not after_record)
    check(doc, new, name=name, what="the new record", added={milestone: line})
    return new


def insert_note(text: str, milestone: str | None, block: str, *, name: str) -> str:
    """STATUS with a block of prose (instructions) at the end of the milestone's section, or of
    the header; it must change how no record reads."""
    doc = parse_status(text)
    new = edit.insert_after_line(text, _end_of(text, doc, milestone, name), block, blank_before=True)
    check(doc, new, name=name, what="the instructions")
    return new


def append_done(text: str, block: str, record: str, *, name: str) -> str:
    """STATUS with the `## DONE` block (holding the DONE `record` line) appended."""
    doc = parse_status(text)
    new = edit.append(text, block)
    check(doc, new, name=name, what="## DONE", done=record)
    return new


def append_sections(text: str, block: str, ids: Sequence[str], *, name: str) -> str:
    """STATUS (or "" for a new one, `block` then being the whole file) with the rendered milestone
    sections `ids` added at its end."""
    doc = parse_status(text)
    new = edit.append(text, block) if text else block
    check(doc, new, name=name, what="the milestone sections (check the titles in the spec)", sections=ids)
    return new
