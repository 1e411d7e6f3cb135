"""claim, verdict, gate, done: the protocol steps, each one command that cannot be got wrong."""

from __future__ import annotations

from pathlib import Path

from loopkit import names, timefmt
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
from loopkit.model.inbox import Message
from loopkit.records import status as status_records
from loopkit.render import oneline, render
from loopkit.services import limits
from loopkit.services.book import Book, load
from loopkit.services.context import Context
from loopkit.services.inbox import append_message, build_message, new_id
from loopkit.state import EvidenceView, Genuine, claim_gate
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


def _record_line(*, ctx: Context, **fields: str | None) -> str:
    """One STATUS record line (kind, milestone, at, by, ref_kind, ref, code, claim_id, note), its
    note redacted onto one line."""
    values = dict.fromkeys(("milestone", "ref_kind", "ref", "code", "claim_id"), None) | fields
    values["note"] = oneline(ctx.redactor.redact(fields.get("note") or ""))
    return oneline(render("status-record.md.j2", workspace=ctx.workspace.root, **values)) + "\n"


def insert_record(book: Book, milestone: str, line: str) -> str:
    """STATUS as it is on disk with one record line added at the end of the milestone's section."""
    return status_records.insert(
        read_exact(book.status_path) or "", milestone, line, name=book.status_path.name
    )


def _with_message(ctx: Context, book: Book, line: str, message: Message) -> dict[Path, str | None]:
    """The writes of a claim or a verdict: its record in STATUS and its message, one commit."""
    assert message.milestone is not None
    status = insert_record(book, message.milestone, line)
    inbox_path, inbox_text = append_message(ctx, message)
    return {book.status_path: status, inbox_path: inbox_text}


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
        head, evidence = _claim_gate(ctx, book, milestone)
        return _claim_plan(ctx, book, milestone, role=role, head=head, evidence=evidence, note=note)

    outcome = ctx.transact(plan)
    return Claimed(**outcome.plan.result, commit=outcome.commit)


