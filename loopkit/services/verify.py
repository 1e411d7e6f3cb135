"""verify and the pre-receive hook (SPEC section 11): the commits of a push judged by the rules the
commands obey, so a hand-typed `## DONE` or PASS is refused at the shared remote.

One `git log -p` through the range (gitrepo/push.py) gives, per commit, the lines it adds to and
removes from the books (services/push_range.py); each change is judged where its rule lives:
records added (push_records.py: state.provenance, the DONE gate of commit_gate.py,
state.is_genuine_evidence, state.lost_messages), records removed (push_removed.py:
state.removed_records), the orchestrator's files (push_trust.py: the trust chains), each added
line the one redaction function. Hand-written text outside records is never judged. Returns
data; never prints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from loopkit.documents.verify import Verified, Violation
from loopkit.errors import UsageError
from loopkit.gitrepo import push
from loopkit.gitrepo.runner import ZERO
from loopkit.redact import Redactor
from loopkit.services.push_range import PushRange, message_ids, record_line
from loopkit.services.push_records import Messages, judge_journal, judge_status
from loopkit.services.push_removed import judge_removed
from loopkit.services.push_trust import Trust
from loopkit.state import ClaimIds


# -- entry points ---------------------------------------------------------------------------------
def verify(root: Path, range_text: str | None, *, environ: Mapping[str, str]) -> Verified:
    """`loopkit verify [OLD..NEW]`: SPEC 11's document (ok, range, commits, violations)."""
    root = push.toplevel(root)
    if range_text is None:
        old, new = push.default_range(root)
    else:
        old_text, dots, new_text = range_text.partition("..")
        if not dots or not new_text or new_text.startswith("."):
            raise UsageError(f"verify: the range must be OLD..NEW, not {range_text!r}")
        new = _commit(root, new_text) if not push.is_zero(new_text) else ZERO
        old = None if not old_text or push.is_zero(old_text) else _commit(root, old_text)
    found, counted = judge_update(root, old, new, environ=environ)
    shown = f"{old or ZERO}..{new}"
    return Verified(ok=not found, range=shown, commits=counted, violations=tuple(found))


def pre_receive(root: Path, stdin: str, *, environ: Mapping[str, str]) -> list[tuple[str, Violation]]:
    """git's pre-receive protocol: each `<old> <new> <ref>` line, (ref, violation) for each problem."""
    root = push.toplevel(root)
    found: list[tuple[str, Violation]] = []
    for raw in stdin.splitlines():
        parts = raw.split()
        if len(parts) != 3:
            continue
        old, new, ref = parts
        if not ref.startswith("refs/heads/"):
            continue
        violations, _ = judge_update(root, None if push.is_zero(old) else old, new, environ=environ, ref=ref)
        found += [(ref, v) for v in violations]
    return found


def _commit(root: Path, rev: str) -> str:
    sha = push.resolve(root, rev)
    if sha is None:
        raise UsageError(f"verify: {rev!r} names no commit")
    return sha


def judge_update(
    root: Path, old: str | None, new: str, *, environ: Mapping[str, str], ref: str | None = None
) -> tuple[list[Violation], int]:
    """The violations of one update (a deleted branch passes; a new one is judged from its merge
    base with the default branch, whole without one), and how many commits it brings."""
    if push.is_zero(new):
        return [], 0
    if old is None:
        old = push.base_of_new_branch(root, new, ref)
    counted = push.count(root, old, new)
    # the shallowest loopkit.toml is the workspace; one the push deletes is still judged
    rels = push.workspaces(root, new) or (push.workspaces(root, old) if old else [])
    found = judge_workspace(PushRange(root, rels[0], old, new, environ)) if rels else []
    return found, counted


# -- one workspace ---------------------------------------------------------------------------------
def judge_workspace(books: PushRange) -> list[Violation]:
    """Walk the range commit by commit, judging each change to the workspace's books."""
    trust = Trust(books)
    trust.read_base()
    commits = push.walk(books.root, books.old, books.new, books.pathspec())
    claim_ids, messages = _prime(books, commits)
    redactor = Redactor(environ=books.environ, extra_patterns=books.config.redact_patterns)
    for commit in commits:
        for path, change in commit.files.items():
            inner = books.inner(path)
            if inner is None:
                continue
            _secrets(books, redactor, commit.sha, change, inner)
            kind, phase, role = books.kind(path)
            if kind == "status" and phase is not None:
                judge_status(books, commit, change, phase, claim_ids.setdefault(path, ClaimIds()))
            elif kind == "journal" and phase is not None and role is not None:
                judge_journal(books, commit, change, phase, role)
            elif kind in ("inbox", "archive"):
                messages.judge(books, commit, change, kind)
            elif kind == "spec" and phase is not None:
                trust.spec(commit, inner, phase)
            elif kind == "config":
                trust.config(commit)
    judge_removed(books, commits)
    trust.signers(commits)
    return books.found


def _secrets(books: PushRange, redactor: Redactor, commit: str, change: push.FileChange, inner: str) -> None:
    """Each added line the one redaction function would redact: named, never repeated."""
    for number, text in change.added:
        if (shown := redactor.redact(text)) != text:
            books.add("secret", commit, f"adds a secret: {shown.strip()[:100]}", file=inner, line=number)


def _prime(books: PushRange, commits: list[push.PushCommit]) -> tuple[dict[str, ClaimIds[str]], Messages]:
    """What the base holds (claim ids of each STATUS touched, pending message ids), reading the
    blobs every judged commit needs with them, all in one `cat-file --batch`."""
    statuses = {p for c in commits for p in c.files if books.kind(p)[0] == "status"}
    inboxes = [books.repo_path(books.ws.shown(books.ws.inbox_file(r))) for r in books.config.identities]
    old = books.old
    specs = [f"{old}:{p}" for p in [*statuses, *inboxes]] if old is not None else []
    for commit in commits:
        for path, change in commit.files.items():
            kind = books.kind(path)[0]
            if (kind == "status" and any(record_line(t) for _, t in change.added)) or kind == "config":
                specs.append(f"{commit.sha}:{path}")
    books.read(specs)
    claim_ids: dict[str, ClaimIds[str]] = {}
    for path in statuses:
        ids = claim_ids[path] = ClaimIds()
        for record in books.doc(old, path).records:
            ids.earlier(record, old or "")
    messages = Messages()
    for path in inboxes:
        data = books.blobs.get(f"{old}:{path}") if old else None
        messages.pending |= message_ids((data or b"").decode("utf-8", "replace").split("\n"))
    return claim_ids, messages
