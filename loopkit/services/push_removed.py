"""`removed-record` (SPEC section 11): a genuine record the base's books did not miss and the pushed
tip's do, by the one rule (state.removed_records, signatures included: a removed forgery is never
removed-record).

Judged on the tip, not commit by commit: a merge that takes one side's STATUS whole shows no line
in its combined diff, yet drops the other side's records; a forced push may drop lines no diff
shows."""

from __future__ import annotations

from loopkit.gitrepo import push
from loopkit.services.push_range import PushRange
from loopkit.state import record_shas, removed_records


def judge_removed(books: PushRange, commits: list[push.PushCommit]) -> None:
    """Each STATUS file the push touched: the genuine records its history wrote that the tip lacks
    and the base did not, blamed on the commit that removed the line (else the last to touch it)."""
    touched = _touched(books, commits)
    if not touched:
        return
    paths = sorted(touched)
    books.read(
        [f"{books.new}:{p}" for p in paths] + ([f"{books.old}:{p}" for p in paths] if books.old else [])
    )
    written_new = push.record_lines_at(books.root, books.new, paths)
    written_old = push.record_lines_at(books.root, books.old, paths) if books.old else {}
    merges = [c for c in commits if c.is_merge]
    for path in paths:
        phase = books.kind(path)[1] or ""
        old = written_old.get(path, [])
        written = written_new[path] + old  # what the base's history wrote counts too
        sigs = books.verify_many(record_shas(written, books.config))
        gone = removed_records(written, books.text(books.new, path), phase, books.config, sigs)
        before = set(removed_records(old, books.text(books.old, path), phase, books.config, sigs))
        for text in (t for t in gone if t not in before):
            by = _remover(path, text, touched[path]) or (touched[path] or merges or commits)[-1]
            books.add(
                "removed-record",
                by.sha,
                f"removes a record loopkit wrote: {text[:120]}",
                phase=phase,
                file=books.inner(path),
            )


def _touched(books: PushRange, commits: list[push.PushCommit]) -> dict[str, list[push.PushCommit]]:
    """STATUS path -> the commits that removed lines from it or merged it; with a merge or a
    base, every STATUS file that differs between the base and the tip too."""
    touched: dict[str, list[push.PushCommit]] = {}
    for commit in commits:
        for path, change in commit.files.items():
            if books.kind(path)[0] == "status" and (change.removed or commit.is_merge):
                touched.setdefault(path, []).append(commit)
    if any(c.is_merge for c in commits) or books.old is not None:
        every = (
            push.changed_between(books.root, books.old, books.new, books.pathspec())
            if books.old is not None
            else [p for c in commits for p in c.files]
        )
        for path in every:
            if books.kind(path)[0] == "status":
                touched.setdefault(path, [])
    return touched


def _remover(path: str, text: str, touched: list[push.PushCommit]) -> push.PushCommit | None:
    """The last commit whose diff removes this record's line from `path`."""
    for commit in reversed(touched):
        change = commit.files.get(path)
        if change is not None and any(t.rstrip("\r")[2:] == text for t in change.removed):
            return commit
    return None
