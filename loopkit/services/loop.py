"""claim, verdict, gate, done: the protocol steps, each one command that cannot be got wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from loopkit import names, timefmt, txn
from loopkit.errors import BadInput, Refused, UsageError
from loopkit.markdown import edit
from loopkit.markdown.status import parse_status
from loopkit.model import StatusDoc
from loopkit.render import oneline, render
from loopkit.services.book import Book, load
from loopkit.services.context import Context
from loopkit.services.inbox import append_message, build_message, new_id
from loopkit.state import Issue, claim_gate
from loopkit.txn import Plan
from loopkit.workspace import read_exact


def _open_book(ctx: Context, phase: str, milestone: str) -> Book:
    names.ident(milestone)
    book = load(ctx, phase)
    if not book.opened:
        raise BadInput(f"phase {phase} is not open: run `loopkit phase new {phase}`")
    if book.spec is not None and book.spec.milestone(milestone) is None:
        known = ", ".join(m.id for m in book.spec.milestones) or "none"
        raise BadInput(f"{milestone} is not a milestone of phase {phase} (spec has: {known})")
    if book.doc.section(milestone) is None:
        raise BadInput(f"{book.status_path.name} has no section `## {milestone} — …`")
    return book


def _record_line(
    *,
    kind: str,
    milestone: str | None,
    at: str,
    by: str,
    ref_kind: str | None,
    ref: str | None,
    note: str | None,
    ctx: Context,
    code: str | None = None,
    claim_id: str | None = None,
) -> str:
    line = render(
        "status-record.md.j2",
        workspace=ctx.workspace.root,
        kind=kind,
        milestone=milestone,
        at=at,
        by=by,
        ref_kind=ref_kind,
        ref=ref,
        code=code,
        claim_id=claim_id,
        note=oneline(ctx.redactor.redact(note or "")),
    )
    return oneline(line) + "\n"


def insert_record(book: Book, milestone: str, line: str) -> str:
    """STATUS with one record line added at the end of the milestone's section, checked by reparsing."""
    text = read_exact(book.status_path) or ""
    doc = parse_status(text)
    section = doc.section(milestone)
    if section is None:
        raise BadInput(f"{book.status_path.name} has no section for {milestone}")
    last = edit.last_content_line(text, section.line, section.end)
    after_record = any(r.line == last for r in section.records)
    new = edit.insert_after_line(text, last, line, blank_before=not after_record)
    _verify(doc, parse_status(new), milestone, line, book.status_path)
    return new


def _verify(old: StatusDoc, new: StatusDoc, milestone: str, line: str, path: Path) -> None:
    def bare(doc: StatusDoc) -> list[tuple[str, list[str]]]:
        return [(s.id, [r.text for r in s.records]) for s in doc.sections]

    expected = [(sid, [*texts, line.strip()[2:]] if sid == milestone else texts) for sid, texts in bare(old)]
    if bare(new) != expected or (old.done_line is None) != (new.done_line is None):
        raise BadInput(
            f"refusing to write {path.name}: the new record would not read back (an unclosed fence?)"
        )


def claim(ctx: Context, *, phase: str, milestone: str, note: str | None) -> dict[str, Any]:
    role = ctx.need_role("builder", doing="claim a milestone")

    def plan() -> Plan:
        book = _open_book(ctx, phase, milestone)
        if book.doc.done_line is not None:
            raise Refused(
                f"phase {phase} is already DONE",
                details=[Issue("already-done", "STATUS says ## DONE", milestone)],
            )
        head = ctx.repo.head
        if head is None:
            raise Refused("the repository has no commit to claim")
        evidence = book.evidence(milestone)
        unmet = book.spec_unmet() + claim_gate(milestone, evidence)
        if unmet:
            raise Refused(
                f"claim {milestone} refused: {len(unmet)} probe(s) not passing on committed code",
                details=unmet,
            )
        at = timefmt.iso(ctx.now)
        code = book.facts.code
        claim_id = new_id(ctx, role)
        line = _record_line(
            kind="CLAIM",
            milestone=milestone,
            at=at,
            by=role,
            ref_kind="head",
            ref=head,
            note=note,
            ctx=ctx,
            code=code,
            claim_id=claim_id,
        )
        status = insert_record(book, milestone, line)
        passing = ", ".join(evidence.passing) or "none required"
        body = f"Claim of {milestone} at {head} ({passing})."
        if note:
            body += f"\n\n{note}"
        message = build_message(
            ctx,
            sender=role,
            to="adversary",
            phase=phase,
            subject=f"claim {milestone}" + (f" — {oneline(note)}" if note else ""),
            body=body,
        )
        inbox_path, inbox_text = append_message(ctx, message)
        return Plan(
            {book.status_path: status, inbox_path: inbox_text},
            action="claim",
            phase=phase,
            subject={"milestone": milestone, "note": ctx.redactor.redact(note or "")},
            body=body,
            trailers=[
                ("Loopkit-Milestone", milestone),
                ("Loopkit-Claim", head),
                ("Loopkit-Claim-Id", claim_id),
                ("Loopkit-Message", message.id),
            ],
            result={
                "phase": phase,
                "milestone": milestone,
                "id": claim_id,
                "head": head,
                "code": code,
                "at": at,
                "message": message.id,
                "passing": evidence.passing,
            },
        )

    outcome = txn.run(ctx, plan)
    return {**outcome.plan.result, "commit": outcome.commit}