def _claim_gate(ctx: Context, book: Book, milestone: str) -> tuple[str, EvidenceView]:
    """The claim gate (SPEC section 3): the HEAD to claim and the evidence, or Refused."""
    if book.doc.done_line is not None:
        raise Refused(
            f"phase {book.phase} is already DONE",
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
    return head, evidence


def _claim_plan(
    ctx: Context,
    book: Book,
    milestone: str,
    *,
    role: str,
    head: str,
    evidence: EvidenceView,
    note: str | None,
) -> Plan:
    """The claim's record in STATUS and its message to the adversary: one commit."""
    code = book.facts.code
    at = timefmt.iso(ctx.now)
    claim_id = new_id(ctx, role)
    line = _record_line(
        ctx=ctx, kind="CLAIM", milestone=milestone, at=at, by=role, ref_kind="head", ref=head, note=note,
        code=code, claim_id=claim_id,
    )  # fmt: skip
    passing = ", ".join(evidence.passing) or "none required"
    body = f"Claim of {milestone} at {head} ({passing})." + (f"\n\n{note}" if note else "")
    subject = f"claim {milestone}" + (f" — {oneline(note)}" if note else "")
    message = build_message(
        ctx, sender=role, to="adversary", phase=book.phase, subject=subject, body=body,
        milestone=milestone, claim=claim_id,
    )  # fmt: skip
    writes = _with_message(ctx, book, line, message)
    return Plan(
        writes,
        action="claim",
        phase=book.phase,
        subject={"milestone": milestone, "note": ctx.redactor.redact(note or "")},
        body=body,
        trailers=[
            ("Loopkit-Milestone", milestone),
            ("Loopkit-Claim", head),
            ("Loopkit-Claim-Id", claim_id),
            ("Loopkit-Message", message.id),
        ],
        result={
            "phase": book.phase,
            "milestone": milestone,
            "id": claim_id,
            "head": head,
            "code": code,
            "at": at,
            "message": message.id,
            "passing": tuple(evidence.passing),
        },
    )


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
        claim_record = _verdict_gate(book, milestone, result)
        claim_sha = claim_record.origin.sha if claim_record and claim_record.origin else None
        claim_id = claim_record.record.id if claim_record else None
        at = timefmt.iso(ctx.now)
        line = _record_line(
            ctx=ctx, kind=result, milestone=milestone, at=at, by=role,
            ref_kind="claim" if claim_sha else None, ref=claim_sha, note=note, claim_id=claim_id,
        )  # fmt: skip
        hhmm = ctx.now.strftime("%H:%M")
        subject = f"{milestone} {result} @{hhmm}Z" + (f" — {oneline(note)}" if note else "")
        body = f"{result} of {milestone}" + (f", claim {claim_sha}" if claim_sha else "") + "."
        body += f"\n\n{note}" if note else ""
        message = build_message(
            ctx, sender=role, to="builder", phase=phase, subject=subject, body=body,
            milestone=milestone, result=result, claim=claim_id,
        )  # fmt: skip
        writes = _with_message(ctx, book, line, message)
        trailers = [("Loopkit-Milestone", milestone), ("Loopkit-Verdict", result)]
        if claim_sha:
            trailers.append(("Loopkit-Claim", claim_sha))
        if claim_id:
            trailers.append(("Loopkit-Claim-Id", claim_id))
        trailers.append(("Loopkit-Message", message.id))
        return Plan(
            writes,
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

    outcome = ctx.transact(plan)
    return Verdicted(**outcome.plan.result, commit=outcome.commit)


def _verdict_gate(book: Book, milestone: str, result: str) -> Genuine | None:
    """The verdict rules (SPEC section 3): a PASS needs an open claim (and, with `[rules] replay`,
    the adversary's own runs); the claim the verdict names, or Refused."""
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
            f"PASS {milestone} refused: [rules] replay asks for your own run of each required probe at "
            f"the claim's code; run `loopkit probe run --phase {book.phase} --milestone {milestone}` first",
            details=unreplayed,
        )
    return claim_record


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
        record = _record_line(ctx=ctx, kind="DONE", at=at, by=role, note=headline)
        new = status_records.append_done(
            read_exact(book.status_path) or "",
            render("status-done.md.j2", workspace=ctx.workspace.root, record=record.rstrip("\n")),
            record,
            name=book.status_path.name,
        )
        lines, verdicts = _done_verdicts(book, ids)
        return Plan(
            {book.status_path: new},
            action="done",
            phase=phase,
            subject={"milestones": ids, "summary": clean_summary},
            body="\n\n".join(x for x in (narrative, "\n".join(lines)) if x),
            trailers=[("Loopkit-Milestone", "+".join(ids)), ("Loopkit-Verdict", "PASS")],
            result={"phase": phase, "milestones": tuple(ids), "at": at, "verdicts": tuple(verdicts)},
        )

    outcome = ctx.transact(plan)
    return DoneDocument(ok=True, **outcome.plan.result, commit=outcome.commit)


def _done_verdicts(book: Book, ids: list[str]) -> tuple[list[str], list[DoneVerdict]]:
    """Each milestone's current PASS: as a line of the DONE commit's body, and as a document."""
    lines: list[str] = []
    verdicts: list[DoneVerdict] = []
    for mid in ids:
        latest = book.views[mid].current
        assert latest is not None
        r = latest.record
        lines.append(f"{mid} PASS @{r.at} by {r.by}, claim {r.ref}" + (f" — {r.note}" if r.note else ""))
        verdicts.append(DoneVerdict(mid, r.kind, r.at, r.by, r.ref, r.claim_id, r.note or None, lines[-1]))
    return lines, verdicts


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
        at = timefmt.iso(ctx.now)
        block = render(
            "status-instructions.md.j2",
            workspace=ctx.workspace.root,
            at=at,
            by=role,
            milestone=milestone,
            body=clean,
        )
        new = status_records.insert_note(
            read_exact(book.status_path) or "", milestone, block, name=book.status_path.name
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

    outcome = ctx.transact(plan)
    return Instructed(**outcome.plan.result, commit=outcome.commit)
