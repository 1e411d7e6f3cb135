"""status and check: the orchestrator's view of every phase, and every problem loopkit can see."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from loopkit import timefmt
from loopkit.documents.status import (
    CheckDocument,
    ClaimView,
    EvidenceSummary,
    MilestoneDetail,
    MilestoneStatus,
    PhaseDetail,
    PhaseStatus,
    Problem,
    StatusDocument,
    VerdictView,
)
from loopkit.markdown.journal import parse_journal
from loopkit.model import ROLES
from loopkit.model.git import Origin
from loopkit.model.inbox import Message
from loopkit.model.journal import Journal, ProbeRecord
from loopkit.services.book import Book, load
from loopkit.services.context import Context
from loopkit.services.inbox import read_inbox
from loopkit.services.signatures import signatures, trusted
from loopkit.state import EvidenceView, Genuine, claim_gate, is_genuine_evidence, phase_state, record_shas
from loopkit.trust import Issue
from loopkit.workspace import CONFIG_NAME, read_text

if TYPE_CHECKING:  # the report's parts, built only with its detail
    from loopkit.documents.report import ProbeState, TimelineEvidence, TimelineRecord

# SPEC section 4: the role whose move it is, from the phase's state.
WAITING_ON: dict[str, str | None] = {
    "planned": "orchestrator",
    "in-progress": "builder",
    "changes-requested": "builder",
    "ready": "builder",
    "awaiting-review": "adversary",
    "done": None,
}


# What needs someone first: a FAIL to fix, a claim to review, a DONE to write, work going on, a
# phase to open; done phases last. `status` (human) and `report` list phases in this order.
NEEDS_FIRST = ("changes-requested", "awaiting-review", "ready", "in-progress", "planned", "done")


def needs_first(phase: PhaseStatus) -> tuple[Any, ...]:
    """Sort key: done last; a phase with a problem first; then by state; the longest waiting first."""
    return (
        phase.state == "done",
        not phase.problems,
        NEEDS_FIRST.index(phase.state) if phase.state in NEEDS_FIRST else len(NEEDS_FIRST),
        phase.last_activity or "",
        phase.phase,
    )


def age(at: str | None, now: datetime) -> str:
    """`3h ago` from an ISO time and the clock (LOOPKIT_NOW when set); `-` when there is none."""
    moment = timefmt.parse_iso(at) if at else None
    if moment is None:
        return "-"
    seconds = int((now - moment).total_seconds())
    ahead, seconds = seconds < 0, abs(seconds)
    for size, unit, least in ((604800, "w", 2), (86400, "d", 2), (3600, "h", 1), (60, "m", 1)):
        if seconds >= size * least:
            return f"in {seconds // size}{unit}" if ahead else f"{seconds // size}{unit} ago"
    return "now"


def stale_why(milestone: str, probe: str, evidence: EvidenceView) -> str:
    """Why this probe's latest record is stale, as the claim gate says it (state.claim_gate)."""
    record = evidence.latest[probe]
    why = {probe: evidence.why[probe]} if probe in evidence.why else {}
    alone = EvidenceView([probe], [], [], [], [probe], {probe: record}, why)
    return claim_gate(milestone, alone)[0].message


@dataclass(frozen=True)
class JournalRead:
    """One role's journal of a phase, parsed whole, with the commit that added each record."""

    role: str
    shown: str
    parsed: Journal
    origins: dict[int, Origin | None]


def read_journals(book: Book) -> list[JournalRead]:
    """Every role's journal of the phase that exists (check reads them all; so does report)."""
    ws = book.ctx.workspace
    found = []
    for role in ws.config.journals:
        path = ws.journal_file(book.phase, role)
        if path is None or not path.is_file():
            continue
        parse = partial(parse_journal, file_name=path.name)
        parsed = book.ctx.index.parsed("journal-docs", path, read_text(path), parse)
        lines = [r.line for r in parsed.probe_records]
        origins = book.ctx.repo.line_origins(ws.repo_path(path), lines) if lines else {}
        found.append(JournalRead(role, ws.shown(path), parsed, origins))
    return found


