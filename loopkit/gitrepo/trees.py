"""Tree diffs for staleness without GitPython: trees read through one `git cat-file --batch`
process kept open for the repository's life, compared in Python, descending only where tree ids
differ. The rules ask their questions one at a time (a claim's commit against HEAD, hundreds in a
status), so a git process per question would cost more than the walk it replaces."""

from __future__ import annotations

import re
import string
import subprocess
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

from loopkit.errors import GitError
from loopkit.gitrepo.runner import git_env

Entries = dict[str, tuple[int, bytes]]  # name -> (mode, binary object id)
_HEADER = re.compile(rb"^([0-9a-f]{40}|[0-9a-f]{64}) ([a-z]+) (\d+)$")
_TREE_LINE = re.compile(rb"^tree ([0-9a-f]{40}|[0-9a-f]{64})$")
_ROUND = 64  # questions written at once: 64 names of 41 bytes fit any pipe's buffer


def _is_tree(mode: int) -> bool:
    return mode >> 12 == 0o04


class Trees:
    """The objects of one repository, as `cat-file --batch` gives them, trees parsed and kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._trees: dict[bytes, Entries] = {}
        self._roots: dict[str, tuple[str, bytes] | None] = {}
        self._expected: list[str] = []

    def _objects(self, names: list[str]) -> list[tuple[bytes, bytes, bytes] | None]:
        """(id, type, content) of each object named as git names them (None when git has none such),
        asked in rounds of a few dozen: a round's questions are written before its answers are
        read, and fit the pipe whole, so neither side waits on the other more than once a round."""
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=git_env(),
                )
            except OSError as exc:
                raise GitError(f"git could not be run: {exc.strerror or exc}") from None
            weakref.finalize(self, _close, self._proc)
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        found: list[tuple[bytes, bytes, bytes] | None] = []
        try:
            for start in range(0, len(names), _ROUND):
                asked = names[start : start + _ROUND]
                self._proc.stdin.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in asked))
                self._proc.stdin.flush()
                for _ in asked:
                    header = _HEADER.match(self._proc.stdout.readline().rstrip(b"\n"))
                    if header is None:
                        found.append(None)  # "<name> missing" (or ambiguous): not in this repository
                        continue
                    data = self._proc.stdout.read(int(header[3]) + 1)
                    found.append((header[1], header[2], data[:-1]))
        except OSError:
            raise GitError("git cat-file failed: the object reader stopped") from None
        return found

    def expect(self, revs: Iterable[str]) -> None:
        """Commits whose root trees are likely to be asked for (status: every claim's and every
        record's commit): the first one asked and not known reads them all, in a few rounds."""
        self._expected.extend(r for r in revs if _full(r) and r not in self._roots)

    def commit(self, rev: str) -> tuple[str, bytes] | None:
        """A commit's id and root tree id (a full id as is, anything else peeled to a commit, as
        `rev-parse --verify <rev>^{commit}` does); None when it is not a commit git has."""
        if rev not in self._roots and self._expected:
            self._read_expected()
        if rev not in self._roots:
            self._roots[rev] = None
            full = _full(rev)
            if "\n" not in rev and (full or len(rev) != 40):
                self._roots[rev] = _root(self._objects([rev if full else f"{rev}^{{commit}}"])[0])
        return self._roots[rev]

    def commit_tree(self, rev: str) -> bytes | None:
        """The root tree id of a commit (see commit)."""
        found = self.commit(rev)
        return None if found is None else found[1]

    def _read_expected(self) -> None:
        """The expected commits and their root trees, as commit_tree and entries read them."""
        revs = [r for r in dict.fromkeys(self._expected) if r not in self._roots]
        self._expected.clear()
        for rev, found in zip(revs, self._objects(revs), strict=True):
            self._roots[rev] = _root(found)
        roots = (self._roots[r] for r in revs)
        trees = [t for t in dict.fromkeys(r[1] for r in roots if r is not None) if t not in self._trees]
        for tree, found in zip(trees, self._objects([t.hex() for t in trees]), strict=True):
            if found is not None and found[1] == b"tree":
                self._trees[tree] = _entries(_listing(found[2], len(tree)))

    def listing(self, tree: bytes) -> list[tuple[str, int, bytes]]:
        """A tree's entries (name, mode, binary id) in the order the object holds them."""
        found = self._objects([tree.hex()])[0]
        if found is None or found[1] != b"tree":
            raise GitError(f"git cat-file failed: {tree.hex()} is not a tree in this repository")
        return _listing(found[2], len(tree))

    def entries(self, tree: bytes) -> Entries:
        if tree not in self._trees:
            self._trees[tree] = _entries(self.listing(tree))
        return self._trees[tree]

    def diff(self, a: bytes, b: bytes, *, prune: Callable[[str], bool] | None, keep: str | None) -> list[str]:
        """Paths under two root trees whose entries differ (see Repo.changed), sorted."""
        found: list[str] = []
        self._walk(self.entries(a), self.entries(b), "", found, prune, keep)
        return sorted(found)

    def _walk(
        self,
        left: Entries,
        right: Entries,
        prefix: str,
        out: list[str],
        prune: Callable[[str], bool] | None,
        keep: str | None,
    ) -> None:
        for name in sorted(left.keys() | right.keys()):
            x, y = left.get(name), right.get(name)
            if x is not None and y is not None and x == y:
                continue
            path = prefix + name
            if prune is not None and prune(path):
                continue
            x_tree = x is not None and _is_tree(x[0])
            y_tree = y is not None and _is_tree(y[0])
            if keep is not None and not (
                (x_tree or y_tree) and keep.startswith(path + "/")
            ):  # a difference outside the workspace's folders: the answer, unread
                out.append(path + "/" if x_tree or y_tree else path)
                return
            if x_tree or y_tree:
                below_x = self.entries(x[1]) if x is not None and x_tree else {}
                below_y = self.entries(y[1]) if y is not None and y_tree else {}
                self._walk(below_x, below_y, path + "/", out, prune, keep)
                if keep is not None:
                    if out:
                        return
                    continue
            if (x is not None and not _is_tree(x[0])) or (y is not None and not _is_tree(y[0])):
                out.append(path)


def _full(rev: str) -> bool:
    return len(rev) == 40 and all(c in string.hexdigits for c in rev)


def _root(found: tuple[bytes, bytes, bytes] | None) -> tuple[str, bytes] | None:
    """A commit object's id and root tree id; None when the object is no commit."""
    match = _TREE_LINE.match(found[2].split(b"\n", 1)[0]) if found else None
    if found is None or found[1] != b"commit" or match is None:
        return None
    return found[0].decode(), bytes.fromhex(match[1].decode())


def _listing(data: bytes, width: int) -> list[tuple[str, int, bytes]]:
    """A tree object's entries: `<octal mode> <name>\\0<binary id>` one after another."""
    found: list[tuple[str, int, bytes]] = []
    at = 0
    while at < len(data):
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        found.append((name, int(data[at:space], 8), data[nul + 1 : nul + 1 + width]))
        at = nul + 1 + width
    return found


def _entries(listing: list[tuple[str, int, bytes]]) -> Entries:
    return {name: (mode, sha) for name, mode, sha in listing}


def _close(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
