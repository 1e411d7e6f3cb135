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


def evidence_is_stale(
    record: ProbeRecord,
    *,
    head: str | None,
    changed: Changed,
    inside: Callable[[str], bool],
    code: str | None = None,
) -> bool:
    """SPEC: stale when recorded on a dirty tree, or when the code outside the workspace differs
    from the code it was recorded at: compared by code id (unchanged by a rebase or a merge that
    brought only workspace files), by a diff of HEADs for records without one."""
    if record.dirty or head is None:
        return True
    if record.code is not None and code is not None:
        return record.code != code
    if record.head is None:
        return True
    if record.head == head:
        return False
    paths = changed(record.head, head)
    return paths is None or any(not inside(p) for p in paths)


@dataclass(frozen=True)
class EvidenceView:
    """The latest genuine evidence of one required probe, and whether it is stale."""

    required: list[str]
    passing: list[str]
    failing: list[str]
    missing: list[str]
    stale: list[str]
    latest: dict[str, ProbeRecord]

    def to_json(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "passing": self.passing,
            "failing": self.failing,
            "missing": self.missing,
            "stale": self.stale,
        }


def evidence_view(
    required: Sequence[str],
    latest: Mapping[str, ProbeRecord],
    *,
    head: str | None,
    changed: Changed,
    inside: Callable[[str], bool],
    code: str | None = None,
) -> EvidenceView:
    passing, failing, missing, stale = [], [], [], []
    for probe in required:
        record = latest.get(probe)
        if record is None:
            missing.append(probe)
            continue
        if record.result != "PASS":
            failing.append(probe)
        elif evidence_is_stale(record, head=head, changed=changed, inside=inside, code=code):
            stale.append(probe)
        else:
            passing.append(probe)
    return EvidenceView(list(required), passing, failing, missing, stale, dict(latest))


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
        record = view.latest[probe]
        if record.dirty:
            what = "stale (recorded with uncommitted changes); commit your changes, then run the probe again"
        else:
            what = "stale (code changed since it was recorded); run it again"
        issues.append(Issue("stale-evidence", f"{milestone} {probe}: {what}", milestone))
    return issues


@dataclass(frozen=True)
class GitFacts:
    """What git says of the work tree and of the code, for the staleness rules."""

    head: str | None
    dirty_outside: list[str]
    changed: Changed  # paths outside the workspace that differ
    inside: Callable[[str], bool]
    changed_all: Changed | None = None  # every path that differs, for a milestone's `paths`
    code: str | None = None  # the code id of HEAD (SPEC section 7)
    code_diff: Changed | None = None  # paths that differ between two code trees


def pass_staleness(views: Mapping[str, MilestoneView], spec: PhaseSpec, facts: GitFacts) -> list[Issue]:
    """Gate condition 2: the code the adversary passed is the code being declared done.

    Codes are compared by id (SPEC section 7); where they differ, the paths that changed come
    from diffing the two code trees (or, for a claim without a code id, the two commits).
    """
    issues: list[Issue] = []
    passes = [
        (v.current, v.claim)
        for v in views.values()
        if v.current is not None and v.current.record.kind == "PASS" and v.claim is not None
    ]
    if not passes or facts.head is None:
        if facts.dirty_outside:
            issues.append(_dirty(facts))
        return issues
    newest_pass, newest_claim = max(passes, key=lambda pair: (pair[0].order, pair[0].record.line))
    mid = newest_pass.record.milestone
    label = (newest_claim.origin.sha if newest_claim.origin else newest_claim.record.ref or "?")[:12]
    if newest_claim.record.code is None or newest_claim.record.code != facts.code:
        changed = _claim_diff(newest_claim, facts, every=False)
        if changed is None:
            issues.append(
                Issue("stale-verdict", f"{mid}: the claim {label} it passed is not in history", mid)
            )
        elif changed:
            issues.append(
                Issue(
                    "stale-verdict",
                    f"{mid}: code changed since the claim {label} that was passed: {_few(changed)}",
                    mid,
                )
            )
    for verdict, claim in passes:
        milestone = spec.milestone(verdict.record.milestone or "")
        if milestone is None or not milestone.paths or verdict is newest_pass:
            continue
        if claim.record.code is not None and claim.record.code == facts.code:
            continue
        changed = _claim_diff(claim, facts, every=True)
        hits = [p for p in changed or [] if _matches(p, milestone.paths)]
        if changed is None or hits:
            issues.append(
                Issue(
                    "stale-verdict",
                    f"{milestone.id}: its paths changed since its claim: "
                    + (_few(hits) or "claim not in history"),
                    milestone.id,
                )
            )
    if facts.dirty_outside:
        issues.append(_dirty(facts))
    return issues


def _dirty(facts: GitFacts) -> Issue:
    return Issue("dirty", f"uncommitted changes outside the workspace: {_few(facts.dirty_outside)}")


def _claim_diff(claim: Genuine, facts: GitFacts, *, every: bool) -> list[str] | None:
    """Paths outside the workspace that differ between a claim's code and the code now."""
    if claim.record.code is not None and facts.code is not None and facts.code_diff is not None:
        found = facts.code_diff(claim.record.code, facts.code)
        if found is not None:
            return found
    if claim.record.ref is None or facts.head is None:
        return None
    changed = (facts.changed_all or facts.changed)(claim.record.ref, facts.head)
    if changed is None:
        return None
    return changed if every else [p for p in changed if not facts.inside(p)]


def _few(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def _matches(path: str, patterns: Sequence[str]) -> bool:
    """gitignore-style globs relative to the repository root (`*` stays in a folder, `**` crosses)."""
    from loopkit.globs import match

    return any(match(pattern, path) for pattern in patterns)


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
        issues += pass_staleness(views, spec, facts)
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
