"""claim, verdict, gate, done: the protocol steps, each one command that cannot be got wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from loopkit import names, timefmt, txn
from loopkit.documents.loop import (
    Claimed,
    DoneDocument,
    DoneVerdict,
    GateDocument,
    Instructed,
    Unmet,
    Verdicted,
)
from loopkit.errors import BadInput, Refused, UsageError
from loopkit.markdown import edit
from loopkit.markdown.status import parse_status
from loopkit.model.status import StatusDoc
from loopkit.render import oneline, render
from loopkit.services import limits
from loopkit.services.book import Book, load
from loopkit.services.context import Context
from loopkit.services.inbox import append_message, build_message, new_id
from loopkit.state import claim_gate
from loopkit.trust import Issue
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


def committed_only(ctx: Context, command: str) -> None:
    """claim, verdict and done count only as loopkit's own commits, so they are never written
    without one: `--no-commit` (MCP `no_commit`) is refused before anything is read or written."""
    if ctx.no_commit:
        raise UsageError(
            f"{command} --no-commit: a {command} counts only as loopkit's own commit, so it is never "
            "written without one; leave --no-commit (no_commit) out"
        )


def claim(ctx: Context, *, phase: str, milestone: str, note: str | None) -> Claimed:
    committed_only(ctx, "claim")
    role = ctx.need_role("builder", doing="claim a milestone")
    limits.check(ctx, "note", note, "--note")

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
        code = book.facts.code
        latest = book.views[milestone].claim if milestone in book.views else None
        if latest is not None and book.views[milestone].claim_open and latest.record.code == code:
            raise Refused(
                f"claim {milestone} refused: already claimed at this code ({(code or '')[:12]}), "
                "awaiting the adversary's verdict",
                details=[Issue("already-claimed", f"{milestone} is already claimed at this code", milestone)],
            )
        at = timefmt.iso(ctx.now)
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
            milestone=milestone,
            claim=claim_id,
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
                "passing": tuple(evidence.passing),
            },
        )

    outcome = txn.run(ctx, plan)
    return Claimed(**outcome.plan.result, commit=outcome.commit)


def claim_words(claimed: Claimed) -> str:
    """Which id is which: `claimed M1 (code at 52694c1; claim commit 533832a)`."""
    made = f"claim commit {claimed.commit[:7]}" if claimed.commit else "not committed"
    return f"claimed {claimed.milestone} (code at {claimed.head[:7]}; {made})"


def verdict(ctx: Context, *, phase: str, milestone: str, result: str, note: str | None) -> Verdicted:
    committed_only(ctx, "verdict")
    result = result.upper()
    if result not in ("PASS", "FAIL"):
        raise UsageError(f"verdict {result!r}: use PASS or FAIL")
    role = ctx.need_role("adversary", doing="record a verdict")
    limits.check(ctx, "note", note, "--note")

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
        unreplayed = book.unreplayed(milestone) if result == "PASS" else []
        if unreplayed:
            raise Refused(
                f"PASS {milestone} refused: [rules] replay asks for your own run of each required probe "
                f"at the claim's code; run `loopkit probe run --phase {phase} --milestone {milestone}` first",
                details=unreplayed,
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
        message = build_message(
            ctx,
            sender=role,
            to="builder",
            phase=phase,
            subject=subject,
            body=body,
            milestone=milestone,
            result=result,
            claim=claim_id,
        )
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
    return Verdicted(**outcome.plan.result, commit=outcome.commit)


def gate_issues(ctx: Context, *, phase: str) -> list[Issue]:
    return load(ctx, phase).done_gate()


def gate(ctx: Context, *, phase: str) -> GateDocument:
    """`gate --json`: what `done` would check, every unmet condition listed."""
    unmet = gate_issues(ctx, phase=phase)
    return GateDocument(not unmet, tuple(Unmet(u.code, u.milestone, u.message) for u in unmet))


def done(ctx: Context, *, phase: str, summary: str | None, body: str | None = None) -> DoneDocument:
    committed_only(ctx, "done")
    role = ctx.need_role("builder", doing="declare a phase done")
    limits.check(ctx, "note", summary, "--summary")
    limits.no_nul(body, "the body")
    limits.check(ctx, "body", body, "the body")
    narrative = ctx.redactor.redact((body or "").replace("\r\n", "\n")).strip("\n")

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
        verdicts = []
        for mid in ids:
            latest = book.views[mid].current
            assert latest is not None
            r = latest.record
            lines.append(f"{mid} PASS @{r.at} by {r.by}, claim {r.ref}" + (f" — {r.note}" if r.note else ""))
            verdicts.append(
                DoneVerdict(mid, r.kind, r.at, r.by, r.ref, r.claim_id, r.note or None, lines[-1])
            )
        return Plan(
            {book.status_path: new},
            action="done",
            phase=phase,
            subject={"milestones": ids, "summary": clean_summary},
            body="\n\n".join(x for x in (narrative, "\n".join(lines)) if x),
            trailers=[("Loopkit-Milestone", "+".join(ids)), ("Loopkit-Verdict", "PASS")],
            result={"phase": phase, "milestones": tuple(ids), "at": at, "verdicts": tuple(verdicts)},
        )

    outcome = txn.run(ctx, plan)
    return DoneDocument(ok=True, **outcome.plan.result, commit=outcome.commit)


def instruct(ctx: Context, *, phase: str, milestone: str | None, body: str | None) -> Instructed:
    """Orchestrator: instructions for the builder, inserted at the end of the milestone's STATUS
    section (or of the header, before the first section); every other byte stays as it was."""
    role = ctx.need_role("orchestrator", doing="write instructions")
    if milestone is not None:
        names.ident(milestone)
    limits.no_nul(body, "the body")
    text_in = (body or "").replace("\r\n", "\n").strip("\n")
    if not text_in.strip():
        raise BadInput("instructions need a body: give --body TEXT or --body-file FILE")
    limits.check(ctx, "body", text_in, "the body")
    clean = ctx.redactor.redact(text_in)

    def plan() -> Plan:
        book = load(ctx, phase)
        if not book.opened:
            raise BadInput(f"phase {phase} is not open: run `loopkit phase new {phase}`")
        if milestone is not None:
            _open_book(ctx, phase, milestone)
        text = read_exact(book.status_path) or ""
        doc = parse_status(text)
        at = timefmt.iso(ctx.now)
        block = render(
            "status-instructions.md.j2",
            workspace=ctx.workspace.root,
            at=at,
            by=role,
            milestone=milestone,
            body=clean,
        )
        if milestone is not None:
            section = doc.section(milestone)
            assert section is not None
            last = edit.last_content_line(text, section.line, section.end)
        else:
            first = doc.sections[0].line if doc.sections else None
            if first is None:
                last = edit.last_content_line(text, 1, text.count("\n") + 1)
            else:
                last = edit.last_content_line(text, 1, first - 1)
        new = edit.insert_after_line(text, last, block, blank_before=True)
        after = parse_status(new)

        def bare(d: StatusDoc) -> list[tuple[str, list[str]]]:
            return [(s.id, [r.text for r in s.records]) for s in d.sections]

        if bare(after) != bare(doc) or (after.done_line is None) != (doc.done_line is None):
            raise BadInput(
                f"refusing to write {book.status_path.name}: the instructions would change how its "
                "records read (an unclosed fence? a heading?)"
            )
        return Plan(
            {book.status_path: new},
            action="instruct",
            phase=phase,
            subject={"milestone": milestone},
            body=clean,
            trailers=[("Loopkit-Milestone", milestone)] if milestone else [],
            result={"phase": phase, "milestone": milestone, "at": at, "file": book.status_name},
        )

    outcome = txn.run(ctx, plan)
    return Instructed(**outcome.plan.result, commit=outcome.commit)


__all__ = ["claim", "claim_words", "done", "gate", "instruct", "replace", "verdict"]