def problems(book: Book, *, full: bool, journals: list[JournalRead] | None = None) -> list[Issue]:
    """What is wrong in a phase's books.

    `full` also parses whole journals (check does; `journals` when they are read already);
    status reads only what it must.
    """
    found = [] if full else config_problems(book.ctx)  # status lists the workspace's with each phase
    found += _status_problems(book) + _evidence_problems(book)
    if not full:
        return found + _mismatches(book)
    for read in journals if journals is not None else read_journals(book):
        found += _journal_problems(book, read)
    return found


def _status_problems(book: Book) -> list[Issue]:
    """The spec's, and the STATUS file's: removed, forged, unsigned and unknown records, a stale PASS."""
    name, p, doc = book.status_name, book.phase, book.doc
    spec_problems = book.spec_state.problems if book.spec_state else ()
    found = [Issue(i.code, i.message, None, i.file, None, p) for i in spec_problems]
    found += [Issue(i.code, i.message, None, name, None, p) for i in book.removed_issues()]
    found += [Issue("parse-warning", w.message, None, name, w.line, p) for w in doc.warnings]
    spec_ids = {m.id for m in book.spec.milestones} if book.spec else set()
    for view in book.views.values():
        for forged in view.forged:
            kind = "verdict" if forged.record.is_verdict else "claim"
            how = (
                "is not committed"
                if forged.origin is None
                else f"was committed by {forged.origin.sha[:12]} ({forged.origin.author.email}) "
                f"without `loopkit {kind}`"
            )
            message = f"{forged.record.kind} {view.id} {how}; it counts as no {kind}"
            found.append(Issue(f"forged-{kind}", message, view.id, name, forged.record.line, p))
        for unsigned in view.unsigned:
            message = f"{unsigned.item.record.kind} {view.id} counts as none: {unsigned.reason}"
            found.append(Issue(unsigned.code, message, view.id, name, unsigned.item.record.line, p))
        section = doc.section(view.id)
        if book.spec is not None and view.id not in spec_ids and section is not None and section.records:
            message = f"{name} has records for {view.id}, which phases/{p}.toml does not name"
            found.append(Issue("unknown-milestone", message, view.id, name, section.line, p))
    if book.done_unsigned is not None and doc.done is not None:
        found.append(Issue(book.done_unsigned.code, book.done_unsigned.message, None, name, doc.done.line, p))
    if doc.done_line is None and book.spec is not None and book.opened:
        gate = [i for i in book.done_gate() if i.code == "stale-verdict"]
        found += [Issue("stale-verdict", i.message, i.milestone, name, None, p) for i in gate]
    return found


def _evidence_problems(book: Book) -> list[Issue]:
    """Stale evidence of a milestone not passed, and flaky probes ([rules] replay, SPEC section 11)."""
    if not book.spec or book.doc.done_line is not None:
        return []
    ws, p = book.ctx.workspace, book.phase
    journal, review = ws.journal_file(p, "builder"), ws.journal_file(p, "adversary")
    found: list[Issue] = []
    for m in (m for m in book.spec.milestones if book.views[m.id].state != "passed"):
        ev = book.evidence(m.id)
        for probe in ev.stale:
            why, line = stale_why(m.id, probe, ev), ev.latest[probe].line or None
            found.append(Issue("stale-evidence", why, m.id, ws.shown(journal) if journal else None, line, p))
    for m in book.spec.milestones:
        for probe in book.flaky(m.id):
            record = book.adversary_latest[(m.id, probe)]
            message = (
                f"{m.id} {probe}: the builder's run PASSes and the adversary's {record.result}s at the same "
                "code; find out why before anyone passes it"
            )
            shown = ws.shown(review) if review else None
            found.append(Issue("flaky", message, m.id, shown, record.line or None, p))
    return found


