"""Provenance without blame (gitrepo/provenance.py) pinned to git blame (DESIGN: a fast path is
pinned to its slow path): on generated histories of a few files in a folder, with duplicate and
blank lines, empty files, files deleted and added again, renames, merges, a file deleted outside
the folder, and a dirty working file, every line the replay answers is the commit `history.blame`
names, and `Repo.origins` (replay through the cache, blame where replay cannot) equals blame for
every line of every file."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.gitrepo import REPLAY_MIN, Repo, history, provenance

FILES = ["w/a.md", "w/b.md", "w/c.md", "w/d.md"]
LINE = st.sampled_from(["alpha", "beta", "alpha", "", "", "  indented", "}", "- **PASS** M1", "{", "gamma"])
EDIT = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["insert", "delete", "change"]), LINE), max_size=5
)
FILE = st.sampled_from(FILES)
STEP = st.one_of(
    st.tuples(st.just("edit"), FILE, EDIT),
    st.tuples(st.just("edit2"), st.tuples(FILE, FILE), st.tuples(EDIT, EDIT)),  # one commit, two files
    st.tuples(st.just("delete"), FILE, st.none()),
    st.tuples(st.just("empty"), FILE, st.none()),
    st.tuples(st.just("noeol"), FILE, LINE),
    st.tuples(st.just("rename"), st.tuples(FILE, FILE), st.none()),
    st.tuples(st.just("create-and-delete-outside"), FILE, EDIT),
    st.tuples(st.just("merge"), st.tuples(FILE, FILE), st.tuples(EDIT, EDIT, st.booleans())),
)


def _git(root: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args}: {proc.stderr}")
    return proc.stdout


def _edit(path: Path, edits: list[tuple[int, str, str]]) -> None:
    lines = path.read_text("utf-8").split("\n") if path.exists() else [""]
    body, tail = lines[:-1], lines[-1]  # tail: "" after a final LF, else the unterminated line
    for where, kind, line in edits:
        at = where % (len(body) + 1)
        if kind == "insert" or not body:
            body.insert(at, line)
        elif kind == "delete":
            del body[at % len(body)]
        else:
            body[at % len(body)] = line
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x}\n" for x in body) + tail, "utf-8")


def _commit(root: Path, n: int) -> None:
    who = ("alice", "bob", "carol")[n % 3]
    _git(root, "add", "-A", ".")
    _git(
        root,
        "-c",
        f"user.name={who}",
        "-c",
        f"user.email={who}@x.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        f"step {n}",
        # trailers as loopkit writes them (and a repeated key): the walk reads them as `git show` does
        *(["-m", f"Loopkit-Role: {who}\nLoopkit-Probe: P{n}\nLoopkit-Probe: P{n}-neg"] if n % 2 else []),
    )


def _apply(root: Path, n: int, kind: str, target: object, arg: object) -> None:
    if kind == "edit":
        _edit(root / str(target), arg)  # type: ignore[arg-type]
    elif kind == "edit2":
        (one, two), (first, second) = target, arg  # type: ignore[misc]
        _edit(root / one, first)
        _edit(root / two, second)
    elif kind == "delete":
        (root / str(target)).unlink(missing_ok=True)
    elif kind == "empty":
        (root / str(target)).write_text("", "utf-8")
    elif kind == "noeol":
        path = root / str(target)
        text = path.read_text("utf-8") if path.exists() else ""
        path.write_text(text.rstrip("\n") + ("\n" if text.strip("\n") else "") + str(arg), "utf-8")
    elif kind == "rename":
        src, dst = target  # type: ignore[misc]
        if src != dst and (root / src).exists():
            (root / dst).unlink(missing_ok=True)
            (root / src).rename(root / dst)
    elif kind == "create-and-delete-outside":
        (root / "code.txt").unlink(missing_ok=True)  # a rename's possible source, outside w/
        (root / str(target)).unlink(missing_ok=True)
        _commit(root, n)
        (root / "code.txt").write_text("code\nalpha\n", "utf-8")
        _commit(root, n)
        (root / "code.txt").unlink()
        _edit(root / str(target), [(0, "insert", "new"), *arg])  # type: ignore[list-item]
    elif kind == "merge":
        (one, two), (ours, theirs, fast) = target, arg  # type: ignore[misc]
        _git(root, "checkout", "-q", "-b", f"side{n}")
        _edit(root / two, theirs)
        _commit(root, n)
        _git(root, "checkout", "-q", "main")
        if not fast:
            _edit(root / one, ours)
            _commit(root, n)
        merged = _git(
            root, "merge", "-q", "--no-ff", "-X", "theirs", "-m", f"merge {n}", f"side{n}", check=False
        )
        del merged
        if _git(root, "ls-files", "-u"):
            _git(root, "merge", "--abort")
        return
    _commit(root, n)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(STEP, min_size=1, max_size=9), st.one_of(st.none(), st.tuples(FILE, EDIT)))
def test_replay_names_the_commit_git_blame_names(
    steps: list[tuple[str, object, object]], dirty: tuple[str, list[tuple[int, str, str]]] | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _git(root, "init", "-q", "-b", "main")
        (root / "code.txt").write_text("code\n", "utf-8")
        for path in FILES[:2]:
            _edit(root / path, [(0, "insert", "# title"), (1, "insert", "alpha")])
        _commit(root, 0)
        for n, (kind, target, arg) in enumerate(steps, start=1):
            _apply(root, n, kind, target, arg)
        if dirty is not None and (root / dirty[0]).exists():
            _edit(root / dirty[0], [(0, "insert", "typed"), *dirty[1]])
        head = _git(root, "rev-parse", "HEAD").strip()
        present = [p for p in FILES if (root / p).exists()]
        truth = {p: history.blame(root, p) for p in present}
        walked = provenance.replay(root, head=head, paths=FILES)
        replayed = walked.files
        # every commit named has its origin from the walk itself, as history.origins reads it
        assert {s for f in replayed.values() for s in f.shas} <= set(walked.origins)
        assert walked.origins == history.origins(root, walked.origins)
        typed = dirty[0] if dirty is not None else None
        for path, found in replayed.items():
            assert found.blob == _git(root, "rev-parse", f"HEAD:{path}").strip()
            if path != typed:  # HEAD's answer: a dirty file is the caller's to blame (its blob differs)
                assert dict(enumerate(found.shas, start=1)) == truth[path], path
        simple = all(kind in ("edit", "edit2", "delete", "empty", "noeol") for kind, _, _ in steps)
        if simple:  # only merges, renames and deletions elsewhere send the replay back to blame
            tracked = {p for p in present if _git(root, "ls-files", p) and p != typed}
            assert tracked <= set(replayed)

        # through Repo and its cache: replayed where exact, blamed (dirty files among them) otherwise
        repo = Repo(root)
        repo.prefetch_origins(FILES)
        origins = repo.origins(present)
        for path in present:
            shas = [o.sha if o is not None else None for o in origins[path]]
            assert shas == [truth[path].get(n) for n in range(1, len(shas) + 1)], path
            asked = [n for n in (1, 2, 5) if n <= len(shas)]
            lines = repo.line_origins(path, asked)
            assert {n: o.sha if o else None for n, o in lines.items()} == history.blame(
                root, path, lines=asked
            )


def test_replay_needs_enough_files_to_pay_for_its_walk(tmp_path: Path) -> None:
    """Below REPLAY_MIN files, a walk of the whole folder's history costs more than their blames."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _edit(tmp_path / "w/a.md", [(0, "insert", "x")])
    _commit(tmp_path, 0)
    repo = Repo(tmp_path)
    repo.prefetch_origins(["w/a.md"][: REPLAY_MIN - 1])
    assert not repo._replayed


def test_a_user_diff_algorithm_changes_neither_answer(tmp_path: Path) -> None:
    """Histogram and myers disagree on this history; both sides are pinned to the same settings."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "diff.algorithm", "histogram")
    _git(tmp_path, "config", "diff.indentHeuristic", "false")
    path = tmp_path / "w/a.md"
    path.parent.mkdir()
    path.write_text("a\nb\nc\nx\na\nb\nc\n", "utf-8")
    _commit(tmp_path, 0)
    path.write_text("x\na\nb\nc\na\nb\nc\nx\n", "utf-8")
    _commit(tmp_path, 1)
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    found = provenance.replay(tmp_path, head=head, paths=["w/a.md"]).files["w/a.md"]
    assert dict(enumerate(found.shas, start=1)) == history.blame(tmp_path, "w/a.md")
    assert _git(tmp_path, "log", "-1", "-p", "-U0", "--format=").count("@@ -") == 2  # the user's
    assert found.shas.count(head) == 2  # myers: x added at the top and at the end
