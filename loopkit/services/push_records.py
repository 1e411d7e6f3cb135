"""The records a push adds (SPEC section 11), each asked the rule where it lives: a STATUS record
the one provenance rule, signatures included (state.provenance); a `## DONE` the DONE gate on its
parent's books (services/commit_gate.py); a probe record state.is_genuine_evidence; a message
that moved between inbox and archive state.lost_messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopkit.gitrepo import push
from loopkit.markdown import comment
from loopkit.markdown.evidence import record_from
from loopkit.model.status import StatusRecord
from loopkit.services.commit_gate import CommitBooks, done_gate_at
from loopkit.services.push_range import PushRange, message_ids, record_line
from loopkit.state import RECORD_WRITER, ClaimIds, is_genuine_evidence, lost_messages, provenance


# -- STATUS records ---------------------------------------------------------------------------------
def judge_status(
    books: PushRange,
    commit: push.PushCommit,
    change: push.FileChange,
    phase: str,
    claim_ids: ClaimIds[str],
) -> None:
    """Each record line `commit` adds to one STATUS file; `claim_ids` the ids genuine claims used
    so far, in commit order (state.ClaimIds)."""
    numbers = [n for n, text in change.added if record_line(text)]
    if not numbers:
        return
    doc = books.doc(commit.sha, change.path)
    by_line: dict[int, StatusRecord] = {r.line: r for r in doc.records}
    if doc.done is not None:
        by_line[doc.done.line] = doc.done
    inner = books.inner(change.path)
    for number in numbers:
        record = by_line.get(number)
        if record is None:
            continue  # a record-like line where no record stands (quoted, in a fence): prose
        where = {"phase": phase, "milestone": record.milestone, "file": inner, "line": number}
        _judge_record(books, commit, record, phase, claim_ids, where)


def _judge_record(
    books: PushRange,
    commit: push.PushCommit,
    record: StatusRecord,
    phase: str,
    claim_ids: ClaimIds[str],
    where: dict[str, Any],
) -> None:
    """One added record: its violation, if any."""
    origin = commit.origin
    problem = provenance(record, origin, books.config, books.verify_many([origin.sha]), phase=phase)
    if problem is not None and problem[0].startswith("forged-"):
        command = RECORD_WRITER[record.kind][1]
        message = f"{record.kind} was committed by {origin.author.email} without `loopkit {command}`"
        books.add(problem[0], commit.sha, message, **where)
    elif problem is not None:
        books.add(problem[0], commit.sha, f"{record.kind} counts as none: {problem[1]}", **where)
    elif claim_ids.earlier(record, commit.sha) is not None:
        books.add(
            "duplicate-claim", commit.sha, f"claim id {record.id} was used by an earlier claim", **where
        )
    elif record.kind == "DONE":
        _judge_done(books, commit, phase, where)


def _judge_done(books: PushRange, commit: push.PushCommit, phase: str, where: dict[str, Any]) -> None:
    """A genuine `## DONE`: the DONE gate must have held on its parent's books."""
    if not commit.parents:
        books.add("done-without-gate", commit.sha, "## DONE in a root commit: no books to gate it", **where)
        return
    gate = CommitBooks(books.root, books.ws, books.config)
    unmet = done_gate_at(
        gate, parent=commit.parents[0], commit=commit.sha, phase=phase, verify=books.verify_many
    )
    if unmet:
        listed = "; ".join(f"{i.code}: {i.message}" for i in unmet)
        books.add("done-without-gate", commit.sha, f"the DONE gate did not hold: {listed}"[:600], **where)


# -- evidence ---------------------------------------------------------------------------------------
def judge_journal(
    books: PushRange, commit: push.PushCommit, change: push.FileChange, phase: str, role: str
) -> None:
    """Each probe record `commit` adds to a journal that stands there as a record and is not
    loopkit's own evidence commit for it."""
    suspects = []
    for number, text in change.added:
        data = comment.decode("probe", text)
        record = record_from(data, number) if data is not None else None
        if record is not None and not is_genuine_evidence(record, commit.origin, books.config, role):
            suspects.append(record)
    if not suspects:
        return
    from loopkit.markdown.journal import parse_journal

    raw = books.blob(commit.sha, change.path) or b""
    standing = {r.line for r in parse_journal(raw.decode("utf-8", "replace")).probe_records}
    for record in (r for r in suspects if r.line in standing):
        books.add(
            "forged-evidence",
            commit.sha,
            f"{record.milestone} {record.probe} record was added by {commit.origin.author.email}, "
            "not by loopkit's evidence commit for it",
            phase=phase,
            milestone=record.milestone,
            file=books.inner(change.path),
            line=record.line,
        )


# -- inbox and archive ------------------------------------------------------------------------------
@dataclass
class Messages:
    """Message ids pending in an inbox (at the base and added since) and archived by the push."""

    pending: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    _at_tip: set[str] | None = None

    def judge(self, books: PushRange, commit: push.PushCommit, change: push.FileChange, kind: str) -> None:
        """One change to an inbox or to the archive (state.lost_messages)."""
        added = message_ids(t for _, t in change.added)
        if kind == "inbox":
            self.pending |= added
            left = message_ids(change.removed) - added
            archived = self.archived | (self._archived_at_tip(books) if left - self.archived else set())
            lost = lost_messages(pending=self.pending, archived=archived, left=left)
        else:
            self.archived |= added
            lost = lost_messages(pending=self.pending, archived=self.archived, filed=added)
        inner = books.inner(change.path)
        for message, why in lost:
            books.add("lost-message", commit.sha, f"message {message} {why} ({inner})", file=inner)

    def _archived_at_tip(self, books: PushRange) -> set[str]:
        """Every message id the pushed tip's archive holds (archives are never deleted), one read."""
        if self._at_tip is None:
            folder = books.repo_path(books.config.archive.rstrip("/"))
            self._at_tip = message_ids(
                push.grep_lines(books.root, books.new, folder, "<!-- loopkit:message ")
            )
        return self._at_tip
