"""One write transaction: lock, re-read, plan, redact-check, write, commit, honest rollback.

Every command that writes hands a *planner* to `run`: a function that reads the books (inside
the lock) and returns the plan of writes. The transaction

1. takes the workspace lock and first finishes or undoes any transaction a killed process left;
2. calls the planner, checks every text it will write (and the commit message) for secrets;
3. writes an intent record (`.git/loopkit/txn.json`: each file's bytes before, or the length to
   truncate an append back to, and a digest of the bytes after), then writes the files atomically;
4. builds the commit on the HEAD it reads now and moves HEAD by compare-and-swap; when HEAD moved
   meanwhile (a person's commit, a probe that ran for minutes) it puts the files back exactly and
   plans again on top of the new HEAD;
5. once HEAD has moved nothing is undone; the intent record goes.

A kill at any point leaves either the old books (the next command restores the bytes the intent
record names) or the new ones (the next command sees HEAD at the planned commit and keeps them).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit.errors import GitError, LoopkitError
from loopkit.workspace import INTENT_FILE, Workspace, write_atomic

if TYPE_CHECKING:
    from loopkit.gitrepo.committer import Built
    from loopkit.gitrepo.trees import Trees
    from loopkit.model.config import Identity
    from loopkit.redact import Redactor

RETRIES = 8


@dataclass(frozen=True)
class Append:
    """Bytes appended to a file whose whole content, as the planner read it, is `base` (an append
    planned without the whole text: services/journals.append_in_place)."""

    base: bytes
    tail: bytes


@dataclass
class Plan:
    """What one command writes, the commit it makes, and the document it returns."""

    writes: dict[Path, str | None]
    action: str
    phase: str | None
    subject: Mapping[str, Any]
    body: str = ""
    trailers: Sequence[tuple[str, str]] = ()
    result: dict[str, Any] = field(default_factory=dict)
    allow_empty: bool = False
    appends: Mapping[Path, Append] = field(default_factory=dict)


@dataclass(frozen=True)
class Author:
    """Who commits a plan, with what message, when (None: now), signed how, and what a failed
    signature says (services/context.Context._author makes one)."""

    identity: Callable[[str], Identity]
    message: Callable[[Plan], str]
    when: str | None
    sign: tuple[str, ...]
    signing_failure: Callable[[GitError], LoopkitError]


@dataclass(frozen=True)
class Outcome:
    """A transaction's plan as carried out, and its commit (None with --no-commit)."""

    plan: Plan
    commit: str | None


def run(
    ws: Workspace,
    planner: Callable[[], Plan],
    *,
    redactor: Redactor,
    author: Author | None,
    warn: Callable[[str], None],
) -> Outcome:
    """Plan (the planner reads afresh on each call), check, write and commit as `author`; with no
    author (--no-commit) the files are written and nothing is committed. `warn` takes the lines
    for stderr (a recovered transaction, a hook's complaint)."""
    with ws.lock():
        recover(ws, warn)
        for _ in range(RETRIES):
            plan = planner()
            if not plan.writes and not plan.appends:
                return Outcome(plan, None)
            encoded: dict[Path, bytes | Append | None] = {
                path: None if text is None else text.encode("utf-8") for path, text in plan.writes.items()
            }
            for text in plan.writes.values():
                redactor.check(text or "")
            for appended in plan.appends.values():
                if redactor.may_leak(appended.base, appended.tail):  # else check() finds nothing
                    redactor.check((appended.base + appended.tail).decode("utf-8"))
            encoded.update((path, appended) for path, appended in plan.appends.items())
            if author is None:
                _write_all(ws, encoded, warn)
                return Outcome(plan, None)
            sha = _write_all(ws, encoded, warn, author=author, plan=plan, message=author.message(plan))
            if sha is not _MOVED:
                return Outcome(plan, sha if isinstance(sha, str) else None)
    raise GitError(f"HEAD kept moving while loopkit committed ({RETRIES} tries); nothing was written")


_MOVED = object()