def _mismatches(book: Book) -> list[Issue]:
    """Evidence blocks edited by hand, as status knows them without parsing whole journals."""
    journal = book.ctx.workspace.journal_file(book.phase, "builder")
    shown = book.ctx.workspace.shown(journal) if journal else None
    return [
        Issue("evidence-mismatch", f"{mid} {probe}: the evidence block was edited by hand", mid, shown,
              line or None, book.phase)
        for (mid, probe), line in sorted(book.mismatched.items())
    ]  # fmt: skip


def _journal_problems(book: Book, read: JournalRead) -> list[Issue]:
    """One whole journal's: parse warnings, hand-edited blocks, forged records, unknown milestones."""
    shown, parsed, origins, p = read.shown, read.parsed, read.origins, book.phase
    found = [Issue("parse-warning", w.message, None, shown, w.line, p) for w in parsed.warnings]
    found += [Issue("evidence-mismatch", m.message, None, shown, m.line, p) for m in parsed.mismatches]
    spec_ids = {m.id for m in book.spec.milestones} if book.spec else set()
    config = book.ctx.workspace.config
    for record in parsed.probe_records:
        origin = origins.get(record.line)
        if not is_genuine_evidence(record, origin, config, read.role):
            how = (
                "is not committed"
                if origin is None
                else f"was added by {origin.sha[:12]} ({origin.author.email}), not by loopkit's "
                "evidence commit for it"
            )
            message = f"{record.milestone} {record.probe} record {how}; it counts as no evidence"
            found.append(Issue("forged-evidence", message, record.milestone, shown, record.line, p))
        if record.milestone not in spec_ids and book.spec is not None:
            message = f"evidence for {record.milestone}, which the spec does not name"
            found.append(Issue("unknown-milestone", message, record.milestone, shown, record.line, p))
    return found


def _record(item: Genuine, *, genuine: bool) -> TimelineRecord:
    """One claim, verdict or forged record of a milestone's timeline (report detail)."""
    from loopkit.documents.report import TimelineRecord

    record, origin = item.record, item.origin
    email = origin.author.email if origin else None
    sha = origin.sha if origin else None
    return TimelineRecord(
        record.kind, record.at, record.by, record.note, record.ref, sha, email, genuine, record.line
    )


def _evidence_record(journal: JournalRead, record: ProbeRecord) -> TimelineEvidence:
    """One genuine probe record of a milestone's timeline (report detail)."""
    from loopkit.documents.report import TimelineEvidence

    origin = journal.origins.get(record.line)
    return TimelineEvidence(
        "EVIDENCE",
        record.probe,
        record.title,
        record.result,
        record.observed,
        record.at,
        journal.role,
        record.head,
        origin.sha if origin else None,
        genuine=True,
        line=record.line,
    )


def _timeline(
    book: Book, mid: str, journals: list[JournalRead], history: dict[str, int]
) -> tuple[TimelineRecord | TimelineEvidence, ...]:
    """Every genuine evidence record of the milestone (every role's journal), its claims,
    verdicts and forged records, in history order (SPEC section 1): by the commit that added each
    (`history`: oldest first), then within one file by place; uncommitted records last."""
    view = book.views[mid]
    items = [(g, True) for g in (*view.claims, *view.verdicts)] + [(g, False) for g in view.forged]
    items += [(u.item, False) for u in view.unsigned]  # a signed role's record whose signature fails
    keyed: list[tuple[tuple[int, int, int], TimelineRecord | TimelineEvidence]] = [
        ((_place(g.origin, history), 0, g.record.line), _record(g, genuine=ok)) for g, ok in items
    ]
    config = book.ctx.workspace.config
    for rank, journal in enumerate(journals, start=1):
        for record in journal.parsed.probe_records:
            origin = journal.origins.get(record.line)
            if record.milestone != mid or origin is None:
                continue
            if is_genuine_evidence(record, origin, config, journal.role):
                keyed.append(
                    ((_place(origin, history), rank, record.line), _evidence_record(journal, record))
                )
    return tuple(entry for _, entry in sorted(keyed, key=lambda pair: pair[0]))


