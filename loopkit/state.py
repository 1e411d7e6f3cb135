"""Pure rules: which records are genuine, milestone and phase states, the claim gate, the DONE gate,
staleness and problems. Every git fact comes in as data, so these are plain functions to test."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopkit.model.config import Config, PhaseSpec, ProbeSpec
from loopkit.model.git import Origin
from loopkit.model.inbox import Message
from loopkit.model.journal import ProbeRecord
from loopkit.model.status import StatusDoc, StatusRecord
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
    """A record of a signed role whose commit's signature does not count (SPEC section 10):
    `code` is "unsigned-record" or "bad-signature", `reason` says why."""

    item: Genuine
    code: str
    reason: str


@dataclass
class MilestoneView:
    """A milestone as the rules see it: its claims, verdicts and evidence."""

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
        """SPEC section 3: the latest verdict that names the latest claim (by the claim's id, or by
        the commit that recorded it for records without ids). A verdict naming an earlier claim is
        history, wherever a merge of two clones put its line. Without any claim, the latest verdict."""
        claim = self.claim
        if claim is None:
            return self.verdict
        named = [v for v in self.verdicts if names_claim(v, claim)]
        return named[-1] if named else None

    @property
    def verdict_current(self) -> bool:
        return self.current is not None

    @property
    def state(self) -> str:
        current = self.current
        if current is not None:
            return "passed" if current.record.kind == "PASS" else "failed"
        return "claimed" if self.claim is not None else "open"

    @property
    def claim_open(self) -> bool:
        return self.claim is not None and self.current is None


def names_claim(verdict: Genuine, claim: Genuine) -> bool:
    if verdict.record.claim_id and claim.record.id:
        return verdict.record.claim_id == claim.record.id
    return claim.origin is not None and verdict.record.ref == claim.origin.sha


def is_genuine(record: StatusRecord, origin: Origin | None, config: Config) -> bool:
    """Provenance: written by `loopkit claim`/`loopkit verdict` as the right role, and committed.

    The author and the trailers decide; the committer does not (a rebase by hand changes it).
    """
    if origin is None:
        return False
    role = "adversary" if record.is_verdict else "builder"
    identity = config.identities[role]
    action = "verdict" if record.is_verdict else "claim"
    trailers = origin.trailers
    if origin.author.email != identity.email:
        return False
    if trailers.get("Loopkit-Action") != action or trailers.get("Loopkit-Milestone") != record.milestone:
        return False
    return not (record.is_verdict and trailers.get("Loopkit-Verdict") != record.kind)


def record_role(record: StatusRecord) -> str:
    """The role whose command writes a record: the adversary's verdicts, the builder's claims and DONE."""
    return "adversary" if record.is_verdict else "builder"


def signed_shas(doc: StatusDoc, origins: Sequence[Origin | None], config: Config) -> list[str]:
    """The commits whose signatures decide whether this STATUS's records count."""
    found: dict[str, None] = {}
    for record in doc.records:
        if record_role(record) not in config.signed:
            continue
        origin = origins[record.line - 1] if record.line - 1 < len(origins) else None
        if origin is not None:
            found[origin.sha] = None
    return list(found)


def milestone_views(
    doc: StatusDoc,
    spec: PhaseSpec | None,
    origins: Sequence[Origin | None],
    order: Mapping[str, int],
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
) -> dict[str, MilestoneView]:
    """Milestones of the spec (and any extra sections), each with its genuine and forged records.

    With `signatures` (some role signs), a record of a signed role whose commit's signature does
    not count is neither genuine nor forged: it is `unsigned` and counts as none."""
    views: dict[str, MilestoneView] = {}
    for m in spec.milestones if spec else ():
        views[m.id] = MilestoneView(m.id, m.title)
    for section in doc.sections:
        view = views.setdefault(section.id, MilestoneView(section.id, section.title))
        for record in section.records:
            origin = origins[record.line - 1] if record.line - 1 < len(origins) else None
            rank = order.get(origin.sha, len(order)) if origin else len(order) + record.line
            item = Genuine(record, origin, rank)
            if record.kind == "DONE":
                continue
            problem = signature_problem(record_role(record), origin, config, signatures)
            if problem is not None:
                view.unsigned.append(Unsigned(item, *problem))
            elif not is_genuine(record, origin, config):
                view.forged.append(item)
            elif record.is_verdict:
                view.verdicts.append(item)
            else:
                view.claims.append(item)
    return views


_RECORD_ACTION = {
    "CLAIM": ("claim", "builder"),
    "PASS": ("verdict", "adversary"),
    "FAIL": ("verdict", "adversary"),
}


def removed_records(
    written: Sequence[tuple[Origin, str]], doc: StatusDoc, phase: str, config: Config
) -> list[str]:
    """Genuine records that history says loopkit wrote and the file no longer holds.

    STATUS records are append-only: deleting a FAIL (by an edit or a revert) must not bring an
    older PASS back, so a removed genuine record still counts as history and blocks the gate.
    """
    from loopkit.markdown.status import RECORD

    present = {r.text for r in doc.records}
    if doc.done is not None:
        present.add(doc.done.text)
    missing: list[str] = []
    for origin, raw in written:
        line = raw.rstrip("\r")
        if not line.startswith("- "):
            continue
        match = RECORD.match(line[2:])
        if match is None or line[2:] in present or line[2:] in missing:
            continue
        action, role = _RECORD_ACTION.get(match["kind"], ("done", "builder"))
        trailers = origin.trailers
        genuine = (
            trailers.get("Loopkit-Phase") == phase
            and trailers.get("Loopkit-Action") == action
            and origin.author.email == config.identities[role].email
            and (action == "done" or trailers.get("Loopkit-Milestone") == match["milestone"])
        )
        if genuine:
            missing.append(line[2:])
    return missing


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

    def to_json(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "passing": self.passing,
            "failing": self.failing,
            "missing": self.missing,
            "stale": self.stale,
        }

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
        for forged in view.forged:
            if forged.record.is_verdict:
                issues.append(
                    Issue(
                        "forged-verdict",
                        f"{m.id}: {status_file}:{forged.record.line} was not written by `loopkit verdict` "
                        "as the adversary; it counts as no verdict",
                        m.id,
                    )
                )
        for unsigned in view.unsigned:
            record = unsigned.item.record
            issues.append(
                Issue(
                    unsigned.code,
                    f"{m.id}: {status_file}:{record.line} {record.kind} counts as none: {unsigned.reason}",
                    m.id,
                )
            )
        current = view.current
        if view.verdict is None:
            issues.append(Issue("no-verdict", f"{m.id}: no verdict yet", m.id))
        elif current is None:
            issues.append(Issue("claim-after-verdict", f"{m.id}: its latest claim has no verdict yet", m.id))
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