def _write_all(
    ws: Workspace,
    writes: Mapping[Path, bytes | Append | None],
    warn: Callable[[str], None],
    *,
    author: Author | None = None,
    plan: Plan | None = None,
    message: str = "",
) -> object:
    from loopkit.gitrepo import committer
    from loopkit.gitrepo.trees import Trees

    commit = author is not None
    scratch = os.urandom(6).hex()
    intent_path = _intent_path(ws)
    before = {path: _before(path, data) for path, data in writes.items()}
    root = ws.repo_root
    # one `git cat-file --batch` answers HEAD and the parent's trees the commit is built from
    reader = Trees(root) if commit and root is not None else None
    parent = committer.current_head(root, reader) if root is not None and reader is not None else None
    intent: dict[str, Any] = {
        "scratch": scratch,
        "pid": os.getpid(),
        "action": plan.action if plan else "write",
        "parent": parent,
        "files": {str(path): _undo_of(before[path], after) for path, after in writes.items()},
    }
    _save(intent_path, intent)
    built = None
    try:
        _apply(writes, before, scratch)
        if author is None or root is None or plan is None:
            _drop(intent_path)
            return None
        built = _build(ws, root, writes, author, plan, parent, message, scratch, reader)
        if built is None:
            _drop(intent_path)
            return None
        intent["commit"] = built.sha
        intent["index"] = built.index_lines
        _save(intent_path, intent)
        subject = message.split("\n", 1)[0]
        warning = committer.publish(root, ws.git_dir, built, subject=subject, scratch=scratch)
        if warning:
            warn(warning)
    except committer.HeadMoved:
        _restore(before, scratch)
        _drop(intent_path)
        return _MOVED
    except BaseException:
        if built is not None and root is not None and committer.current_head(root) == built.sha:
            _drop(intent_path)  # the ref moved: the command happened, whatever came after
            raise
        _restore(before, scratch)
        _drop(intent_path)
        raise
    _drop(intent_path)
    return built.sha


def _apply(
    writes: Mapping[Path, bytes | Append | None], before: Mapping[Path, bytes | Append | None], scratch: str
) -> None:
    """Each file as `writes` has it: deleted (None), appended to, or replaced."""
    for path, data in writes.items():
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        elif isinstance(data, Append):
            _write_append(path, data, scratch=scratch)
        else:
            _write(path, _known(before[path]), data, scratch=scratch)


def _build(
    ws: Workspace,
    root: Path,
    writes: Mapping[Path, bytes | Append | None],
    author: Author,
    plan: Plan,
    parent: str | None,
    message: str,
    scratch: str,
    reader: Trees | None,
) -> Built | None:
    """The commit of the files written, on `parent` (None: nothing to commit); a signing that
    fails is the author's failure, said as such."""
    from loopkit.gitrepo import committer

    sign = list(author.sign)
    try:
        return committer.build(
            root,
            ws.git_dir,
            paths=[ws.repo_path(p) for p in writes],
            parent=parent,
            message=message,
            identity=author.identity(plan.action),
            when=author.when,
            scratch=scratch,
            allow_empty=plan.allow_empty,
            sign=sign,
            reader=reader,
        )
    except GitError as exc:
        if sign and "commit-tree" in exc.message:
            raise author.signing_failure(exc) from None
        raise


def _before(path: Path, data: bytes | Append | None) -> bytes | Append | None:
    """What puts the file back: its bytes, or for an append the append itself (cut back to)."""
    return data if isinstance(data, Append) else _read(path)


def _known(before: bytes | Append | None) -> bytes | None:
    return before.base if isinstance(before, Append) else before


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _appends(before: bytes | None, after: bytes | None) -> bool:
    return (
        bool(before)
        and after is not None
        and len(after) > len(before or b"")
        and after.startswith(before or b"")
    )


def _write(path: Path, before: bytes | None, after: bytes, *, scratch: str) -> None:
    """An append is written in place (O(the entry), not O(the file)); anything else atomically."""
    if before is not None and _appends(before, after):
        with contextlib.suppress(_NotInPlace):
            _append_in_place(path, before, after[len(before) :])
            return
    write_atomic(path, after, scratch=scratch)


def _write_append(path: Path, appended: Append, *, scratch: str) -> None:
    """An append planned from `base`: in place; when the file is no longer `base`, written whole."""
    with contextlib.suppress(_NotInPlace):
        _append_in_place(path, appended.base, appended.tail)
        return
    write_atomic(path, appended.base + appended.tail, scratch=scratch)


class _NotInPlace(Exception):
    """The file is not the one read: write it whole, atomically, as for any edit."""


