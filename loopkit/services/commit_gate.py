"""The DONE gate of one phase on the books as a given commit holds them, read from git objects
alone (SPEC 11: a `## DONE` is judged on its parent's books). The same inputs services/book.py
builds from the work tree for `gate`, handed to the same rules (state.done_gate,
state.milestone_views, state.removed_records, trust.trusted_spec): nothing here decides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from loopkit.config import spec_from
from loopkit.errors import BadInput
from loopkit.gitrepo import push
from loopkit.markdown.inbox import parse_inbox
from loopkit.markdown.status import parse_status
from loopkit.model.config import Config, PhaseSpec
from loopkit.model.git import Origin
from loopkit.model.journal import ProbeRecord
from loopkit.signed import Signature
from loopkit.state import (
    GitFacts,
    done_gate,
    is_genuine_evidence,
    matches_spec,
    milestone_views,
    record_shas,
    removed_issues,
    removed_records,
    replay_unmet,
    signed_shas,
    untrusted_spec,
)
from loopkit.trust import Issue, spec_candidates, trusted_spec
from loopkit.workspace import Workspace

# shas -> their verified signatures (None: no role signs)
Verifier = Callable[[list[str]], "Mapping[str, Signature] | None"]


@dataclass(frozen=True)
class CommitBooks:
    """Where one workspace's books are in a repository that may have no work tree."""

    root: Path  # the repository (bare or not)
    ws: Workspace  # names files; its folder need not exist on disk
    config: Config


def trusted_spec_at(
    books: CommitBooks, commit: str, phase: str, verify: Verifier
) -> tuple[Origin | None, PhaseSpec | None]:
    """The spec commit a gate at `commit` trusts (trust.trusted_spec) and the spec it names."""
    commits = push.spec_commits(books.root, commit)
    config = books.config
    signs = any(role in config.signed for role in config.open_phase)
    sigs = verify([o.sha for o, _ in spec_candidates(commits, phase, config)]) if signs else None
    origin = trusted_spec(commits, phase, config, sigs)
    if origin is None:
        return None, None
    blob = origin.trailers["Loopkit-Spec"]
    data = push.blobs(books.root, [blob]).get(blob)
    if data is None:
        return origin, None
    try:
        return origin, spec_from(data, f"phases/{phase}.toml", phase=phase)
    except BadInput:
        return origin, None


def done_gate_at(
    books: CommitBooks, *, parent: str, commit: str, phase: str, verify: Verifier
) -> list[Issue]:
    """What `loopkit gate` would have listed for `phase` with the books as `parent` holds them and
    the code of `commit` (the one declaring DONE): each unmet condition, none when the gate held."""
    ws, config = books.ws, books.config
    status_path = ws.status_file(phase)
    status, inbox = ws.repo_path(status_path), ws.repo_path(ws.inbox_file("builder"))
    found = push.blobs(books.root, [f"{parent}:{status}", f"{parent}:{inbox}"])
    status_text = (found[f"{parent}:{status}"] or b"").decode("utf-8", "replace")
    doc = parse_status(status_text)
    origin, spec = trusted_spec_at(books, parent, phase, verify)
    issues: list[Issue] = []
    if origin is None:
        issues.append(untrusted_spec(phase))
    line_origins = _line_origins(books, parent, status) if doc.records else []
    order = {sha: n for n, sha in enumerate(push.touching(books.root, parent, status))}
    written = push.record_lines_at(books.root, parent, [status])[status]
    # the one provenance rule, signatures included, for the records present and those removed
    shas = signed_shas(doc, line_origins, config) + record_shas(written, config)
    sigs = verify(shas) if config.signed else None
    views = milestone_views(doc, spec, line_origins, order, config, sigs, phase=phase)
    removed = removed_records(written, status_text, phase, config, sigs, doc=doc)
    issues += removed_issues(removed, ws.shown(status_path))
    facts = _facts(books, commit)
    if config.replay and spec is not None:  # SPEC 11: the gate counts replayed PASSes only
        adversary = adversary_latest(books, parent, phase, spec)
        issues += replay_unmet(spec, views, adversary, facts, history=doc.done_line is not None)
    inbox_text = (found[f"{parent}:{inbox}"] or b"").decode("utf-8", "replace")
    builder_inbox = [p.message for p in parse_inbox(inbox_text, role="builder")]
    return issues + done_gate(
        spec=spec,
        doc=doc,
        views=views,
        facts=facts,
        builder_inbox=builder_inbox,
        phase=phase,
        status_file=ws.shown(status_path),
    )


def _line_origins(books: CommitBooks, commit: str, path: str) -> list[Origin | None]:
    """The commit that added each line of `path` as `commit` holds it (git blame), as an Origin."""
    from loopkit.gitrepo.history import origins

    shas = push.blame_at(books.root, commit, path)
    known = origins(books.root, {s for s in shas if s})
    return [known.get(s) if s else None for s in shas]


def _facts(books: CommitBooks, commit: str) -> GitFacts:
    """What git says of the code of `commit`, for the staleness rules (no work tree: never dirty)."""
    from loopkit.gitrepo.repo import Repo

    repo, ws = Repo(books.root), books.ws
    return GitFacts(
        head=commit,
        dirty_outside=[],
        changed=lambda old, new: repo.changed(old, new, prune=ws.is_inside, keep=ws.rel),
        changed_all=repo.changed,
        inside=ws.is_inside,
        code=repo.code_of(commit, rel=ws.rel, owned=ws.owns_top_level),
        code_diff=repo.code_changed,
    )


def adversary_latest(
    books: CommitBooks, commit: str, phase: str, spec: PhaseSpec
) -> dict[tuple[str, str], ProbeRecord]:
    """The adversary's newest genuine record of each probe the spec requires, in its journal as
    `commit` holds it: made with the spec's command (state.matches_spec) and added by loopkit's
    evidence commit for the adversary (state.is_genuine_evidence), as Book.latest_of reads it."""
    from loopkit.markdown.journal import parse_journal

    journal = books.ws.journal_file(phase, "adversary")
    path = books.ws.repo_path(journal) if journal is not None else None
    data = push.blobs(books.root, [f"{commit}:{path}"]).get(f"{commit}:{path}") if path else None
    wanted = {(m.id, p.id): p for m in spec.milestones for p in m.probes}
    records = parse_journal(data.decode("utf-8", "replace")).probe_records if data else []
    candidates = [r for r in records if (r.milestone, r.probe) in wanted]
    origins = _line_origins(books, commit, path) if path and candidates else []
    found: dict[tuple[str, str], ProbeRecord] = {}
    for record in reversed(candidates):
        key = (record.milestone, record.probe)
        origin = origins[record.line - 1] if record.line - 1 < len(origins) else None
        if key in found or not matches_spec(record, wanted[key]):
            continue
        if is_genuine_evidence(record, origin, books.config, "adversary"):
            found[key] = record
    return found
