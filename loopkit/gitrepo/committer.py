"""Commits of exactly the written paths, like Backlog.md: a temporary index built from HEAD,
`write-tree`, `commit-tree`, then `update-ref HEAD new old` as a compare-and-swap. git writes
every object; loopkit only says which paths.

Everything that can fail happens before the ref moves: the blobs, the tree, the commit, the
person's new index (prepared under git's own `index.lock`, so a running `git` makes us fail
cleanly instead of after the fact). Once the ref has moved nothing is undone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loopkit.errors import GitError
from loopkit.gitrepo.runner import ZERO, git_env, run, run_bytes
from loopkit.model.config import Identity

if TYPE_CHECKING:
    from loopkit.gitrepo.trees import Entries, Trees


class HeadMoved(GitError):
    """HEAD is no longer the parent the commit was built on: re-read and commit on top."""


@dataclass(frozen=True)
class Built:
    """A commit built on a temporary index, not yet published: its id, its parent, the index lines."""

    sha: str
    parent: str | None
    index_lines: str  # `update-index --index-info` lines for the written paths


def identity_env(identity: Identity, when: str | None) -> dict[str, str]:
    """The role is author and committer whatever GIT_AUTHOR_*/GIT_COMMITTER_* say."""
    env = {k: v for k, v in git_env().items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"] = identity.name
        env[f"GIT_{who}_EMAIL"] = identity.email
        if when:
            env[f"GIT_{who}_DATE"] = when
    return env


def build(
    root: Path,
    git_dir: Path,
    *,
    paths: Sequence[str],
    parent: str | None,
    message: str,
    identity: Identity,
    when: str | None,
    scratch: str,
    allow_empty: bool = False,
    sign: Sequence[str] = (),
    reader: Trees | None = None,
) -> Built | None:
    """A commit of these work-tree paths on top of `parent`; None when it would change nothing.

    git writes every object: the blobs (`hash-object -w --stdin-paths`), the trees (`read-tree`
    of the parent, `update-index --index-info`, `write-tree`, on a temporary index) and the commit
    (`commit-tree`). `sign` holds the `-c key=value` options and `-S` flag of SSH signing, when
    the role signs; `reader` (the transaction's `cat-file --batch`) answers the parent's tree.
    """
    # every git child carries the transaction's mark, so a kill's survivors can be waited for
    env = {**identity_env(identity, when), MARK: scratch}
    present = [p for p in paths if (root / p).is_file()]
    lines, tree = _git_tree(root, env, paths=paths, present=present, parent=parent, reader=reader)
    if parent is not None and not allow_empty and tree == _tree_of(root, parent, reader):
        return None
    config = [a for a in sign if a != "-S"]
    args = [*config, "commit-tree", tree, *(["-S"] if "-S" in sign else []), "-F", "-"]
    if parent:
        args[len(config) + 2 : len(config) + 2] = ["-p", parent]
    sha = run(root, *args, env=env, stdin=message).strip()
    return Built(sha, parent, lines)


def _tree_of(root: Path, commit: str, reader: Trees | None) -> str:
    found = reader.commit_tree(commit) if reader is not None else None
    return found.hex() if found is not None else run(root, "rev-parse", f"{commit}^{{tree}}").strip()


def _index_lines(
    paths: Sequence[str], present: Sequence[str], blobs: Sequence[str], parent: str | None
) -> str:
    """`update-index --index-info` lines: each present path's blob, the others taken out (mode 0
    and a null id as long as the repository's ids: git refuses SHA-1's in a sha256 repository)."""
    known = parent or next(iter(blobs), ZERO)
    lines = [f"100644 {blob}\t{path}" for path, blob in zip(present, blobs, strict=True)]
    lines += [f"0 {'0' * len(known)}\t{path}" for path in paths if path not in present]
    return "\n".join(lines) + "\n"


def _git_tree(
    root: Path,
    env: dict[str, str],
    *,
    paths: Sequence[str],
    present: Sequence[str],
    parent: str | None,
    reader: Trees | None,
) -> tuple[str, str]:
    """The index lines of the written paths (see _index_lines) and the new root tree, written by
    git: the blobs by `hash-object`, every tree on the way from a written path to the root by one
    `mktree --batch` (the parent's trees read through the transaction's `cat-file --batch`). Two
    git processes, where a temporary index took four (read-tree, update-index, write-tree)."""
    from loopkit.gitrepo.trees import Trees

    blobs = _hash_objects(root, env, present)
    lines = _index_lines(paths, present, blobs, parent)
    changes: dict[str, bytes | None] = dict.fromkeys(paths)
    changes.update((path, bytes.fromhex(blob)) for path, blob in zip(present, blobs, strict=True))
    trees = reader if reader is not None else Trees(root)
    top = trees.commit_tree(parent) if parent is not None else None
    if parent is not None and top is None:
        raise GitError(f"git cat-file failed: {parent[:12]} is not a commit in this repository")
    return lines, _mktree(root, env, trees, top, changes).hex()


def _hash_objects(root: Path, env: dict[str, str], present: Sequence[str]) -> list[str]:
    """The blob ids of these files as written, stored by one `hash-object`."""
    if not present:
        return []
    return run(
        root,
        # fast zlib: a 10 MB journal is stored again on every append
        "-c",
        "core.looseCompression=1",
        "hash-object",
        "-w",
        "--no-filters",  # the bytes loopkit wrote, whatever .gitattributes says
        "--stdin-paths",
        env=env,
        stdin="\n".join(present) + "\n",
    ).split()


def _mktree(
    root: Path, env: dict[str, str], trees: Trees, top: bytes | None, changes: dict[str, bytes | None]
) -> bytes:
    """The root tree `top` with `changes` made, each new tree written by one `git mktree --batch`."""
    import subprocess
    from subprocess import PIPE

    proc = subprocess.Popen(
        ["git", "mktree", "-z", "--batch"], cwd=root, env=env, stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None
    assert stdout is not None

    def write(entries: Entries) -> bytes:
        """A tree of these entries, by git (which checks that each entry's object exists)."""
        kinds = {_TREE_MODE >> 12: b"tree", 0o160000 >> 12: b"commit"}
        listing = b"".join(
            b"%06o %s %s\t%s\0"
            % (
                mode,
                kinds.get(mode >> 12, b"blob"),
                sha.hex().encode(),
                name.encode("utf-8", "surrogateescape"),
            )
            for name, (mode, sha) in entries.items()
        )
        stdin.write(listing + b"\0")  # an empty entry ends the tree
        stdin.flush()
        made = stdout.readline().strip()
        if not made:
            raise EOFError
        return bytes.fromhex(made.decode())

    tree = None
    try:
        tree = _tree(trees, write, top, changes) or write({})  # every path taken out: the empty tree
    except (EOFError, OSError):
        pass  # git stopped: its message below
    finally:
        err = proc.communicate()[1]
    if tree is None:
        raise GitError("git mktree failed: " + err.decode("utf-8", "replace").strip()[:200])
    return tree


_TREE_MODE = 0o040000


def _tree(
    trees: Trees, write: Callable[[Entries], bytes], tree: bytes | None, changes: dict[str, bytes | None]
) -> bytes | None:
    """The id of `tree` (None: none yet) with `changes` made (relative path -> blob id, None to
    take the path out); None when nothing is left in it. Subtrees first, each written once."""
    entries = dict(trees.entries(tree)) if tree is not None else {}
    below: dict[str, dict[str, bytes | None]] = {}
    for path, blob in changes.items():
        name, slash, rest = path.partition("/")
        if slash:
            below.setdefault(name, {})[rest] = blob
        elif blob is None:
            entries.pop(name, None)
        else:
            entries[name] = (0o100644, blob)
    for name, inner in below.items():
        mode, sha = entries.get(name, (0, b""))
        is_tree = mode >> 12 == _TREE_MODE >> 12
        made = _tree(trees, write, sha if is_tree else None, inner)
        if made is not None:
            entries[name] = (_TREE_MODE, made)
        elif is_tree:
            entries.pop(name)  # its last path taken out (a file of that name stays as it is)
    return write(entries) if entries else None


INDEX_LOCK_MARK = b"loopkit transaction "


def publish(root: Path, git_dir: Path, built: Built, *, subject: str, scratch: str) -> str | None:
    """Prepare the person's index, then move HEAD from the parent to the commit (compare-and-swap).

    Returns a warning when the index could not be refreshed after the ref moved, else None.
    Raises HeadMoved (nothing changed) when HEAD is no longer the parent.
    """
    lock = git_dir / "index.lock"
    # the lock is taken with its mark already in it (a file written first, then linked as the
    # lock: exclusive as O_EXCL is): a kill can never leave an unmarked lock recovery cannot tell
    marked = git_dir / f"loopkit-index-{scratch}-lock"
    mark = INDEX_LOCK_MARK + scratch.encode() + b"\n"
    try:
        marked.write_bytes(mark)
        _take_index_lock(lock, marked, mark)
    except FileExistsError:
        raise GitError(
            f"{lock} exists: another git process is running (remove it if none is); nothing was written"
        ) from None
    except OSError as exc:
        raise GitError(f"cannot create {lock}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            marked.unlink()
    prepared = git_dir / f"loopkit-index-{scratch}-new"
    try:
        index = git_dir / "index"
        env = git_env({"GIT_INDEX_FILE": str(prepared), MARK: scratch})
        if index.is_file():
            prepared.write_bytes(index.read_bytes())
        else:
            run(root, "read-tree", built.parent or "--empty", env=env)
        run(root, "update-index", "--index-info", env=env, stdin=built.index_lines)
        code, _, err = run_bytes(
            root,
            # no parent: "" (git's "must not exist yet", whatever the length of the repository's ids)
            ["update-ref", "-m", f"loopkit: {subject}", "HEAD", built.sha, built.parent or ""],
            env=git_env({MARK: scratch}),  # a kill must not leave it moving HEAD unseen: see settle()
            check=False,
        )
        if code != 0:
            now = current_head(root)
            if now != built.parent:
                raise HeadMoved(f"HEAD moved from {(built.parent or 'nothing')[:12]} to {(now or '')[:12]}")
            raise GitError("git update-ref failed: " + err.decode("utf-8", "replace").strip()[:200])
        # the ref has moved: from here on nothing is undone
        try:
            os.replace(prepared, index)
        except OSError as exc:
            return f"the index was not refreshed ({exc.strerror}): run `git reset -q -- <the files named>`"
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            prepared.unlink()
        release_index_lock(git_dir, scratch)


# A person's editor runs `git status` now and then, which holds index.lock for a moment: wait that
# out (nothing is written before the lock is ours) rather than fail the command.
INDEX_LOCK_WAIT = 2.0


def _take_index_lock(lock: Path, marked: Path, mark: bytes) -> None:
    """Create git's index.lock holding `mark`, retrying with backoff for up to INDEX_LOCK_WAIT
    while another git holds it; FileExistsError when it is still held then."""
    import time

    deadline = time.monotonic() + INDEX_LOCK_WAIT
    pause = 0.01
    while True:
        try:
            try:
                os.link(marked, lock)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: create it exclusively, then mark it
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                with os.fdopen(fd, "wb") as out:
                    out.write(mark)
            return
        except FileExistsError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.25)


MARK = "LOOPKIT_TXN"


def settle(scratch: str, *, limit: float = 10.0) -> None:
    """Wait until no git process of a killed transaction is still running.

    Killing loopkit does not kill the `git update-ref` it started: that child can still move HEAD
    after the next command has looked. Its environment carries the transaction's mark, so the
    next command waits for it (Linux's /proc; elsewhere the ref lock is all there is to see).
    """
    import time

    needle = f"{MARK}={scratch}".encode()
    deadline = time.monotonic() + limit
    proc = Path("/proc")
    while time.monotonic() < deadline:
        running = False
        for entry in proc.glob("[0-9]*") if proc.is_dir() else ():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    running = True
                    break
            except OSError:
                continue
        if not running:
            return
        time.sleep(0.02)


def release_index_lock(git_dir: Path, scratch: str) -> None:
    """Remove git's index.lock only when it is the one this transaction made."""
    lock = git_dir / "index.lock"
    with contextlib.suppress(OSError):
        if lock.read_bytes() == INDEX_LOCK_MARK + scratch.encode() + b"\n":
            lock.unlink()


def current_head(root: Path, reader: Trees | None = None) -> str | None:
    """HEAD's commit; asked of `reader` (a transaction's `cat-file --batch`) when given."""
    if reader is not None:
        found = reader.commit("HEAD")
        return None if found is None else found[0]
    code, out, _ = run_bytes(root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False)
    return out.decode().strip() if code == 0 else None


def tree_state(root: Path) -> str | None:
    """HEAD and every tracked path that differs from it (staged or not), as one text from one git
    process: what the status memo is keyed by besides the workspace's files. None outside git.
    `--no-optional-locks`: a reader never takes the index lock a writer may need."""
    code, out, _ = run_bytes(
        root,
        [
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "-z",
            "--branch",
            "--no-ahead-behind",
            "--untracked-files=no",
            "--no-renames",
            "--ignore-submodules=none",
        ],
        check=False,
    )
    return out.decode("utf-8", "surrogateescape") if code == 0 else None


def refresh_index(root: Path, index_lines: str, *, scratch: str) -> None:
    """Give the person's index the committed entries (recovery after an interrupted publish). Its
    git carries the transaction's mark: a kill of this recovery leaves a child that the next
    recovery waits for (settle) before it looks at the index lock."""
    run(root, "update-index", "--index-info", stdin=index_lines, env=git_env({MARK: scratch}))


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    code, _, _ = run_bytes(root, ["merge-base", "--is-ancestor", older, newer], check=False)
    return code == 0


__all__ = [
    "Built",
    "HeadMoved",
    "build",
    "current_head",
    "identity_env",
    "is_ancestor",
    "publish",
    "refresh_index",
    "release_index_lock",
]