def _place(origin: Origin | None, history: dict[str, int]) -> int:
    """A record's place in history: its commit's; after every commit when uncommitted."""
    if origin is None:
        return len(history) + 1
    return history.get(origin.sha, len(history))


def _probes(book: Book, mid: str) -> tuple[ProbeState, ...]:
    """The latest record of each probe the milestone requires, with what the evidence view made of
    it and, when stale, why. A DONE phase is history (SPEC section 3): nothing of it is stale."""
    from loopkit.documents.report import ProbeState

    evidence = book.evidence(mid)
    spec_m = book.spec.milestone(mid) if book.spec else None
    titles = {p.id: p.title for p in spec_m.probes} if spec_m else {}
    out = []
    for probe in evidence.required:
        record = evidence.latest.get(probe)
        kinds = ("passing", "failing", "missing", "stale")
        verdict = next((k for k in kinds if probe in getattr(evidence, k)), "missing")
        why = None
        if verdict == "stale":
            if book.done:
                verdict = "passing"
            else:
                why = stale_why(mid, probe, evidence)
        title = record.title if record else titles.get(probe, probe)
        if record is None:
            out.append(ProbeState(probe, title, verdict, why, None, None, None, None, None))
        else:
            shown = (record.result, record.observed, record.at, record.head, record.command)
            out.append(ProbeState(probe, title, verdict, why, *shown))
    return tuple(sorted(out, key=lambda p: (p.at is None, p.at or "", p.probe)))


def _history(ctx: Context, books: Sequence[Book]) -> dict[str, int]:
    """The commits that touched these phases' STATUS files and journals, oldest = 0: one order
    in which a phase's records of every file compare (report's timelines)."""
    ws = ctx.workspace
    if ws.repo_root is None or ctx.repo.head is None:
        return {}
    paths = [ws.repo_path(b.status_path) for b in books]
    for book in books:
        paths += [ws.repo_path(j) for role in ws.config.journals if (j := ws.journal_file(book.phase, role))]
    log = ctx.repo.run(
        "log", "--no-show-signature", "--topo-order", "--format=%H", ctx.repo.head, "--", *paths
    )
    return {sha: index for index, sha in enumerate(reversed(log.split()))}


def phase_view(book: Book, *, detail: bool = False, history: dict[str, int] | None = None) -> PhaseStatus:
    """One phase as `status --json` shows it; `detail` adds what `report` shows besides (timelines
    of every genuine record, the latest evidence, pending messages, check's problems) from the
    same reading; `history` orders the timelines (_history)."""
    journals = read_journals(book) if detail else []
    milestones = []
    for view in book.views.values():
        claim = view.claim
        verdict = view.current or (view.verdict if claim is not None else None)  # none without a claim
        ev = book.evidence(view.id)
        summary = EvidenceSummary(
            *(tuple(v) for v in (ev.required, ev.passing, ev.failing, ev.missing, ev.stale))
        )
        more = None
        if detail:
            more = MilestoneDetail(_timeline(book, view.id, journals, history or {}), _probes(book, view.id))
        milestones.append(
            MilestoneStatus(
                view.id, view.title, view.state, _claim_view(claim), _verdict_view(verdict), summary, more
            )
        )
    counts, pending, times = _activity(book)
    done = book.done
    ready = not done and book.opened and not book.done_gate()
    title = (book.spec.title if book.spec else None) or book.doc.title or book.phase
    state = phase_state(opened=book.opened, done=done, ready=ready, views=book.views)
    found = problems(book, full=detail, journals=journals)  # with detail, check's problems of the phase
    extra = None
    if detail:  # messages stable-sorted by time: then file order
        messages = tuple(sorted(pending, key=lambda m: m.at or ""))
        extra = PhaseDetail(messages, book.status_name, book.spec.plan if book.spec else None)
    return PhaseStatus(
        book.phase,
        title,
        state,
        done,
        tuple(milestones),
        counts,
        WAITING_ON[state],
        max(times) if times else None,
        tuple(problem(p) for p in found),
        detail=extra,
    )


