"""Everything loopkit knows about one phase, read once: spec, STATUS and who wrote each record,
the latest evidence of each required probe, the git facts, the builder's inbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from loopkit import names
from loopkit.errors import BadInput
from loopkit.markdown.journal import probe_records_from_end
from loopkit.markdown.status import parse_status
from loopkit.model.config import PhaseSpec
from loopkit.model.git import Origin
from loopkit.model.inbox import Message
from loopkit.model.journal import ProbeRecord
from loopkit.model.status import StatusDoc
from loopkit.services.context import Context
from loopkit.services.inbox import read_inbox
from loopkit.services.signatures import signatures
from loopkit.services.specs import SpecState, read_spec
from loopkit.signed import Signature
from loopkit.state import (
    EvidenceView,
    Genuine,
    GitFacts,
    MilestoneView,
    Stale,
    claim_replay,
    done_gate,
    evidence_view,
    flaky_probes,
    is_genuine_evidence,
    matches_spec,
    milestone_views,
    record_shas,
    removed_issues,
    removed_records,
    replay_unmet,
    signed_shas,
    stale_passes,
    untrusted_spec,
)
from loopkit.trust import Issue, signature_problem
from loopkit.workspace import read_mapped, read_text


@dataclass
class Book:
    """One phase's books, each part read when first asked for."""

    ctx: Context
    phase: str
    spec: PhaseSpec | None
    status_path: Path
    status_text: str
    doc: StatusDoc
    mismatched: dict[tuple[str, str], int] = field(default_factory=dict)
    _evidence: dict[str, EvidenceView] = field(default_factory=dict)
    with_lines: bool = False  # count records' line numbers (evidence --json shows them)
    spec_state: SpecState | None = None

    @property
    def opened(self) -> bool:
        return self.status_path.is_file()

    @property
    def status_name(self) -> str:
        ws = self.ctx.workspace
        return ws.shown(self.status_path)

    @cached_property
    def origins(self) -> list[Origin | None]:
        if not self.doc.records or not self.opened:
            return []
        path = self.ctx.workspace.repo_path(self.status_path)
        return self.ctx.repo.origins([path])[path]

    @cached_property
    def order(self) -> dict[str, int]:
        if not self.doc.records:
            return {}
        return self.ctx.repo.order(self.ctx.workspace.repo_path(self.status_path))

    @cached_property
    def signatures(self) -> dict[str, Signature] | None:
        """The verified signatures of this STATUS's record commits; None while no role signs."""
        config = self.ctx.workspace.config
        if not config.signed:
            return None
        shas = signed_shas(self.doc, self.origins, config)
        done = self.done_origin
        if done is not None and "builder" in config.signed:
            shas.append(done.sha)
        return signatures(self.ctx, shas)

    @cached_property
    def views(self) -> dict[str, MilestoneView]:
        config = self.ctx.workspace.config
        return milestone_views(
            self.doc, self.spec, self.origins, self.order, config, self.signatures, phase=self.phase
        )

    @property
    def done_origin(self) -> Origin | None:
        record = self.doc.done
        if record is None or not self.origins or record.line - 1 >= len(self.origins):
            return None
        return self.origins[record.line - 1]

    @cached_property
    def done_unsigned(self) -> Issue | None:
        """A `## DONE` of a signed builder whose commit's signature does not count: it counts as none."""
        record = self.doc.done
        if record is None or "builder" not in self.ctx.workspace.config.signed:
            return None
        problem = signature_problem("builder", self.done_origin, self.ctx.workspace.config, self.signatures)
        if problem is None:
            return None
        return Issue(problem[0], f"{self.status_name}:{record.line} DONE counts as none: {problem[1]}")

    @property
    def done(self) -> bool:
        """STATUS says `## DONE`, and (for a signed builder) its commit's signature counts."""
        return self.doc.done_line is not None and self.done_unsigned is None

    @cached_property
    def facts(self) -> GitFacts:
        repo = self.ctx.repo
        ws = self.ctx.workspace
        return GitFacts(
            head=repo.head,
            dirty_outside=[p for p in repo.dirty if not ws.is_inside(p)],
            changed=lambda old, new: repo.changed(
                old, new, prune=ws.is_inside, keep=ws.rel, memo=f"inside:{ws.rel}" if ws.rel else None
            ),
            changed_all=repo.changed,
            inside=ws.is_inside,
            code=repo.code_of(repo.head, rel=ws.rel, owned=ws.owns_top_level),
            code_diff=repo.code_changed,
        )

    @cached_property
    def latest(self) -> dict[tuple[str, str], ProbeRecord]:
        """The newest *genuine* builder record of each probe the spec requires (`latest_of`)."""
        return self.latest_of("builder")

    @cached_property
    def adversary_latest(self) -> dict[tuple[str, str], ProbeRecord]:
        """The newest genuine record of each required probe in the adversary's own journal (REVIEW):
        what `[rules] replay` asks of a PASS (SPEC section 11)."""
        return self.latest_of("adversary")

    def latest_of(self, role: str) -> dict[tuple[str, str], ProbeRecord]:
        """The newest *genuine* record of each probe the spec requires, in the role's journal.

        Read from the journal's end; each candidate's line is blamed, and a record that loopkit's
        own evidence commit for the role did not add (typed, pasted, uncommitted), or that was not
        made with the spec's command and expectation, counts as none: the search goes on to older
        records.
        """
        spec = self.spec
        wanted = {(m.id, p.id): p for m in (spec.milestones if spec else ()) for p in m.probes}
        found: dict[tuple[str, str], ProbeRecord] = {}
        path = self.ctx.workspace.journal_file(self.phase, role)
        if not wanted or path is None or not path.exists():
            return found  # (a folder in its place is bad input: the index's journal_spans says so, exit 4)
        pending = set(wanted)
        queued: dict[tuple[str, str], list[tuple[ProbeRecord, bool]]] = {k: [] for k in wanted}
        known = self.ctx.index.journal_spans(path)  # first: a folder there is bad input (exit 4)
        stream = probe_records_from_end(
            read_mapped(path),
            with_lines=True,
            wanted=lambda m, p: (m, p) in pending,
            known=known,
            confirmed=self.ctx.index.journal_reads(path),
        )
        exhausted = False
        config = self.ctx.workspace.config
        while pending:
            # one candidate per pending probe, newest first, then one blame for all of them
            while not exhausted and any(not queued[k] for k in pending):
                item = next(stream, None)
                if item is None:
                    exhausted = True
                    break
                key = (item[0].milestone, item[0].probe)
                if key in pending and matches_spec(item[0], wanted[key]):
                    queued[key].append(item)
            heads = {k: queued[k].pop(0) for k in pending if queued[k]}
            if not heads:
                break
            origins = self._record_origins(path, [r.line for r, _ in heads.values()])
            for key, (record, edited) in heads.items():
                if is_genuine_evidence(record, origins.get(record.line), config, role):
                    found[key] = record
                    pending.discard(key)
                    if edited and role == "builder":  # status names the builder's journal for it
                        self.mismatched[key] = record.line
        return found

    def _record_origins(self, path: Path, lines: list[int]) -> dict[int, Origin | None]:
        if not lines or self.ctx.workspace.repo_root is None:
            return {}
        return self.ctx.repo.line_origins(self.ctx.workspace.repo_path(path), lines)

    def evidence(self, milestone: str) -> EvidenceView:
        if milestone not in self._evidence:
            self._evidence[milestone] = self._evidence_of(milestone)
        return self._evidence[milestone]

    def _evidence_of(self, milestone: str) -> EvidenceView:
        """The builder's evidence against the code now."""
        return evidence_view(
            self._required(milestone),
            self._of_milestone(self.latest, milestone),
            facts=self.facts,
            scope=self.spec.scope(milestone) if self.spec else (),
            named=self.spec is not None and self.spec.scoped,
            history=self.history,
        )

    @property
    def history(self) -> bool:
        """A phase that is DONE is history: later changes make nothing of it stale (SPEC section 3)."""
        return self.doc.done_line is not None

    def stale_passes(self) -> dict[str, tuple[Genuine, Stale]]:
        """Each milestone whose current PASS is stale (DONE gate condition 2), and why."""
        if self.spec is None:
            return {}
        return stale_passes(self.views, self.spec, self.facts, history=self.history)

    def _of_milestone(
        self, latest: dict[tuple[str, str], ProbeRecord], milestone: str
    ) -> dict[str, ProbeRecord]:
        return {p: r for (m, p), r in latest.items() if m == milestone}

    def _required(self, milestone: str) -> list[str]:
        spec_m = self.spec.milestone(milestone) if self.spec else None
        return [p.id for p in spec_m.probes] if spec_m else []

    def unreplayed(self, milestone: str) -> list[Issue]:
        """`[rules] replay` (SPEC section 11): why a PASS of the milestone's latest claim would not
        count, none when replay is off or the adversary's runs hold (state.claim_replay)."""
        claim = self.views[milestone].claim if milestone in self.views else None
        if not self.ctx.workspace.config.replay or claim is None or self.spec is None:
            return []
        adversary = self._of_milestone(self.adversary_latest, milestone)
        return claim_replay(self.spec, milestone, claim, adversary, self.facts, history=self.history)

    def flaky(self, milestone: str) -> list[str]:
        """With `[rules] replay`, the required probes whose builder PASS and adversary FAIL share a
        code (state.flaky_probes); replay off reads no adversary journal and finds none."""
        if not self.ctx.workspace.config.replay:
            return []
        return flaky_probes(
            self._required(milestone),
            self._of_milestone(self.latest, milestone),
            self._of_milestone(self.adversary_latest, milestone),
            self.facts,
        )

    def replay_unmet(self) -> list[Issue]:
        """The DONE gate with replay on counts a current PASS only when its replay holds."""
        if not self.ctx.workspace.config.replay or self.spec is None:
            return []
        return replay_unmet(self.spec, self.views, self.adversary_latest, self.facts, history=self.history)

    @cached_property
    def builder_inbox(self) -> list[Message]:
        return [p.message for p in read_inbox(self.ctx, "builder")]

    @cached_property
    def removed(self) -> list[str]:
        """Genuine STATUS records that were removed since (SPEC: `removed-record`)."""
        if not self.opened or self.ctx.workspace.repo_root is None:
            return []
        path = self.ctx.workspace.repo_path(self.status_path)
        written = self.ctx.repo.record_lines([path])[path]
        config = self.ctx.workspace.config
        signed = signatures(self.ctx, record_shas(written, config)) if config.signed else None
        return removed_records(written, self.status_text, self.phase, config, signed, doc=self.doc)

    def removed_issues(self) -> list[Issue]:
        return removed_issues(self.removed, self.status_name)

    def spec_unmet(self) -> list[Issue]:
        untrusted = self.spec_state is not None and not self.spec_state.trusted and self.spec is not None
        return [untrusted_spec(self.phase)] if untrusted else []

    def done_gate(self) -> list[Issue]:
        return (
            self.spec_unmet()
            + self.removed_issues()
            + ([self.done_unsigned] if self.done_unsigned is not None else [])
            + self.replay_unmet()
            + done_gate(
                spec=self.spec,
                doc=self.doc,
                views=self.views,
                facts=self.facts,
                builder_inbox=self.builder_inbox,
                phase=self.phase,
                status_file=self.status_name,
            )
        )


def load(ctx: Context, phase: str, *, must_exist: bool = True, need_spec: bool = True) -> Book:
    """One phase's books. A command that needs the spec refuses a broken one (exit 4); status,
    check and next pass `need_spec=False` and report it (`bad-spec`) with the other phases."""
    names.phase(phase)
    ws = ctx.workspace
    status_path = ws.status_file(phase)
    if must_exist and not ws.spec_file(phase).is_file() and not status_path.is_file():
        raise BadInput(f"no phase {phase}: neither {status_path.name} nor phases/{phase}.toml exists")
    spec = read_spec(ctx, phase)
    if need_spec:
        spec.needed()
    text = read_text(status_path)
    doc = ctx.index.parsed("status-docs", status_path, text, parse_status)
    return Book(ctx, phase, spec.spec, status_path, text, doc, spec_state=spec)
