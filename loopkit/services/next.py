"""next: what the current role should do next, phase by phase, each action with its exact command.

Nothing here decides a rule of its own: states come from `view.phase_view` (what `status` says),
evidence and the DONE gate from the phase's `Book` (what `claim`, `gate` and `done` check). This
module only maps those answers to a move for one role, so `next` cannot disagree with the gate.
"""

from __future__ import annotations

import shlex
from typing import Any

from loopkit import names
from loopkit.documents.next import NextAction, NextDocument, ToolCall
from loopkit.errors import BadInput
from loopkit.model.inbox import Message
from loopkit.services.book import Book, load
from loopkit.services.context import Context
from loopkit.services.inbox import list_messages
from loopkit.services.view import WAITING_ON, phase_view
from loopkit.state import MilestoneView, scope_changes


def _action(
    phase: str | None,
    milestone: str | None,
    action: str,
    why: str,
    argv: tuple[str, ...] | None = None,
    tool: str | None = None,
    arguments: dict[str, Any] | None = None,
) -> NextAction:
    """The next move for a role: `argv` the loopkit command without `loopkit`, `tool` and
    `arguments` the same move as an MCP tool call."""
    command = None if argv is None else shlex.join(("loopkit", *argv))
    call = None if tool is None else ToolCall(tool, arguments or {})
    return NextAction(phase, milestone, action, command, why, call)


def next_actions(ctx: Context, *, phase: str | None) -> NextDocument:
    role = ctx.need_role(doing="say what to do next")
    actions = _consume_actions(ctx, role, phase)
    for name, book in _books(ctx, phase):
        if isinstance(book, BadInput):
            if role == "orchestrator":
                actions.append(_action(name, None, "fix", book.message))
            continue
        state = phase_view(book).state
        if state == "done":
            if phase is not None:  # asked about it; else finished phases would bury the live ones
                actions.append(_action(name, None, "nothing", f"phase {name} is DONE"))
            continue
        actions += _for_role(role, book, state)
    if not actions:
        actions.append(_action(phase, None, "nothing", f"no phase needs the {role}"))
    return NextDocument(role, tuple(actions))


def _books(ctx: Context, phase: str | None) -> list[tuple[str, Book | BadInput]]:
    """Each phase's book (a spec that does not load is its error), with every STATUS file's
    history read in one git call, as `status` does."""
    if phase is not None:
        names.phase(phase)
        return [(phase, load(ctx, phase))]  # exit 4 for a phase that does not exist
    found: list[tuple[str, Book | BadInput]] = []
    for name in ctx.workspace.phases():
        try:
            found.append((name, load(ctx, name)))
        except BadInput as exc:
            found.append((name, exc))
    paths = [
        ctx.workspace.repo_path(b.status_path)
        for _, b in found
        if isinstance(b, Book) and b.doc.records and b.opened
    ]
    if paths:
        ctx.repo.prefetch(paths)
    return found


def _consume_actions(ctx: Context, role: str, phase: str | None) -> list[NextAction]:
    """Pending messages come first: one action per phase they name (or none), oldest first."""
    messages = list_messages(ctx, to=role, phase=None).messages
    groups: dict[str | None, list[Message]] = {}
    for message in messages:
        if phase is None or message.phase in (None, phase):
            groups.setdefault(message.phase, []).append(message)
    out = []
    for group_phase, group in groups.items():
        ids = [m.id for m in group]
        subjects = "; ".join(f"{m.sender}: {m.subject}" for m in group[:3])
        more = f" and {len(group) - 3} more" if len(group) > 3 else ""
        why = f"{len(group)} pending message(s) — {subjects}{more}"
        argv = ("inbox", "consume", "--to", role, *ids)
        arguments = {"to": role, "ids": ids}
        out.append(_action(group_phase, None, "consume", why, argv, "inbox_consume", arguments))
    return out


def _for_role(role: str, book: Book, state: str) -> list[NextAction]:
    phase = book.phase
    if state == "planned":
        if role == "orchestrator" and book.spec is not None:
            why = f"phases/{phase}.toml has no STATUS yet"
            return [_action(phase, None, "open", why, ("phase", "new", phase), "phase_new", {"phase": phase})]
        return [_action(phase, None, "wait", f"phase {phase} is not open yet: the orchestrator opens it")]
    if role == "builder":
        return _builder(book, state)
    if role == "adversary":
        reviews = [a for view in book.views.values() if view.claim_open for a in _review(book, view)]
        if reviews:
            return reviews
    return [_waiting(book, state, role)]


def _waiting(book: Book, state: str, role: str) -> NextAction:
    who = WAITING_ON.get(state)
    if who == role:  # e.g. the adversary with no open claim while the builder's STATUS is odd
        return _action(book.phase, None, "nothing", f"phase {book.phase} is {state}")
    why = f"phase {book.phase} is {state}" + (f": waiting on the {who}" if who else "")
    return _action(book.phase, None, "wait", why)