def _claim_view(claim: Genuine | None) -> ClaimView | None:
    if claim is None:
        return None
    r = claim.record
    return ClaimView(r.at, r.by, claim.origin.sha if claim.origin else None, r.ref, r.code, r.id, r.note)


def _verdict_view(verdict: Genuine | None) -> VerdictView | None:
    if verdict is None:
        return None
    r = verdict.record
    return VerdictView(r.at, r.by, r.kind, r.ref, r.claim_id, r.note)


def _activity(book: Book) -> tuple[dict[str, int], list[Message], list[str]]:
    """Pending messages per role, those messages, and every time the phase's books name."""
    ws = book.ctx.workspace
    counts: dict[str, int] = {}
    pending: list[Message] = []
    times = [r.at for r in book.doc.records]
    if book.doc.done is not None:
        times.append(book.doc.done.at)
    for role in ROLES:
        messages = [p.message for p in read_inbox(book.ctx, role) if p.message.phase in (None, book.phase)]
        counts[role] = len(messages)
        times += [m.at for m in messages if m.at]
        pending += messages
    for role in ws.config.journals:
        path = ws.journal_file(book.phase, role)
        if path is not None:
            at = book.ctx.index.journal_time(path)
            if at:
                times.append(at)
    return counts, pending, times


def problem(issue: Issue) -> Problem:
    """An Issue as check and status list it, with its phase, file and line."""
    return Problem(issue.code, issue.phase, issue.milestone, issue.file, issue.line, issue.message)


def _books(
    ctx: Context, phase: str | None, only: list[str] | None = None, *, roles: Sequence[str] = ("builder",)
) -> list[Book]:
    """Every phase's book (or `only` these), with the history of all their STATUS files read in
    one git call, and the origins of the lines of their STATUS files and of these roles' journals
    from one walk (status reads the builder's evidence, and the adversary's with `[rules] replay`;
    check reads every journal's)."""
    if ctx.workspace.config.replay and "adversary" not in roles:
        roles = (*roles, "adversary")
    with _history_ahead(ctx, phase, only, roles):
        return _read_books(ctx, phase, only, roles)


def _history_ahead(
    ctx: Context, phase: str | None, only: list[str] | None, roles: Sequence[str]
) -> contextlib.AbstractContextManager[None]:
    """Every phase's status (or the memo's `only`): history's logs are started before the books
    are read (Repo.expecting), guessed from the same phases the books are read for."""
    ws = ctx.workspace
    if phase is not None or ws.repo_root is None:
        return contextlib.nullcontext()
    every = ws.phases() if only is None else only
    statuses = [ws.status_file(p) for p in every]
    return ctx.repo.expecting(
        [ws.repo_path(f) for f in statuses if f.is_file()], _journals(ctx, every, roles)
    )


def _journals(ctx: Context, phases: Sequence[str], roles: Sequence[str]) -> list[str]:
    """The journals of these roles in these phases that exist, as repository paths."""
    ws = ctx.workspace
    found = [ws.journal_file(p, role) for p in phases for role in roles]
    return [ws.repo_path(j) for j in found if j is not None and j.is_file()]


