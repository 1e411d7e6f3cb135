"""The commit path's shortcut (gitrepo/objects.py: blobs and trees written in Python) pinned to the
git path it replaces (read-tree, hash-object, update-index, write-tree on a temporary index): on
generated trees and changes the two build the same tree and the same commit, byte for byte, and
`git fsck --full --strict` finds nothing wrong with the objects loopkit wrote itself."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from loopkit.gitrepo import committer, objects
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


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_AUTHOR_DATE": WHEN, "GIT_COMMITTER_DATE": WHEN}
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, input=stdin, env=env
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


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
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
def test_python_objects_build_the_commit_git_builds(
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
        # nor below a file of the tree that stays (a change to that file was dropped above)
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
        git_dir = root / ".git"
        reader = Trees(root)
        store = objects.object_dir(git_dir)
        assert store is not None
        present = [p for p in written if (root / p).is_file()]
        made = objects.commit_tree(
            root,
            store,
            reader,
            base=reader.commit_tree(parent) if parent else None,
            paths=written,
            present=present,
        )
        assert made is not None, "the plain case must take the Python path"
        args = {
            "paths": written,
            "parent": parent,
            "message": "m\n",
            "identity": WHO,
            "when": WHEN,
            "allow_empty": True,
        }
        fast = committer.build(root, git_dir, scratch="fast", reader=reader, **args)  # type: ignore[arg-type]
        assert fast is not None
        _git(root, "update-ref", "HEAD", fast.sha)
        fsck = subprocess.run(
            ["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=root, capture_output=True, text=True
        )
        assert fsck.returncode == 0 and not fsck.stdout.strip() and not fsck.stderr.strip(), fsck
        slow = committer.build(root, git_dir, scratch="slow", by_git=True, **args)  # type: ignore[arg-type]
        assert slow is not None
        assert made[0].hex() == _git(root, "rev-parse", f"{slow.sha}^{{tree}}").decode().strip()
        assert fast.sha == slow.sha
        assert fast.index_lines == slow.index_lines
        args["allow_empty"] = False
        again = committer.build(root, git_dir, scratch="same", **args)  # type: ignore[arg-type]
        tree_of = [_git(root, "rev-parse", f"{c}^{{tree}}") for c in (parent, slow.sha) if c]
        if len(tree_of) == 2 and tree_of[0] == tree_of[1]:
            assert again is None  # nothing changed: no commit, as before
        else:
            assert again is not None and again.sha == slow.sha


def test_unusual_repositories_take_git_path(tmp_path: Path) -> None:
    """sha256, shared repositories, linked worktrees and alternates are left to git's commands."""
    plain = tmp_path / "plain"
    _git(tmp_path, "init", "-q", "-b", "main", str(plain))
    assert objects.object_dir(plain / ".git") is not None
    for name, init in (
        ("sha256", ["--object-format=sha256"]),
        ("shared", ["--shared=group"]),
    ):
        _git(tmp_path, "init", "-q", "-b", "main", *init, str(tmp_path / name))
        assert objects.object_dir(tmp_path / name / ".git") is None, name
    (plain / "f").write_text("x\n")
    _git(plain, "add", "f")
    _git(plain, "commit", "-qm", "one")
    _git(plain, "worktree", "add", "-q", str(tmp_path / "linked"))
    linked_git = Path(_git(tmp_path / "linked", "rev-parse", "--absolute-git-dir").decode().strip())
    assert objects.object_dir(linked_git) is None
    _git(tmp_path, "clone", "-q", "--shared", str(plain), str(tmp_path / "borrowing"))
    assert objects.object_dir(tmp_path / "borrowing" / ".git") is None
