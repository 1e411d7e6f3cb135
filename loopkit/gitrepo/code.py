"""Code named by content (SPEC section 7): the id of HEAD's root tree with the workspace's entry
taken out, along its path for a nested folder. A rebase or a merge that brings only workspace
files leaves it unchanged; equal ids mean nothing outside the workspace changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loopkit.gitrepo.runner import run, run_bytes


def _entries(root: Path, treeish: str) -> list[bytes] | None:
    code, out, _ = run_bytes(root, ["ls-tree", "-z", treeish], check=False)
    if code != 0:
        return None
    return [e for e in out.split(b"\0") if e]


def _name(entry: bytes) -> str:
    return entry.split(b"\t", 1)[1].decode("utf-8", "surrogateescape")


def _mktree(root: Path, entries: list[bytes]) -> str:
    return run(root, "mktree", "-z", stdin=b"".join(e + b"\0" for e in entries)).strip()


def code_id(root: Path, commit: str, *, rel: str, owned: Callable[[str], bool]) -> str | None:
    """The code id of a commit; None when the commit is unknown.

    `rel` is the workspace folder relative to the repository root ('' at the root, where the
    top-level entries for which `owned(name)` holds are loopkit's files and are taken out).
    """
    parts = [p for p in rel.split("/") if p]
    if not parts:
        top = _entries(root, commit)
        if top is None:
            return None
        return _mktree(root, [e for e in top if not owned(_name(e))])
    levels: list[list[bytes]] = []
    for depth in range(len(parts)):
        prefix = "/".join(parts[:depth])
        found = _entries(root, f"{commit}:{prefix}" if prefix else commit)
        if found is None:
            if depth == 0:
                return None
            break  # the workspace folder is not in this commit: nothing to take out below here
        levels.append(found)
    # innermost first: drop the workspace's entry, then rebuild each parent with the new child
    child_name = parts[len(levels) - 1]
    entries = [e for e in levels[-1] if _name(e) != child_name]
    sha = _mktree(root, entries)
    for depth in range(len(levels) - 2, -1, -1):
        name = parts[depth]
        rebuilt = []
        for entry in levels[depth]:
            if _name(entry) == name:
                if entries:  # an emptied folder disappears, as git would store it
                    rebuilt.append(b"040000 tree " + sha.encode() + b"\t" + name.encode())
            else:
                rebuilt.append(entry)
        entries = rebuilt
        sha = _mktree(root, entries)
    return sha


def changed_paths(root: Path, old: str, new: str) -> list[str] | None:
    """Paths that differ between two trees (or commits); None when either is unknown."""
    code, out, _ = run_bytes(
        root, ["diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new], check=False
    )
    if code != 0:
        return None
    return sorted(p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p)