def verdict(ctx: Context, *, phase: str, milestone: str, result: str, note: str | None) -> dict[str, Any]:
    result = result.upper()
    if result not in ("PASS", "FAIL"):
        raise UsageError(f"verdict {result!r}: use PASS or FAIL")
    role = ctx.need_role("adversary", doing="record a verdict")

    def plan() -> Plan:
        book = _open_book(ctx, phase, milestone)
        view = book.views[milestone]
        claim_record = view.claim
        if result == "PASS" and not view.claim_open:
            why = "it was never claimed" if claim_record is None else "its latest claim already has a verdict"
            raise Refused(
                f"PASS {milestone} refused: no open claim ({why})",
                details=[Issue("no-open-claim", why, milestone)],
            )
        claim_sha = claim_record.origin.sha if claim_record and claim_record.origin else None
        claim_id = claim_record.record.id if claim_record else None
        at = timefmt.iso(ctx.now)
        line = _record_line(
            kind=result,
            milestone=milestone,
            at=at,
            by=role,
            ref_kind="claim" if claim_sha else None,
            ref=claim_sha,
            note=note,
            ctx=ctx,
            claim_id=claim_id,
        )
        status = insert_record(book, milestone, line)
        hhmm = ctx.now.strftime("%H:%M")
        subject = f"{milestone} {result} @{hhmm}Z" + (f" — {oneline(note)}" if note else "")
        body = f"{result} of {milestone}" + (f", claim {claim_sha}" if claim_sha else "") + "."
        if note:
            body += f"\n\n{note}"
        message = build_message(ctx, sender=role, to="builder", phase=phase, subject=subject, body=body)
        inbox_path, inbox_text = append_message(ctx, message)
        trailers = [("Loopkit-Milestone", milestone), ("Loopkit-Verdict", result)]
        if claim_sha:
            trailers.append(("Loopkit-Claim", claim_sha))
        if claim_id:
            trailers.append(("Loopkit-Claim-Id", claim_id))
        trailers.append(("Loopkit-Message", message.id))
        return Plan(
            {book.status_path: status, inbox_path: inbox_text},
            action="verdict",
            phase=phase,
            subject={
                "milestone": milestone,
                "verdict": result,
                "hhmm": hhmm,
                "note": ctx.redactor.redact(note or ""),
            },
            body=body,
            trailers=trailers,
            result={
                "phase": phase,
                "milestone": milestone,
                "result": result,
                "claim_commit": claim_sha,
                "claim_id": claim_id,
                "at": at,
                "message": message.id,
            },
        )

    outcome = txn.run(ctx, plan)
    return {**outcome.plan.result, "commit": outcome.commit}


def gate(ctx: Context, *, phase: str) -> list[Issue]:
    return load(ctx, phase).done_gate()


def done(ctx: Context, *, phase: str, summary: str | None) -> dict[str, Any]:
    role = ctx.need_role("builder", doing="declare a phase done")

    def plan() -> Plan:
        book = load(ctx, phase)
        if not book.opened:
            raise BadInput(f"phase {phase} is not open: run `loopkit phase new {phase}`")
        unmet = book.done_gate()
        if unmet:
            raise Refused(f"DONE refused for {phase}: {len(unmet)} condition(s) unmet", details=unmet)
        assert book.spec is not None
        ids = [m.id for m in book.spec.milestones]
        clean_summary = oneline(ctx.redactor.redact(summary or ""))
        at = timefmt.iso(ctx.now)
        headline = "+".join(ids) + " PASS" + (f", {clean_summary}" if clean_summary else "")
        record = _record_line(
            kind="DONE",
            milestone=None,
            at=at,
            by=role,
            ref_kind=None,
            ref=None,
            note=headline,
            ctx=ctx,
        )
        text = read_exact(book.status_path) or ""
        new = edit.append(
            text,
            render("status-done.md.j2", workspace=ctx.workspace.root, record=record.rstrip("\n")),
        )
        after = parse_status(new)
        if after.done is None or [s.records for s in after.sections] != [
            s.records for s in book.doc.sections
        ]:
            raise BadInput(f"refusing to write {book.status_path.name}: ## DONE would not read back")
        lines = []
        for mid in ids:
            latest = book.views[mid].current
            assert latest is not None
            r = latest.record
            lines.append(f"{mid} PASS @{r.at} by {r.by}, claim {r.ref}" + (f" — {r.note}" if r.note else ""))
        return Plan(
            {book.status_path: new},
            action="done",
            phase=phase,
            subject={"milestones": ids, "summary": clean_summary},
            body="\n".join(lines),
            trailers=[("Loopkit-Milestone", "+".join(ids)), ("Loopkit-Verdict", "PASS")],
            result={"phase": phase, "milestones": ids, "at": at, "verdicts": lines},
        )

    outcome = txn.run(ctx, plan)
    return {**outcome.plan.result, "commit": outcome.commit}


__all__ = ["claim", "done", "gate", "replace", "verdict"]
