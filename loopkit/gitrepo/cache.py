"""A disposable memo of what history answers slowly: blame, code ids, tree diffs, the spec and
record commits. Kept in `.git/loopkit/cache/` as JSON, one file per kind.

Every entry is keyed by what its answer depends on and nothing else, so a stale entry cannot be
found, only missed:

- blame of a working file: (HEAD, path, the working file's blob id); the blob id is remembered
  with the file's stat and trusted only when the file is older than the stat's reading by more
  than the clock's grain (git's "racily clean" rule), otherwise the file is hashed again;
- code ids and tree diffs: the commit ids (immutable objects) and the workspace folder;
- spec and record commits: HEAD (and the paths asked).

When HEAD moved since an entry was made, the entry is carried over only through new commits
read from history: a linear chain of single-parent commits from the old HEAD to the new one
(what loopkit's own commits are). Blame carries over for files those commits did not touch; the
commit lists are extended by a log of the new commits alone. Anything else (a merge, a rebase,
a reset) computes afresh. Deleting the folder changes no output; `LOOPKIT_NO_CACHE=1` turns it
off. Nothing here is a source of truth: the Markdown in git is.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from loopkit.gitrepo.runner import run_bytes

VERSION = 1
RACY_NS = 2_000_000_000  # a file changed this close to when its stat was read is hashed again
CHAIN_MAX = 256  # more new commits than this: compute afresh rather than carry over


def enabled() -> bool:
    return not os.environ.get("LOOPKIT_NO_CACHE")


class Store:
    """The JSON files of one repository's cache, read on first use, written once at the end."""

    def __init__(self, root: Path, folder: Path | None) -> None:
        self.root = root
        self.folder = folder
        self._data: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._chains: dict[tuple[str, str], list[tuple[str, set[str]]] | None] = {}

    def kind(self, name: str) -> dict[str, Any]:
        if name not in self._data:
            data: dict[str, Any] = {}
            if self.folder is not None:
                with contextlib.suppress(OSError, ValueError):
                    loaded = json.loads((self.folder / f"{name}.json").read_bytes())
                    if isinstance(loaded, dict) and loaded.get("version") == VERSION:
                        data = loaded.get("entries") or {}
            self._data[name] = data if isinstance(data, dict) else {}
        return self._data[name]

    def changed(self, name: str) -> None:
        self._dirty.add(name)

    def save(self) -> None:
        if self.folder is None or not self._dirty:
            return
        from loopkit.workspace import write_atomic

        with contextlib.suppress(Exception):  # a cache that cannot be written is only slower
            self.folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(self._dirty):
                blob = json.dumps({"version": VERSION, "entries": self._data[name]}, separators=(",", ":"))
                write_atomic(self.folder / f"{name}.json", blob)
        self._dirty.clear()

    # -- working files ------------------------------------------------------------------------
    def blob_id(self, path: str) -> str | None:
        """The git blob id of the working file (None when it does not exist), by stat when safe."""
        full = self.root / path
        try:
            st = full.stat()
        except OSError:
            return None
        stat = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        known = self.kind("stat")
        entry = known.get(path)
        if entry and entry.get("stat") == stat and int(entry.get("read", 0)) - stat[1] > RACY_NS:
            return str(entry["blob"])
        read_at = time.time_ns()
        try:
            data = full.read_bytes()
        except OSError:
            return None
        import hashlib  # lazy: status's memo imports this package and never hashes (OpenSSL's load)

        blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        known[path] = {"stat": stat, "read": read_at, "blob": blob}
        self.changed("stat")
        return blob

    # -- history ------------------------------------------------------------------------------
    def chain(self, old: str, new: str) -> list[tuple[str, set[str]]] | None:
        """The commits from `old` (exclusive) to `new`, newest first, with the paths each touched,
        when they form a line of single-parent commits; None otherwise (merge, rewrite, too many)."""
        if old == new:
            return []
        key = (old, new)
        if key not in self._chains:
            self._chains[key] = _chain(self.root, old, new)
        return self._chains[key]


def _chain(root: Path, old: str, new: str) -> list[tuple[str, set[str]]] | None:
    code, out, _ = run_bytes(
        root,
        [
            "-c",
            "core.quotePath=false",
            "log",
            "--no-show-signature",
            f"--max-count={CHAIN_MAX + 1}",
            "--no-renames",
            "--name-only",
            "-z",
            "--format=%x1e%H %P",
            f"{old}..{new}",
        ],
        check=False,
    )
    if code != 0:
        return None
    commits: list[tuple[str, str, set[str]]] = []
    for chunk in out.decode("utf-8", "surrogateescape").split("\x1e")[1:]:
        head, *names = chunk.split("\0")
        shas = head.split()
        if len(shas) != 2:
            return None  # a merge or a root commit: not a line from `old`
        commits.append((shas[0], shas[1], {n.strip("\n") for n in names if n.strip("\n")}))
    if not commits or len(commits) > CHAIN_MAX or commits[0][0] != new:
        return None
    for (_, parent, _), (sha, _, _) in itertools.pairwise(commits):
        if parent != sha:
            return None
    if commits[-1][1] != old:
        return None
    return [(sha, paths) for sha, _, paths in commits]


def folder_for(root: Path) -> Path | None:
    if not enabled():
        return None
    from loopkit.workspace import _git_dir

    git_dir = _git_dir(root)
    return None if git_dir is None else git_dir / "loopkit" / "cache"


def key_of(*parts: object) -> str:
    import hashlib

    return hashlib.sha1(json.dumps(parts, separators=(",", ":")).encode(), usedforsecurity=False).hexdigest()