def _append_in_place(path: Path, before: bytes, tail: bytes) -> None:
    """Append + fsync, after checking the file still ends as read; on any failure, truncate back.

    The intent record (saved first) names the old length and the appended bytes, so a kill in the
    middle is undone by the next command: the file is cut back to the old length (txn._undo).
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise _NotInPlace from exc
    try:
        size = os.fstat(fd).st_size
        edge = min(len(before), 4096)
        if size != len(before) or os.pread(fd, edge, size - edge) != before[-edge:]:
            raise _NotInPlace
        try:
            written = 0
            while written < len(tail):
                written += os.pwrite(fd, tail[written:], size + written)
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


def _undo_of(before: bytes | Append | None, after: bytes | Append | None) -> dict[str, Any]:
    """How to put a file back: absent, truncated to its old length (an append), or its bytes.

    An append names the old length and the bytes appended (never digests of the whole file: an
    append stays O(the entry)); the others a digest of the bytes after, to undo only our write."""
    if isinstance(after, Append):
        return {"append_at": len(after.base), "tail": base64.b64encode(after.tail).decode("ascii")}
    before = _known(before)
    if before is not None and _appends(before, after):
        assert after is not None
        return {"append_at": len(before), "tail": base64.b64encode(after[len(before) :]).decode("ascii")}
    undo: dict[str, Any] = {"after": _digest(after)}
    if before is None:
        undo["absent"] = True
    elif after is not None and after.startswith(before):
        undo["truncate"] = len(before)
        undo["before"] = _digest(before)
    else:
        undo["bytes"] = base64.b64encode(before).decode("ascii")
    return undo


def _digest(data: bytes | None) -> str | None:
    import hashlib  # lazy: every command imports this module for `pending`, few write (OpenSSL's load)

    return None if data is None else hashlib.sha256(data).hexdigest()


def _restore(before: Mapping[Path, bytes | Append | None], scratch: str) -> None:
    """Exact bytes back, every file tried even when one fails. The temporary files carry the
    transaction's scratch name: a kill during the rollback leaves nothing the recovery misses.
    An append is cut back to its old length (when what follows it is what we appended)."""
    failure: BaseException | None = None
    for path, data in before.items():
        try:
            if isinstance(data, Append):
                _undo_append(path, len(data.base), data.tail)
            elif data is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, data, scratch=scratch)
        except BaseException as exc:  # keep going: a half rollback is worse than a late error
            failure = failure or exc
    if failure is not None:
        raise failure


def _intent_path(ws: Workspace) -> Path:
    return ws.git_dir / "loopkit" / INTENT_FILE


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data).encode("utf-8"), scratch="intent")


def _drop(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def recover(ws: Workspace, warn: Callable[[str], None]) -> None:
    """Finish (HEAD reached the planned commit) or undo (it did not) a killed transaction; `warn`
    takes the line that says which. The caller holds the workspace lock.
    """
    from loopkit.gitrepo import committer

    if ws.repo_root is None:
        return
    path = _intent_path(ws)
    try:
        intent = json.loads(path.read_bytes())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        warn(f"an unreadable transaction record {path} was removed")
        _drop(path)
        return
    root, git_dir = ws.repo_root, ws.git_dir
    scratch = str(intent.get("scratch", ""))
    committer.settle(scratch)  # a git child of the killed command may still be moving HEAD
    commit = intent.get("commit")
    head = committer.current_head(root)
    finished = (
        bool(commit) and head is not None and (head == commit or committer.is_ancestor(root, commit, head))
    )
    files: dict[str, Any] = intent.get("files") or {}
    committer.release_index_lock(git_dir, scratch)  # ours, if the kill came while we held it
    if finished:
        with contextlib.suppress(GitError):
            committer.refresh_index(root, str(intent.get("index", "")), scratch=scratch)
    else:
        for name, undo in files.items():
            _undo(Path(name), undo, scratch)
    for name in files:
        target = Path(name)
        with contextlib.suppress(OSError):
            (target.parent / f".{target.name}.{scratch}.tmp").unlink()
    for leftover in (
        f"loopkit-index-{scratch}",
        f"loopkit-index-{scratch}.lock",
        f"loopkit-index-{scratch}-new",
        f"loopkit-index-{scratch}-new.lock",
        f"loopkit-index-{scratch}-lock",
    ):
        with contextlib.suppress(OSError):
            (git_dir / leftover).unlink()
    committer.release_index_lock(git_dir, scratch)
    _drop(path)
    what = intent.get("action", "command")
    warn(
        f"an interrupted `{what}` was {'finished' if finished else 'undone'} "
        f"({'its commit is in history' if finished else 'its files are back as they were'})"
    )


def _undo(path: Path, undo: Mapping[str, Any], scratch: str) -> None:
    if "append_at" in undo:
        _undo_append(path, int(undo["append_at"]), base64.b64decode(undo["tail"]))
        return
    current = _read(path)
    if _digest(current) != undo.get("after"):
        return  # not what the killed command wrote: the old bytes, or someone's edit since
    if undo.get("absent"):
        path.unlink(missing_ok=True)
    elif "truncate" in undo and current is not None:
        old = current[: int(undo["truncate"])]
        if _digest(old) == undo.get("before"):
            write_atomic(path, old, scratch=scratch)
    elif "bytes" in undo:
        write_atomic(path, base64.b64decode(undo["bytes"]), scratch=scratch)


def _undo_append(path: Path, at: int, tail: bytes) -> None:
    """Cut an interrupted append back to the old length: only when what follows the old length is
    (a beginning of) the bytes we appended, so someone's later edit is never cut."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size < at or size > at + len(tail):
            return
        if os.pread(fd, size - at, at) != tail[: size - at]:
            return
        os.ftruncate(fd, at)
        os.fsync(fd)
    finally:
        os.close(fd)
