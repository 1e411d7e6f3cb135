"""Pure rules: which records are genuine, milestone and phase states, the claim gate, the DONE gate,
staleness and problems. Every git fact comes in as data, so these are plain functions to test."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from loopkit.model.config import Config, PhaseSpec, ProbeSpec
from loopkit.model.git import Origin
from loopkit.model.inbox import Message
from loopkit.model.journal import ProbeRecord
from loopkit.model.status import StatusDoc, StatusRecord
from loopkit.records import status as status_records
from loopkit.scope import few, in_scope
from loopkit.signed import Signature
from loopkit.trust import Issue, signature_problem

# changed(old, new) -> paths that differ (outside the workspace, where the caller prunes it),
# or None when a commit is unknown
Changed = Callable[[str, str], "list[str] | None"]


@dataclass(frozen=True)
class Genuine:
    """A STATUS record and the commit that wrote it (None: typed by hand, uncommitted)."""

    record: StatusRecord
    origin: Origin | None
    order: int  # history order of that commit; uncommitted lines come last


@dataclass(frozen=True)
class Unsigned:
    """A record that counts as none for a reason other than a forgery (SPEC sections 3 and 10):
    `code` is "unsigned-record" or "bad-signature" (a signed role's commit whose signature does
    not count) or "duplicate-claim" (a claim reusing an earlier claim's id); `reason` says why."""

    item: Genuine
    code: str
    reason: str


@dataclass
class MilestoneView:
    """A milestone as the rules see it: its claims, verdicts and evidence.

    `claims` and `verdicts` hold the genuine records only; `forged` and `unsigned` the records that
    count as none (SPEC section 3: they neither satisfy nor block a gate; check and status report
    them)."""

    id: str
    title: str
    claims: list[Genuine] = field(default_factory=list)
    verdicts: list[Genuine] = field(default_factory=list)
    forged: list[Genuine] = field(default_factory=list)
    unsigned: list[Unsigned] = field(default_factory=list)

    @property
    def claim(self) -> Genuine | None:
        """The latest genuine claim (file order within the section)."""
        return self.claims[-1] if self.claims else None

    @property
    def verdict(self) -> Genuine | None:
        """The latest genuine verdict, whichever claim it names (history)."""
        return self.verdicts[-1] if self.verdicts else None

    @property
    def current(self) -> Genuine | None:
        """SPEC section 3: the latest verdict that names the latest claim. A verdict naming an
        earlier claim is history, wherever a merge of two clones put its line; a milestone without a
        genuine claim has no current verdict, whatever verdict lines it holds."""
        claim = self.claim
        if claim is None:
            return None
        others = {c.origin.sha for c in self.claims if c is not claim and c.origin is not None}
        others |= {u.item.origin.sha for u in self.unsigned if u.item.origin and not u.item.record.is_verdict}
        named = [v for v in self.verdicts if names_claim(v, claim, others)]
        return named[-1] if named else None

    @property
    def state(self) -> str:
        current = self.current
        if current is not None:
            return "passed" if current.record.kind == "PASS" else "failed"
        return "claimed" if self.claim is not None else "open"

    @property
    def claim_open(self) -> bool:
        return self.claim is not None and self.current is None


def names_claim(verdict: Genuine, claim: Genuine, others: Collection[str] = ()) -> bool:
    """A verdict binds to the claim recorded by the commit it names. Where both carry claim ids
    (unique: a claim reusing an id counts as none, `milestone_views`), the id binds, so a rewrite
    of pushed history that gave the claim a new commit keeps the binding (SPEC section 7), unless
    the commit the verdict names recorded another claim (`others`: the commits of the milestone's
    other claim records), which is then the one it names (SPEC section 3)."""
    named = claim.origin is not None and verdict.record.ref == claim.origin.sha
    if verdict.record.claim_id and claim.record.id:
        return verdict.record.claim_id == claim.record.id and (named or verdict.record.ref not in others)
    return named


# the role whose command writes each kind of STATUS record, and the action its commit names
RECORD_WRITER: dict[str, tuple[str, str]] = {
    "CLAIM": ("builder", "claim"),
    "PASS": ("adversary", "verdict"),
    "FAIL": ("adversary", "verdict"),
    "DONE": ("builder", "done"),
}


def provenance(
    record: StatusRecord,
    origin: Origin | None,
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
    *,
    phase: str | None = None,
) -> tuple[str, str] | None:
    """The one provenance rule of STATUS records (SPEC sections 3 and 10): None when the record is
    genuine, else (code, reason) of why it counts as none.

    Genuine: the commit that added the line (git blame; None: typed, uncommitted) is authored by
    the role's identity and carries loopkit's trailers for it (`Loopkit-Action`, the milestone,
    the verdict, the phase when `phase` is given), and, for a role in `[rules] signed`, is signed
    by a key allowed for that role (`signatures`: the verifier's answers, None while no role
    signs). The committer does not count (a rebase by hand changes it). A signature problem is
    reported as such (`unsigned-record`, `bad-signature`) rather than as `forged-*`."""
    role, action = RECORD_WRITER[record.kind]
    problem = signature_problem(role, origin, config, signatures)
    if problem is not None:
        return problem
    if origin is None:
        return f"forged-{action}", "is not committed"
    trailers = origin.trailers
    genuine = (
        origin.author.email == config.identities[role].email
        and trailers.get("Loopkit-Action") == action
        and (phase is None or trailers.get("Loopkit-Phase") == phase)
        and (action == "done" or trailers.get("Loopkit-Milestone") == record.milestone)
        and (not record.is_verdict or trailers.get("Loopkit-Verdict") == record.kind)
    )
    if genuine:
        return None
    return (
        f"forged-{action}",
        f"was committed by {origin.sha[:12]} ({origin.author.email}) without `loopkit {action}`",
    )


def is_genuine(
    record: StatusRecord,
    origin: Origin | None,
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
    *,
    phase: str | None = None,
) -> bool:
    """Whether a STATUS record counts: what the gates count, what `removed-record` protects, what
    `check` and `status` do not report (`provenance`, signatures included)."""
    return provenance(record, origin, config, signatures, phase=phase) is None


def signed_shas(doc: StatusDoc, origins: Sequence[Origin | None], config: Config) -> list[str]:
    """The commits whose signatures decide whether this STATUS's records count."""
    found: dict[str, None] = {}
    for record in doc.records:
        if RECORD_WRITER[record.kind][0] not in config.signed:
            continue
        origin = origins[record.line - 1] if record.line - 1 < len(origins) else None
        if origin is not None:
            found[origin.sha] = None
    return list(found)


def record_shas(written: Sequence[tuple[Origin, str]], config: Config) -> list[str]:
    """The commits of history's record lines (`removed_records`) whose signatures decide them."""
    actions = {action for role, action in RECORD_WRITER.values() if role in config.signed}
    return list(dict.fromkeys(o.sha for o, _ in written if o.trailers.get("Loopkit-Action") in actions))


DUPLICATE = "duplicate-claim"
T = TypeVar("T")


@dataclass
class ClaimIds(Generic[T]):
    """The duplicate-claim rule (SPEC section 3), asked of genuine records in history order: a
    claim reusing an id an earlier genuine claim used counts as none; only a genuine claim uses
    up its id. `first`: each id -> what the caller keeps of the claim that used it."""

    first: dict[str, T] = field(default_factory=dict)

    def earlier(self, record: StatusRecord, item: T) -> T | None:
        """The earlier claim whose id this genuine `record` reuses; None: it counts (and, a
        claim with an id, uses its id up)."""
        if record.kind != "CLAIM" or record.id is None:
            return None
        if record.id in self.first:
            return self.first[record.id]
        self.first[record.id] = item
        return None


def milestone_views(
    doc: StatusDoc,
    spec: PhaseSpec | None,
    origins: Sequence[Origin | None],
    order: Mapping[str, int],
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
    *,
    phase: str | None = None,
) -> dict[str, MilestoneView]:
    """Milestones of the spec (and any extra sections), each with its genuine records and those
    that count as none (`provenance`; a claim whose id an earlier genuine claim used, in history
    order across the file, is a `duplicate-claim`)."""
    views: dict[str, MilestoneView] = {}
    for m in spec.milestones if spec else ():
        views[m.id] = MilestoneView(m.id, m.title)
    claims: list[tuple[MilestoneView, Genuine]] = []
    for section in doc.sections:
        view = views.setdefault(section.id, MilestoneView(section.id, section.title))
        for record in section.records:
            origin = origins[record.line - 1] if record.line - 1 < len(origins) else None
            rank = order.get(origin.sha, len(order)) if origin else len(order) + record.line
            item = Genuine(record, origin, rank)
            if record.kind == "DONE":
                continue
            problem = provenance(record, origin, config, signatures, phase=phase)
            if problem is None:
                if record.is_verdict:
                    view.verdicts.append(item)
                else:
                    claims.append((view, item))
            elif problem[0].startswith("forged-"):
                view.forged.append(item)
            else:
                view.unsigned.append(Unsigned(item, *problem))
    ids: ClaimIds[Genuine] = ClaimIds()
    in_history = sorted((item for _, item in claims), key=lambda item: (item.order, item.record.line))
    reused = {id(item): first for item in in_history if (first := ids.earlier(item.record, item))}
    for view, item in claims:  # file order
        if id(item) not in reused:
            view.claims.append(item)
            continue
        used = reused[id(item)].origin
        by = used.sha[:12] if used else "an earlier claim"
        why = f"its id {item.record.id} was used first by the claim of {by}"
        view.unsigned.append(Unsigned(item, DUPLICATE, why))
    for view in views.values():
        view.unsigned.sort(key=lambda u: u.item.record.line)
    return views


def removed_records(
    written: Sequence[tuple[Origin, str]],
    text: str,
    phase: str,
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
    *,
    doc: StatusDoc | None = None,
) -> list[str]:
    """Genuine records that history says loopkit wrote and the file no longer holds.

    STATUS records are append-only: deleting a FAIL (by an edit or a revert) must not bring an
    older PASS back, so a removed genuine record still counts as history and blocks the gate.
    Genuine is `is_genuine`, signatures included, and a claim reusing the id of an earlier genuine
    claim counts as none here as in `milestone_views`: removing a record that counts as none (a
    forgery, an unsigned or badly signed record, a replayed claim) is never `removed-record`.
    A record is present by the identity the merge driver unions it by (records/status.py) in
    `text`, the STATUS now (`doc`: its parse, when the caller holds it). `written` is newest
    first, as git log gives it."""
    from loopkit.markdown.status import parse_record

    present = status_records.identities(text, doc)
    missing: list[str] = []
    ids: ClaimIds[Origin] = ClaimIds()
    for origin, raw in reversed(written):  # oldest first: the first claim of an id is the one
        line = raw.rstrip("\r")
        if not line.startswith("- "):
            continue
        record = parse_record(line[2:])
        if record is None or not is_genuine(record, origin, config, signatures, phase=phase):
            continue
        if ids.earlier(record, origin) is None and status_records.identity(line) not in present:
            missing.append(line[2:])
    return list(dict.fromkeys(missing))


def removed_issues(removed: Sequence[str], status_file: str) -> list[Issue]:
    """`removed-record`, a gate condition beside SPEC section 3's five: each of `removed_records`."""
    return [
        Issue(
            "removed-record",
            f"{status_file} no longer holds a record loopkit wrote: {text[:120]}; "
            "records are append-only (restore the line, e.g. `git revert` the removal)",
        )
        for text in removed
    ]


def untrusted_spec(phase: str) -> Issue:
    """A gate needs the orchestrator's spec: without one, nothing the builder wrote counts."""
    return Issue(
        "untrusted-spec",
        f"phases/{phase}.toml was never committed by the orchestrator: "
        f"`loopkit phase update {phase}` (as the orchestrator) commits it",
    )


def is_genuine_evidence(
    record: ProbeRecord, origin: Origin | None, config: Config, role: str = "builder"
) -> bool:
    """A probe record counts only in loopkit's own evidence commit for the role that ran it.

    The commit that added the record's line (git blame) is authored by the role whose journal
    holds it and names this milestone and probe in its trailers. A record typed, pasted, quoted
    or left uncommitted counts as none.
    """
    if origin is None:
        return False
    trailers = origin.trailers
    # one commit may add several records (`probe run`): the i-th Milestone goes with the i-th Probe
    named = zip(
        trailers.get("Loopkit-Milestone", "").split("\n"),
        trailers.get("Loopkit-Probe", "").split("\n"),
        strict=False,
    )
    return (
        origin.author.email == config.identities[role].email
        and trailers.get("Loopkit-Action") == "evidence"
        and (record.milestone, record.probe) in set(named)
        and trailers.get("Loopkit-Role", role) == role
    )


def matches_spec(record: ProbeRecord, spec: ProbeSpec) -> bool:
    """A spec-defined probe id counts only with the spec's own command, observation and expectation."""
    import shlex

    try:
        same_command = record.command == spec.run or shlex.split(record.command) == shlex.split(spec.run)
    except ValueError:
        same_command = False
    return (
        same_command
        and record.observe == spec.observe
        and tuple(record.expect) == tuple(spec.expect)
        and tuple(record.expect_not) == tuple(spec.expect_not)
        and record.expect_exit == spec.expect_exit
    )


@dataclass(frozen=True)
class GitFacts:
    """What git says of the work tree and of the code, for the staleness rules."""

    head: str | None
    dirty_outside: list[str]
    changed: Changed  # paths outside the workspace that differ (a walk that may stop early)
    inside: Callable[[str], bool]
    changed_all: Changed | None = None  # every path that differs between two commits
    code: str | None = None  # the code id of HEAD (SPEC section 7)
    code_diff: Changed | None = None  # paths that differ between two code trees


@dataclass(frozen=True)
class Stale:
    """Why something is stale: the paths of its scope that made it so.

    `dirty`: it was recorded while these tracked files had uncommitted changes. Otherwise these
    files differ between the code it was about and the code now; `lost` when that cannot be told
    (its commit is not in this clone's history), and then `paths` is empty. `named`: the spec
    names scopes, so the words name the paths too (whose commit it was, among parallel builders);
    a spec without `paths` keeps the words it always had."""

    paths: tuple[str, ...]
    dirty: bool = False
    lost: bool = False
    named: bool = False

    def words(self, changed: str = "code changed since") -> str:
        """The reason in a few words, naming up to five paths when `named`."""
        if self.dirty:
            return "recorded with uncommitted changes" + (f" to {few(self.paths)}" if self.shown else "")
        if self.lost and self.named:
            return "the code it was recorded at is not in this clone's history"
        return changed + (f": {few(self.paths)}" if self.shown else "")

    @property
    def shown(self) -> bool:
        return self.named and bool(self.paths)


def scope_changes(
    code: str | None, head: str | None, facts: GitFacts, scope: Sequence[str]
) -> list[str] | None:
    """The files of a scope that differ between the code a record names (its code id, else its
    commit) and the code now; None when that cannot be told (its commit is not in history).

    Equal code ids answer at once; otherwise the two code trees are diffed (`code_diff`, asked
    once per pair in a command). A code tree this clone never built (a record made in another
    clone) is not at hand: the record's commit is diffed with HEAD instead, which differ in the
    same code files. Workspace files are never code."""
    if code is not None and facts.code is not None:
        if code == facts.code:
            return []
        found = facts.code_diff(code, facts.code) if facts.code_diff is not None else None
        if found is not None:
            return in_scope(found, scope)
    if head is None or facts.head is None:
        return None
    if head == facts.head:
        return []
    # the whole list when only some paths count; otherwise a walk that stops at the first one
    every = facts.changed_all if scope and facts.changed_all is not None else facts.changed
    found = every(head, facts.head)
    if found is None:
        return None
    return in_scope([p for p in found if not facts.inside(p)], scope)


def evidence_staleness(
    record: ProbeRecord, facts: GitFacts, scope: Sequence[str] = (), *, named: bool = False
) -> Stale | None:
    """SPEC section 3, claim gate: a record is stale when a file of its milestone's scope differs
    between the code it was recorded at and the code now, or when it was recorded while tracked
    files of that scope had uncommitted changes. None: fresh."""
    if record.dirty:
        if not record.dirty_paths:  # an older record that did not list them: any may be in scope
            return Stale((), dirty=True, named=named)
        hits = in_scope(record.dirty_paths, scope)
        if hits:
            return Stale(tuple(hits), dirty=True, named=named)
    found = scope_changes(record.code, record.head, facts, scope)
    if found is None:
        return Stale((), lost=True, named=named)
    return Stale(tuple(found), named=named) if found else None


def evidence_is_stale(
    record: ProbeRecord,
    *,
    head: str | None,
    changed: Changed,
    inside: Callable[[str], bool],
    code: str | None = None,
) -> bool:
    """Whether a record is stale for a milestone whose scope is all the code (evidence_staleness)."""
    facts = GitFacts(head=head, dirty_outside=[], changed=changed, inside=inside, code=code)
    return evidence_staleness(record, facts) is not None


@dataclass(frozen=True)
class EvidenceView:
    """The latest genuine evidence of one required probe, and whether it is stale (and why)."""

    required: list[str]
    passing: list[str]
    failing: list[str]
    missing: list[str]
    stale: list[str]
    latest: dict[str, ProbeRecord]
    why: dict[str, Stale] = field(default_factory=dict)  # each stale probe's reason

    def stale_paths(self) -> dict[str, list[str]]:
        """For each stale probe, the paths of the scope that made it stale (`evidence --json`)."""
        return {p: list(self.why[p].paths) for p in self.stale if p in self.why}


def evidence_view(
    required: Sequence[str],
    latest: Mapping[str, ProbeRecord],
    *,
    facts: GitFacts,
    scope: Sequence[str] = (),
    named: bool = False,
    history: bool = False,
) -> EvidenceView:
    """The evidence of one milestone against its scope; `named`: the spec names scopes (Stale);
    `history`: its phase is DONE, and nothing of it goes stale."""
    passing, failing, missing, stale = [], [], [], []
    why: dict[str, Stale] = {}
    for probe in required:
        record = latest.get(probe)
        if record is None:
            missing.append(probe)
            continue
        if record.result != "PASS":
            failing.append(probe)
            continue
        reason = None if history else evidence_staleness(record, facts, scope, named=named)
        if reason is None:
            passing.append(probe)
        else:
            stale.append(probe)
            why[probe] = reason
    return EvidenceView(list(required), passing, failing, missing, stale, dict(latest), why)


def claim_gate(milestone: str, view: EvidenceView) -> list[Issue]:
    issues = [
        Issue("missing-evidence", f"{milestone} {p}: no evidence recorded", milestone) for p in view.missing
    ]
    for probe in view.failing:
        record = view.latest[probe]
        issues.append(
            Issue(
                "failing-evidence",
                f"{milestone} {probe}: latest record is {record.result} (observed {record.observed!r})",
                milestone,
            )
        )
    for probe in view.stale:
        reason = view.why.get(probe) or Stale(())
        if reason.dirty:
            what = f"{reason.words()}); commit your changes, then run the probe again"
        else:
            what = f"{reason.words('code changed since it was recorded')}); run it again"
        issues.append(Issue("stale-evidence", f"{milestone} {probe}: stale ({what}", milestone))
    return issues


def stale_passes(
    views: Mapping[str, MilestoneView], spec: PhaseSpec, facts: GitFacts, *, history: bool = False
) -> dict[str, tuple[Genuine, Stale]]:
    """Gate condition 2, each milestone whose current PASS is stale: the claim it names, and why.

    With `paths` anywhere in the spec, every current PASS is judged against its own scope: no
    file of it differs between its claim's code and the code now. Without any, the strict rule:
    the code is the code of the claim the newest PASS (by history) names, and earlier PASSes do
    not go stale. A DONE phase (`history`) goes stale no more."""
    passes = [
        (v.current, v.claim)
        for v in views.values()
        if v.current is not None and v.current.record.kind == "PASS" and v.claim is not None
    ]
    if history or not passes or facts.head is None:
        return {}
    if not spec.scoped:
        passes = [max(passes, key=lambda pair: (pair[0].order, pair[0].record.line))]
    found: dict[str, tuple[Genuine, Stale]] = {}
    for verdict, claim in passes:
        mid = verdict.record.milestone or ""
        changed = scope_changes(claim.record.code, claim.record.ref, facts, spec.scope(mid))
        if changed is None:
            found[mid] = (claim, Stale((), lost=True, named=spec.scoped))
        elif changed:
            found[mid] = (claim, Stale(tuple(changed), named=spec.scoped))
    return found


def pass_staleness(
    views: Mapping[str, MilestoneView], spec: PhaseSpec, facts: GitFacts, *, history: bool = False
) -> list[Issue]:
    """Gate condition 2 as unmet conditions: each stale PASS (stale_passes), and uncommitted
    changes to tracked files in some milestone's scope."""
    if history:
        return []
    issues: list[Issue] = []
    for mid, (claim, stale) in stale_passes(views, spec, facts).items():
        label = (claim.origin.sha if claim.origin else claim.record.ref or "?")[:12]
        if stale.lost:
            message = f"{mid}: the claim {label} it passed is not in history"
        else:
            what = "its scope changed" if spec.scoped else "code changed"
            message = f"{mid}: {what} since the claim {label} that was passed: {few(stale.paths)}"
        issues.append(Issue("stale-verdict", message, mid))
    scopes = [spec.scope(m.id) for m in spec.milestones] or [()]
    dirty = [p for p in facts.dirty_outside if any(in_scope([p], s) for s in scopes)]
    if dirty:
        where = "in the milestones' scope" if spec.scoped else "outside the workspace"
        issues.append(Issue("dirty", f"uncommitted changes {where}: {few(dirty)}"))
    return issues


def done_gate(
    *,
    spec: PhaseSpec | None,
    doc: StatusDoc,
    views: Mapping[str, MilestoneView],
    facts: GitFacts,
    builder_inbox: Sequence[Message],
    phase: str,
    status_file: str,
) -> list[Issue]:
    """The five conditions of SPEC section 3, each one that fails listed."""
    issues: list[Issue] = []
    if spec is None or not spec.milestones:
        issues.append(Issue("no-spec", f"phases/{phase}.toml names no milestones to pass"))
    for m in spec.milestones if spec else ():
        view = views[m.id]
        current = view.current
        # records that count as none neither satisfy nor block (SPEC section 3): check and status
        # report them; here they only explain why a milestone has no verdict
        aside = _counted_as_none(view, status_file)
        if view.claim is None:
            issues.append(Issue("no-verdict", f"{m.id}: not claimed, so no verdict counts{aside}", m.id))
        elif view.verdict is None:
            issues.append(Issue("no-verdict", f"{m.id}: no verdict yet{aside}", m.id))
        elif current is None:
            issues.append(
                Issue("claim-after-verdict", f"{m.id}: its latest claim has no verdict yet{aside}", m.id)
            )
        elif current.record.kind != "PASS":
            issues.append(Issue("verdict-fail", f"{m.id}: the verdict on its latest claim is FAIL", m.id))
    if spec is not None:
        issues += pass_staleness(views, spec, facts, history=doc.done_line is not None)
    pending = [msg for msg in builder_inbox if msg.phase in (None, phase)]
    if pending:
        issues.append(
            Issue(
                "inbox-pending",
                f"builder inbox holds {len(pending)} message(s): {', '.join(m.id for m in pending)}",
            )
        )
    if doc.done_line is not None:
        issues.append(Issue("already-done", f"{status_file}:{doc.done_line} already says ## DONE"))
    return issues


def _counted_as_none(view: MilestoneView, status_file: str) -> str:
    """` (…counts as none: …)` naming a milestone's records that do not count, or ""."""
    items = [(f.record, "forged-" + RECORD_WRITER[f.record.kind][1]) for f in view.forged]
    items += [(u.item.record, u.code) for u in view.unsigned]
    if not items:
        return ""
    named = "; ".join(f"{status_file}:{r.line} {r.kind} counts as none ({why})" for r, why in items[:3])
    return f" ({named}{'; …' if len(items) > 3 else ''})"


def phase_state(*, opened: bool, done: bool, ready: bool, views: Mapping[str, MilestoneView]) -> str:
    if done:
        return "done"
    if ready:
        return "ready"
    states = {v.state for v in views.values()}
    if "failed" in states:
        return "changes-requested"
    if "claimed" in states:
        return "awaiting-review"
    return "in-progress" if opened else "planned"


def replay_gate(milestone: str, replayed: EvidenceView, claim: Genuine) -> list[Issue]:
    """SPEC section 11, replayed verdicts (`[rules] replay`): a PASS of `claim` counts only when the
    adversary's own journal holds, for every probe the milestone requires, a passing record at the
    claim's code. `replayed`: the adversary's latest genuine record of each required probe
    (is_genuine_evidence with role="adversary", made with the spec's command) judged by the claim
    gate's staleness rule with the claim's code as the code now (evidence_view); one issue
    `unreplayed` for each probe that is not passing there."""
    where = (claim.record.code or claim.record.ref or "?")[:12]
    issues = [
        Issue("unreplayed", f"{milestone} {p}: the adversary has no run of it recorded by loopkit", milestone)
        for p in replayed.missing
    ]
    for probe in replayed.failing:
        record = replayed.latest[probe]
        issues.append(
            Issue(
                "unreplayed",
                f"{milestone} {probe}: the adversary's latest run is {record.result} "
                f"(observed {record.observed!r})",
                milestone,
            )
        )
    for probe in replayed.stale:
        dirty = replayed.latest[probe].dirty
        why = "recorded with uncommitted changes" if dirty else "not at the claim's code"
        issues.append(
            Issue(
                "unreplayed",
                f"{milestone} {probe}: the adversary's latest run is {why} ({where})",
                milestone,
            )
        )
    return issues


def claim_replay(
    spec: PhaseSpec,
    milestone: str,
    claim: Genuine,
    adversary: Mapping[str, ProbeRecord],
    facts: GitFacts,
    *,
    history: bool = False,
) -> list[Issue]:
    """replay_gate of `claim`: `adversary` (probe -> the adversary's latest genuine record, made
    with the spec's command) judged by the claim gate's staleness rule at the claim's code."""
    found = spec.milestone(milestone)
    at_claim = replace(facts, head=claim.record.ref, code=claim.record.code)
    replayed = evidence_view(
        [p.id for p in found.probes] if found else [],
        adversary,
        facts=at_claim,
        scope=spec.scope(milestone),
        named=spec.scoped,
        history=history,
    )
    return replay_gate(milestone, replayed, claim)


def replay_unmet(
    spec: PhaseSpec,
    views: Mapping[str, MilestoneView],
    adversary: Mapping[tuple[str, str], ProbeRecord],
    facts: GitFacts,
    *,
    history: bool = False,
) -> list[Issue]:
    """SPEC section 11: with `[rules] replay` the DONE gate counts a current PASS only when its
    replay holds (claim_replay); `adversary`: (milestone, probe) -> the adversary's latest record."""
    issues: list[Issue] = []
    for m in spec.milestones:
        view = views[m.id]
        current, claim = view.current, view.claim
        if current is None or current.record.kind != "PASS" or claim is None:
            continue
        mine = {p: r for (mid, p), r in adversary.items() if mid == m.id}
        issues += claim_replay(spec, m.id, claim, mine, facts, history=history)
    return issues


def lost_messages(
    *,
    pending: Collection[str],
    archived: Collection[str],
    left: Collection[str] = (),
    filed: Collection[str] = (),
) -> list[tuple[str, str]]:
    """SPEC section 11, `lost-message`: (id, why) for each message that `left` an inbox without
    its archive (`archived`: every id an archive holds or gained), and each an archive gained
    (`filed`) that was never `pending`. Messages are consumed into the archive, never deleted."""
    found = [(m, "left the inbox without its archive") for m in sorted(set(left) - set(archived))]
    found += [(m, "archived but never pending") for m in sorted(set(filed) - set(pending))]
    return found


def flaky_probes(
    required: Sequence[str],
    builder_latest: Mapping[str, ProbeRecord],
    adversary_latest: Mapping[str, ProbeRecord],
    facts: GitFacts,
) -> list[str]:
    """SPEC section 11: the required probes whose two latest runs disagree at one code: the
    builder's PASS, the adversary's FAIL (or ERROR), at the same code: the whole code, by the
    staleness rule with the builder's record's code as the code now (evidence_is_stale), so runs
    on code differing anywhere are never flaky; a record made on a dirty tree is at no code."""
    found: list[str] = []
    for probe in required:
        ours, theirs = builder_latest.get(probe), adversary_latest.get(probe)
        if ours is None or theirs is None or ours.result != "PASS" or theirs.result == "PASS" or ours.dirty:
            continue
        if not evidence_is_stale(
            theirs, head=ours.head, changed=facts.changed, inside=facts.inside, code=ours.code
        ):
            found.append(probe)
    return found