def _read_books(ctx: Context, phase: str | None, only: list[str] | None, roles: Sequence[str]) -> list[Book]:
    every = [phase] if phase is not None else ctx.workspace.phases() if only is None else only
    books = [load(ctx, p, need_spec=False) for p in every]  # exit 4 for a phase that does not exist
    with_records = [ctx.workspace.repo_path(b.status_path) for b in books if b.doc.records and b.opened]
    if with_records:
        ctx.repo.prefetch(with_records)
    if ctx.workspace.repo_root is not None:
        # every phase's STATUS records and builder's evidence lines from one replay of history,
        # not one blame each: the books then ask for their origins one phase at a time
        ctx.repo.prefetch_origins(with_records + _journals(ctx, [b.phase for b in books if b.spec], roles))
    opened = [ctx.workspace.repo_path(b.status_path) for b in books if b.opened]
    if opened:
        written = ctx.repo.record_lines(opened)  # one git process for every phase's record history
        config = ctx.workspace.config
        if config.signed:
            # one verification for every record commit of a signed role; the books ask the memo
            signatures(ctx, [sha for lines in written.values() for sha in record_shas(lines, config)])
    if ctx.workspace.repo_root is not None:
        # staleness compares each claim's and each evidence record's commit with HEAD: their trees
        # are read in a few rounds when the first is needed, not one question each
        revs = [r.ref for b in books for r in b.doc.records if r.ref]
        revs += [r.head for b in books for r in b.latest.values() if r.head]
        if ctx.workspace.config.replay:  # the adversary's runs are compared with claims and the builder's
            revs += [r.head for b in books for r in b.adversary_latest.values() if r.head]
        ctx.repo.expect_trees(revs)
    return books


def read_status(
    ctx: Context,
    *,
    phase: str | None,
    detail: bool = False,
    only: list[str] | None = None,
    watching: dict[str, bool] | None = None,
) -> StatusDocument:
    """status's document read from the books (services/status.py serves it from its memo).

    For the memo: `only` reads just these phases (in this order); `watching` is told, for each
    phase read, whether its view may change with any new commit, not only one touching its own
    books. Staleness reads only code (scopes match code paths, never workspace files), which a
    commit of workspace files leaves as it was: only a phase without a spec is watched."""
    ws = ctx.workspace
    books = _books(ctx, phase, only, roles=list(ws.config.journals) if detail else ("builder",))
    history = _history(ctx, books) if detail else None
    phases = tuple(phase_view(book, detail=detail, history=history) for book in books)
    # with detail, each phase's and the workspace's problems are exactly check's
    found = tuple(problem(i) for i in workspace_problems(ctx)) if detail else None
    if watching is not None:
        for book in books:
            watching[book.phase] = book.spec is None
    _save_cache(ctx)
    return StatusDocument(ws.rel or ".", phases, found)


def config_problems(ctx: Context) -> list[Issue]:
    """Changes to loopkit.toml's [roles], [rules] or [files] that do not count (SPEC section 2:
    `untrusted-config`): the workspace's, so every phase's status lists them, and check once."""
    ws = ctx.workspace
    shown = ws.shown(ws.root / CONFIG_NAME)
    return [Issue(p.code, p.message, file=shown) for p in ws.config_problems]


def signer_problems(ctx: Context) -> list[Issue]:
    """The trust chain of allowed_signers (SPEC section 10), when some role signs."""
    ws = ctx.workspace
    if not ws.config.signed or ws.repo_root is None:
        return []
    chain = trusted(ctx)
    found = [Issue(p.code, p.message, file=p.file) for p in chain.problems]
    if chain.source == "none" and not found:
        found.append(
            Issue(
                "untrusted-signers",
                f"[rules] signed names {', '.join(ws.config.signed)}, but no allowed_signers is "
                "committed: no signed record counts (docs/signing.md)",
                file="allowed_signers",
            )
        )
    return found


def workspace_problems(ctx: Context) -> list[Issue]:
    """The problems of no one phase: loopkit.toml's and allowed_signers' (check lists them first)."""
    return config_problems(ctx) + signer_problems(ctx)


def check(ctx: Context, *, phase: str | None) -> CheckDocument:
    found = workspace_problems(ctx) + [
        issue
        for book in _books(ctx, phase, roles=list(ctx.workspace.config.journals))
        for issue in problems(book, full=True)
    ]
    _save_cache(ctx)
    return CheckDocument(not found, tuple(problem(i) for i in found))


def _save_cache(ctx: Context) -> None:
    """What status and check learnt, kept in the index for the next run (loopkit/index.py)."""
    ctx.index.save()
