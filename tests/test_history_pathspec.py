"""The history shortcuts of gitrepo pinned to the slow paths they replace, on real repositories:

- `_record_log` and `_touching_log` with a glob covering the asked paths (then filtered) answer
  exactly what the log of the literal paths answers, on random histories with merges of every
  kind (TREESAME to one side, to both, to neither), deletions and re-additions, files beside the
  asked ones that the glob matches, and files outside the folder;
- `Repo.changed` read through `git cat-file --batch` answers what the GitPython tree walk did.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.gitrepo import Repo, pathspec

ASKED = [f"d/S-{n}.md" for n in range(10)]
FILES = [*ASKED, "d/S-x.md", "d/S-x.md/under", "d/J-1.md", "d/e/S-2.md", "o/p/q", "o/t", "top"]
WRITE = st.tuples(st.just("write"), st.sampled_from(FILES), st.integers(0, 3))
DELETE = st.tuples(st.just("delete"), st.sampled_from(FILES), st.just(0))
COMMIT = st.tuples(st.just("commit"), st.lists(st.one_of(WRITE, WRITE, DELETE), min_size=1, max_size=4))
# a merge of the other branch: its tree ours, theirs, or ours with some of theirs' files
MERGE = st.tuples(st.just("merge"), st.lists(st.sampled_from(FILES), max_size=3), st.booleans())
STEP = st.one_of(COMMIT, COMMIT, COMMIT, st.tuples(st.just("switch")), MERGE)


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "A"}
    env["GIT_COMMITTER_EMAIL"] = "a@x"
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def _apply(root: Path, op: str, name: str, value: int) -> None:
    path = root / name
    if op == "delete":
        _git(root, "rm", "-rq", "--cached", "--ignore-unmatch", "--", name)
        return
    for parent in [*reversed(path.relative_to(root).parents)][1:]:  # a file in the way goes
        if (root / parent).is_file():
            _git(root, "rm", "-q", "--cached", "--", str(parent))
            (root / parent).unlink()
    if path.is_dir():
        _git(root, "rm", "-rq", "--cached", "--ignore-unmatch", "--", name)
        subprocess.run(["rm", "-rf", str(path)], check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"- **PASS** line {value}\n" * (value + 1) + f"{name}\n", encoding="utf-8")
    _git(root, "add", "--", name)


def _build(root: Path, steps: list[Any]) -> list[str]:
    """A history on `main` and `side` from the steps; every commit made, oldest first."""
    _git(root, "init", "-q", "-b", "main")
    (root / "seed").write_text("seed\n", encoding="utf-8")
    _git(root, "add", "seed")
    _git(root, "commit", "-qm", "seed\n\nLoopkit-Action: claim")
    _git(root, "branch", "side")
    branch, count = "main", 0
    for step in steps:
        count += 1
        if step[0] == "switch":
            branch = "side" if branch == "main" else "main"
            _git(root, "checkout", "-qf", branch)
            _git(root, "clean", "-qfdx")
            continue
        if step[0] == "commit":
            for op, name, value in step[1]:
                _apply(root, op, name, value)
            action = "claim" if count % 3 else "verdict"
            _git(root, "commit", "-q", "--allow-empty", "-m", f"c{count}\n\nLoopkit-Action: {action}")
            continue
        other = "side" if branch == "main" else "main"
        _git(root, "merge", "-q", "--no-commit", "--no-ff", "-s", "ours", other)
        names = set(_git(root, "ls-tree", "-r", "--name-only", other).split())
        for name in step[1] if not step[2] else sorted(names):
            if name in names:
                _git(root, "checkout", other, "--", name)
        if step[2]:  # their tree entirely
            _git(root, "read-tree", "-u", "--reset", other)
        _git(root, "commit", "-q", "--allow-empty", "-m", f"merge {count}\n\nLoopkit-Action: done")
    return _git(root, "rev-list", "--reverse", "--all").split()


@pytest.fixture(autouse=True)
def _few_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pathspec, "MIN_PATHS", 4)  # the shortcut on small lists too
    monkeypatch.setattr(pathspec, "SHARE", 0)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    steps=st.lists(STEP, min_size=1, max_size=12),
    asked=st.sets(st.sampled_from([*ASKED, "d/S-x.md", "d/e/S-2.md", "top"]), min_size=8),
)
def test_wide_logs_answer_as_the_literal_logs(steps: list[Any], asked: set[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _build(root, steps)
        repo = Repo(root)
        todo = sorted(asked)
        head = _git(root, "rev-parse", "HEAD").strip()
        assert repo._touching_log(todo, head) == repo._touching_log(todo, head, literal=True)
        assert repo._record_log(todo, head) == repo._record_log(todo, head, literal=True)
        first = _git(root, "rev-list", "--max-parents=0", "HEAD").split()[0]
        assert repo._record_log(todo, f"{first}..{head}") == repo._record_log(
            todo, f"{first}..{head}", literal=True
        )


def test_a_merge_that_picks_another_parent_falls_back(tmp_path: Path) -> None:
    """The case the merge check exists for: a merge TREESAME to its first parent on the asked
    paths but not on the glob (a file beside them came from the side branch)."""
    steps = [
        ("commit", [("write", "d/S-1.md", 1)]),
        ("switch",),
        ("commit", [("write", "d/S-x.md", 1), ("write", "d/S-2.md", 2)]),
        ("switch",),
        ("merge", ["d/S-x.md"], False),
    ]
    _build(tmp_path, steps)
    repo = Repo(tmp_path)
    todo = ASKED[:8]
    wide = pathspec.cover(todo)
    assert wide is not None
    assert not pathspec.merges_agree(tmp_path, "HEAD", wide, set(todo))
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    assert repo._touching_log(todo, head) == repo._touching_log(todo, head, literal=True)


def test_cover_keeps_odd_lists_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pathspec, "MIN_PATHS", 16)
    monkeypatch.setattr(pathspec, "SHARE", 4)
    assert pathspec.cover([f"d/S-{n}.md" for n in range(3)]) is None  # short
    assert pathspec.cover([f"d/S-{n}*.md" for n in range(20)]) is None  # a glob character
    assert pathspec.cover([f":d/S-{n}.md" for n in range(20)]) is None  # pathspec magic
    assert pathspec.cover([f"d{n}/S.md" for n in range(20)]) is None  # one folder each
    assert pathspec.cover([f"d/S-{n}.md" for n in range(20)]) == [":(glob)d/S-*.md", ":(glob)d/S-*.md/**"]


# -- tree diffs: the GitPython walk they replaced, kept here as the reference -----------------
def _reference(root: Path, old: str, new: str, prune: Callable[[str], bool] | None, keep: str | None) -> Any:
    import git
    from gitdb.exc import BadName, BadObject  # type: ignore[import-untyped]

    repo = git.Repo(root)

    def commit(sha: str) -> Any:
        if len(sha) != 40:
            done = subprocess.run(
                ["git", "rev-parse", "--verify", "-q", f"{sha}^{{commit}}"],
                cwd=root,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                return None
            sha = done.stdout.strip()
        try:
            found = git.Commit(repo, bytes.fromhex(sha))
            found.tree  # noqa: B018 - reads the object
        except (BadName, BadObject, ValueError, TypeError):
            return None
        return found

    def walk(a: Any, b: Any, prefix: str, out: list[str]) -> None:
        left = {entry.name: entry for entry in a} if a is not None else {}
        right = {entry.name: entry for entry in b} if b is not None else {}
        for name in sorted(left.keys() | right.keys()):
            x, y = left.get(name), right.get(name)
            if x is not None and y is not None and x.binsha == y.binsha and x.mode == y.mode:
                continue
            path = prefix + name
            if prune is not None and prune(path):
                continue
            x_tree = x if x is not None and x.type == "tree" else None
            y_tree = y if y is not None and y.type == "tree" else None
            if keep is not None:
                if (x_tree is not None or y_tree is not None) and keep.startswith(path + "/"):
                    walk(x_tree, y_tree, path + "/", out)
                    if out:
                        return
                    continue
                out.append(path + "/" if x_tree is not None or y_tree is not None else path)
                return
            if x_tree is not None or y_tree is not None:
                walk(x_tree, y_tree, path + "/", out)
            if (x is not None and x.type != "tree") or (y is not None and y.type != "tree"):
                out.append(path)

    a, b = commit(old), commit(new)
    if a is None or b is None:
        return None
    found: list[str] = []
    walk(a.tree, b.tree, "", found)
    return sorted(found)


def _inside(folder: str) -> Callable[[str], bool]:
    return lambda path: path == folder or path.startswith(folder + "/")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=1, max_size=8), data=st.data())
def test_tree_diffs_answer_as_the_gitpython_walk(steps: list[Any], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shas = _build(root, steps)
        tree = _git(root, "rev-parse", "HEAD^{tree}").strip()
        names = [*shas, "HEAD", "HEAD~1", shas[0][:10], "0" * 40, "f" * 40, tree, "nope", "x" * 40, ""]
        repo = Repo(root)
        # commits named ahead (status's claims and records) are read together: the same answers
        repo.expect_trees(data.draw(st.lists(st.sampled_from(names), max_size=8)))
        for _ in range(6):
            old, new = data.draw(st.sampled_from(names)), data.draw(st.sampled_from(names))
            keep = data.draw(st.sampled_from([None, "d", "o/p", "d/e"]))
            prune = data.draw(st.sampled_from([None, _inside("d"), _inside("o/p"), _inside(keep or "top")]))
            expected = _reference(root, old, new, prune, keep)
            assert repo.changed(old, new, prune=prune, keep=keep) == expected, (old, new, keep)