def _review(book: Book, view: MilestoneView) -> list[NextAction]:
    """Review an open claim; with `[rules] replay`, the adversary's own `probe run` first, since a
    PASS without it is refused (the verdict service asks Book.unreplayed too)."""
    unreplayed = book.unreplayed(view.id)
    if not unreplayed:
        return [_verdict(book, view)]
    why = "; ".join(u.message for u in unreplayed) + (
        ": [rules] replay asks for your own run of each required probe at the claim's code before a PASS"
    )
    return [_probe_run(book.phase, view.id, why), _verdict(book, view)]


def _verdict(book: Book, view: MilestoneView) -> NextAction:
    claim = view.claim
    assert claim is not None
    commit = claim.origin.sha[:12] if claim.origin else "?"
    head = (claim.record.ref or "?")[:12]
    why = (
        f"{view.id} claimed by {claim.record.by} at {claim.record.at} (commit {commit}, head {head}): "
        "run your own break-it probes; this command records PASS if they hold, else record FAIL with a note"
    )
    argv = ("verdict", "--phase", book.phase, "--milestone", view.id, "PASS")
    arguments = {"phase": book.phase, "milestone": view.id, "result": "PASS"}
    return _action(book.phase, view.id, "review", why, argv, "verdict", arguments)


def _builder(book: Book, state: str) -> list[NextAction]:
    phase = book.phase
    views = book.views
    spec_ids = [m.id for m in book.spec.milestones] if book.spec else list(views)
    all_passed = bool(spec_ids) and all(views[m].state == "passed" for m in spec_ids)
    unmet = book.done_gate() if all_passed else []
    # a PASS goes stale (gate condition 2) only for the newest PASS or through `paths`; while
    # other milestones are still open the newest PASS moves, so only act on it at the end
    redo = {u.milestone for u in unmet if u.code == "stale-verdict" and u.milestone}
    out: list[NextAction] = []
    for mid in spec_ids:
        view = views[mid]
        if view.claim_open:
            out.append(_action(phase, mid, "wait", f"{mid} is claimed: waiting on the adversary's verdict"))
        elif view.state == "passed" and mid not in redo:
            continue
        elif view.state == "failed" and not _changed_since_claim(book, view):
            assert view.verdict is not None
            note = view.verdict.record.note or "FAIL (no note)"
            out.append(_action(phase, mid, "fix", f"{mid} FAIL by {view.verdict.record.by}: {note}"))
        else:
            out.append(_probe_or_claim(book, mid, stale_pass=mid in redo))
    if all_passed:
        rest = [u for u in unmet if u.code not in ("stale-verdict", "inbox-pending")]
        for issue in rest:
            out.append(_action(phase, issue.milestone, "fix", f"{issue.code}: {issue.message}"))
        if not redo and not rest:
            pending = any(u.code == "inbox-pending" for u in unmet)
            why = "every milestone has a current PASS: the DONE gate holds"
            if pending:
                why += " once the builder inbox is consumed"
            out.append(
                _action(phase, None, "done", why, ("done", "--phase", phase), "done", {"phase": phase})
            )
    return out


def _changed_since_claim(book: Book, view: MilestoneView) -> bool:
    """Has committed code of the milestone's scope moved since the claim that failed?"""
    claim = view.claim
    if claim is None:
        return True
    scope = book.spec.scope(view.id) if book.spec else ()
    changed = scope_changes(claim.record.code, claim.record.ref, book.facts, scope)
    return changed is None or bool(changed)


def _probe_or_claim(book: Book, mid: str, *, stale_pass: bool) -> NextAction:
    phase = book.phase
    evidence = book.evidence(mid)
    reasons = [f"{p}: no evidence yet" for p in evidence.missing]
    for p in evidence.failing:
        record = evidence.latest[p]
        reasons.append(f"{p}: latest record {record.result} (observed {record.observed!r})")
    for p in evidence.stale:
        reasons.append(f"{p}: stale ({evidence.why[p].words()})")
    if reasons:
        return _probe_run(phase, mid, "; ".join(reasons))
    why = f"{mid}: every required probe passes on committed code"
    if stale_pass:
        found = book.stale_passes().get(mid)
        words = found[1].words() if found is not None else "code changed since"
        why = f"{mid}: its PASS is stale ({words}); claim it again"
    elif book.views[mid].state == "failed":
        why = f"{mid}: changed since the FAIL and every required probe passes; claim it again"
    argv = ("claim", "--phase", phase, "--milestone", mid)
    return _action(phase, mid, "claim", why, argv, "claim", {"phase": phase, "milestone": mid})


def _probe_run(phase: str, mid: str, why: str) -> NextAction:
    argv = ("probe", "run", "--phase", phase, "--milestone", mid)
    return _action(phase, mid, "probe", why, argv, "probe_run", {"phase": phase, "milestone": mid})
