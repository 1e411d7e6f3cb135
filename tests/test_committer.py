"""The commit path (gitrepo/committer.py) makes the commit git itself makes: on generated trees and
changes, `build` gives the very commit that `git add -A -- <paths>` on a fresh index from the parent,
`write-tree` and `commit-tree` give (same tree, parent, identity, dates, message), the index lines
git's own index would hold, no commit when nothing changed, and `git fsck --full --strict` finds
nothing wrong. The person's index and staged changes are left as they were."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from loopkit.gitrepo import committer
from loopkit.gitrepo.trees import Trees
from loopkit.model.config import Identity

# names that sort trickily around a folder `a` ('-' < '.' < '/' < '0'), non-ASCII, spaces, case
NAMES = st.sampled_from(["a", "a.b", "a-b", "a0", "a_", "b", "A", "é", "z z", "日本"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)
CONTENT = st.one_of(
    st.sampled_from([b"", b"x\r\ny\r\n", "é\n".encode(), b"line\n" * 3, b"\0bin\xff"]),
    st.binary(max_size=64),
)
WHEN = "1700000000 +0000"
WHO = Identity("builder", "builder@loopkit.invalid")


def _git(root: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    full = {
        **os.environ,
        "GIT_AUTHOR_NAME": WHO.name,
        "GIT_AUTHOR_EMAIL": WHO.email,
        "GIT_COMMITTER_NAME": WHO.name,
        "GIT_COMMITTER_EMAIL": WHO.email,
        "GIT_AUTHOR_DATE": WHEN,
        "GIT_COMMITTER_DATE": WHEN,
        **(env or {}),
    }
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, input=stdin, env=full
    ).stdout


def _without_conflicts(paths: list[str], taken: set[str]) -> list[str]:
    """Paths none of which is a folder of another (or of one in `taken`)."""
    kept: list[str] = []
    for path in paths:
        others = set(kept) | taken
        if path in others or any(o.startswith(path + "/") or path.startswith(o + "/") for o in others):
            continue
        kept.append(path)
    return kept


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _by_git(root: Path, parent: str | None, paths: list[str]) -> tuple[str, bytes]:
    """What git makes of these paths on its own: a fresh index from the parent, `git add -A`,
    `write-tree`, `commit-tree`; the commit and `ls-files -s` of the paths."""
    index = root / ".git" / "reference-index"
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        _git(root, "read-tree", parent or "--empty", env=env)
        known = set(_git(root, "ls-files", "-z", env=env).decode().split("\0"))
        # `git add -A` refuses a path that is neither in the work tree nor in the index
        added = [p for p in paths if (root / p).is_file() or p in known]
        if added:
            _git(root, "add", "-A", "--", *added, env=env)
        tree = _git(root, "write-tree", env=env).decode().strip()
        commit = _git(root, "commit-tree", tree, *(["-p", parent] if parent else []), stdin=b"m\n")
        staged = _git(root, "ls-files", "-s", "-z", "--", *paths, env=env)
        return commit.decode().strip(), staged
    finally:
        index.unlink(missing_ok=True)


def _entries(listed: bytes) -> set[tuple[str, str, str]]:
    """(mode, blob, path) of `ls-files -s -z` output."""
    found = set()
    for entry in filter(None, listed.decode().split("\0")):
        info, path = entry.split("\t", 1)
        mode, blob, _ = info.split(" ")
        found.add((mode, blob, path))
    return found


def _staged(index_lines: str) -> set[tuple[str, str, str]]:
    """What `update-index --index-info` lines leave in an index for their paths: the present ones."""
    found = set()
    for line in index_lines.splitlines():
        info, path = line.split("\t", 1)
        mode, blob = info.split(" ")
        if mode != "0":
            found.add((mode, blob, path))
    return found


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@example(
    base={"a/b": b"x", "a-b": b"", "a.b": b"", "a0": b""}, changes={"a_": b"n"}, first=False, empty=False
)
@example(base={"a/b/c": b"x", "a/b.c": b""}, changes={"a/b/c": None}, first=False, empty=False)
@given(
    base=st.dictionaries(PATHS, CONTENT, max_size=8),
    changes=st.dictionaries(PATHS, st.one_of(st.none(), CONTENT), min_size=1, max_size=5),
    first=st.booleans(),
    empty=st.booleans(),
)
def test_the_commit_is_the_one_git_makes(
    base: dict[str, bytes], changes: dict[str, bytes | None], first: bool, empty: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _git(root, "init", "-q", "-b", "main")
        files = {} if first else {p: base[p] for p in _without_conflicts(sorted(base), set())}
        parent = None
        if not first:
            for rel, data in files.items():
                _write(root, rel, data)
            _write(root, "tool", b"#!/bin/sh\n")
            os.chmod(root / "tool", 0o755)
            os.symlink("tool", root / "link")  # siblings of other modes, kept as they are
            _git(root, "add", "-A")
            _git(root, "commit", "-q", "--allow-empty", "-m", "base")
            parent = _git(root, "rev-parse", "HEAD").decode().strip()
        # a written path is a file or absent, never a folder of the tree or below a file of it
        folders = {"/".join(p.split("/")[:n]) for p in files for n in range(1, p.count("/") + 1)}
        written = [
            p
            for p in _without_conflicts(list(changes), set(files) - set(changes))
            if p not in folders and p not in ("tool", "link")
        ]
        written = [p for p in written if not any(p.startswith(f + "/") for f in files)]
        if empty:  # every file taken out: folders empty, the root tree may be the empty tree
            written = _without_conflicts([*files, *written], set())
            changes = dict.fromkeys(written)
        assume(written)  # a transaction always writes something
        for rel in written:
            target = root / rel
            if changes[rel] is None:
                target.unlink(missing_ok=True)
            else:
                _write(root, rel, changes[rel] or b"")
        person = _git(root, "ls-files", "-s")
        git_dir = root / ".git"
        args = {"paths": written, "parent": parent, "message": "m\n", "identity": WHO, "when": WHEN}
        made = committer.build(root, git_dir, scratch="a", allow_empty=True, reader=Trees(root), **args)  # type: ignore[arg-type]
        assert made is not None
        reference, staged = _by_git(root, parent, written)
        assert made.sha == reference
        assert made.parent == parent
        assert _staged(made.index_lines) == _entries(staged)
        assert _git(root, "ls-files", "-s") == person  # the person's index: untouched by a build
        assert not any(p.name.startswith("loopkit-index") for p in git_dir.iterdir())
        _git(root, "update-ref", "HEAD", made.sha)
        fsck = subprocess.run(
            ["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=root, capture_output=True, text=True
        )
        assert fsck.returncode == 0 and not fsck.stdout.strip() and not fsck.stderr.strip(), fsck
        # without allow_empty, a commit that changes nothing is no commit (asked with or without
        # the transaction's reader)
        unchanged = parent is not None and _git(root, "rev-parse", f"{parent}^{{tree}}") == _git(
            root, "rev-parse", f"{made.sha}^{{tree}}"
        )
        for reader in (Trees(root), None):
            again = committer.build(root, git_dir, scratch="b", reader=reader, **args)  # type: ignore[arg-type]
            assert (again is None) if unchanged else (again is not None and again.sha == made.sha)


@pytest.mark.parametrize("init", [[], ["--object-format=sha256"], ["--shared=group"]])
def test_every_repository_git_makes_takes_the_same_path(tmp_path: Path, init: list[str]) -> None:
    """sha256 and shared repositories: git writes the objects in its own format and modes."""
    root = tmp_path / "repo"
    _git(tmp_path, "init", "-q", "-b", "main", *init, str(root))
    _write(root, "kept/one.md", b"one\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    parent = _git(root, "rev-parse", "HEAD").decode().strip()
    _write(root, "docs/JOURNAL-p.md", b"## entry\n")
    (root / "kept" / "one.md").unlink()
    _write(root, "staged.md", b"the person's\n")
    _git(root, "add", "staged.md")
    made = committer.build(
        root,
        root / ".git",
        paths=["docs/JOURNAL-p.md", "kept/one.md"],
        parent=parent,
        message="m\n",
        identity=WHO,
        when=WHEN,
        scratch="s",
    )
    assert made is not None
    assert made.sha == _by_git(root, parent, ["docs/JOURNAL-p.md", "kept/one.md"])[0]
    listed = _git(root, "ls-tree", "-r", "--name-only", made.sha).decode().split()
    assert listed == ["docs/JOURNAL-p.md"]  # the staged file is the person's, not the commit's
    _git(root, "update-ref", "HEAD", made.sha)
    assert (
        subprocess.run(["git", "fsck", "--full", "--strict"], cwd=root, capture_output=True).returncode == 0
    )


@pytest.mark.parametrize("init", [[], ["--object-format=sha256"]])
def test_a_first_commit_is_published_in_either_object_format(tmp_path: Path, init: list[str]) -> None:
    """No parent: HEAD must not exist yet, said as git says it for ids of any length."""
    root = tmp_path / "repo"
    _git(tmp_path, "init", "-q", "-b", "main", *init, str(root))
    _write(root, "JOURNAL-p.md", b"## entry\n")
    made = committer.build(
        root,
        root / ".git",
        paths=["JOURNAL-p.md", "gone.md"],
        parent=None,
        message="m\n",
        identity=WHO,
        when=WHEN,
        scratch="s",
    )
    assert made is not None
    assert committer.publish(root, root / ".git", made, subject="m", scratch="s") is None
    assert _git(root, "rev-parse", "HEAD").decode().strip() == made.sha
    assert _entries(_git(root, "ls-files", "-s", "-z")) == _staged(made.index_lines)
    # and HEAD, once it exists, is not overwritten by a second first commit
    with pytest.raises(committer.HeadMoved):
        committer.publish(root, root / ".git", made, subject="m", scratch="t")
