"""Questions started ahead (gitrepo/runner.py `ahead`, Repo.expecting) pinned to the questions
asked when they are needed: the same answers, the same failures, the same status document, and
nothing left running. Real repositories, real git."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.errors import GitError
from loopkit.gitrepo import runner
from loopkit.gitrepo.repo import Repo
from loopkit.services import view
from loopkit.services.context import Context


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fastbooks import build

    root = tmp_path_factory.mktemp("ahead") / "repo"
    build(root, 20)  # past pathspec.MIN_PATHS: the wide logs are the ones guessed
    return root


def _small_repo(root: Path) -> str:
    _git(root, "init", "-q", "-b", "main")
    for n in range(3):
        (root / f"f{n}.md").write_text(f"line {n}\n", "utf-8")
        _git(root, "add", ".")
        _git(
            root,
            "-c",
            "user.name=a",
            "-c",
            "user.email=a@x.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            f"c{n}",
        )
    return _git(root, "rev-parse", "HEAD").strip()


def test_a_question_asked_ahead_answers_as_when_asked(tmp_path: Path) -> None:
    head = _small_repo(tmp_path)
    questions = [
        ["log", "--format=%H %s", head],
        ["log", "-p", head, "--", "f1.md"],
        ["cat-file", "-t", head],
    ]
    now = [runner.run_bytes(tmp_path, q) for q in questions]
    with runner.ahead(tmp_path, questions):
        assert len(runner._AHEAD) == 3
        assert [runner.run_bytes(tmp_path, q) for q in questions] == now
        assert not runner._AHEAD  # each answer is taken once
        assert [runner.run_bytes(tmp_path, q) for q in questions] == now  # then asked anew


def test_a_failing_question_asked_ahead_fails_alike(tmp_path: Path) -> None:
    _small_repo(tmp_path)
    bad = ["log", "0" * 40]
    code, out, err = runner.run_bytes(tmp_path, bad, check=False)
    with pytest.raises(GitError) as now:
        runner.run_bytes(tmp_path, bad)
    with runner.ahead(tmp_path, [bad, bad]):
        assert runner.run_bytes(tmp_path, bad, check=False) == (code, out, err)
    with runner.ahead(tmp_path, [bad]), pytest.raises(GitError) as later:
        runner.run_bytes(tmp_path, bad)
    assert str(later.value) == str(now.value) and code != 0


def test_only_the_same_question_takes_the_answer(tmp_path: Path) -> None:
    """Other arguments, an environment or an input of its own: asked as it comes."""
    head = _small_repo(tmp_path)
    question = ["log", "--format=%s", head]
    with runner.ahead(tmp_path, [question]):
        env = runner.git_env({"GIT_CONFIG_COUNT": "0"})
        assert runner.run_bytes(tmp_path, question, env=env)[1] == b"c2\nc1\nc0\n"
        assert runner.run_bytes(tmp_path, ["log", "--format=%s", "-1", head])[1] == b"c2\n"
        assert runner.run_bytes(tmp_path.parent, question, check=False)[0] != 0  # another folder
        assert len(runner._AHEAD) == 1
    assert not runner._AHEAD


def test_what_nobody_asked_for_is_killed(tmp_path: Path) -> None:
    """A question nobody asked is not left running when the block ends."""
    _small_repo(tmp_path)
    fifo = tmp_path / "never"
    os.mkfifo(fifo)
    # `git hash-object` of a FIFO nobody writes to blocks until it is killed
    question = ["hash-object", str(fifo)]
    with runner.ahead(tmp_path, [question]):
        proc = runner._AHEAD[(str(tmp_path), tuple(question))][0]
        assert proc.poll() is None
    assert proc.returncode is not None and not runner._AHEAD


def _read(ws: Path, *, ahead: bool, detail: bool) -> tuple[dict[str, Any], int]:
    """status's document from the books, the history cache deleted, with or without the questions
    started ahead; and how many answers were taken from those started."""
    shutil.rmtree(ws.parent / ".git" / "loopkit", ignore_errors=True)
    taken = 0
    collect = runner._collect

    def counting(started: Any) -> Any:
        nonlocal taken
        taken += 1
        return collect(started)

    off = mock.patch.object(Repo, "expecting", return_value=contextlib.nullcontext())
    with mock.patch.object(runner, "_collect", counting), off if not ahead else contextlib.nullcontext():
        doc = view.read_status(Context(cwd=ws, environ=dict(os.environ)), phase=None, detail=detail)
    return doc, taken


CHANGES = st.lists(
    st.tuples(st.sampled_from(["strip", "drop-journal", "merge", "dirty", "new-status"]), st.integers(0, 19)),
    max_size=4,
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=CHANGES, detail=st.booleans())
def test_status_reads_alike_with_and_without_questions_ahead(
    template: Path, changes: list[tuple[str, int]], detail: bool
) -> None:
    """The guess (every STATUS file and builder journal) and the paths then asked differ as the
    books do; whatever they are, the document is the one read without questions ahead."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        shutil.copytree(template, root, symlinks=True)
        ws = root / "docs"
        for kind, n in changes:
            _change(root, ws, kind, n)
        slow, none = _read(ws, ahead=False, detail=detail)
        fast, taken = _read(ws, ahead=True, detail=detail)
        assert fast == slow
        assert none == 0 and taken >= 1  # the questions ahead were asked and answered


def _change(root: Path, ws: Path, kind: str, n: int) -> None:
    statuses = sorted(ws.glob("STATUS-*.md"))
    target = statuses[n % len(statuses)] if statuses else None
    who = ["-c", "user.name=person", "-c", "user.email=person@x.invalid"]
    if kind == "strip" and target is not None:
        target.write_text(target.read_text("utf-8").split("\n")[0] + "\n", "utf-8")
        _git(root, "add", "-A")
        _git(root, *who, "commit", "-q", "--allow-empty", "-m", "strip a STATUS file")
    elif kind == "drop-journal":
        journals = sorted(ws.glob("JOURNAL-*.md"))
        if journals:
            _git(root, "rm", "-q", str(journals[n % len(journals)]))
            _git(root, *who, "commit", "-q", "--allow-empty", "-m", "drop a journal")
    elif kind == "merge" and target is not None:
        side = f"side-{_git(root, 'rev-parse', 'HEAD')[:12]}"  # one per merge, however many
        _git(root, "checkout", "-q", "-b", side)
        with target.open("a", encoding="utf-8") as out:
            out.write(f"\nside note {n}\n")
        _git(root, "add", "-A")
        _git(root, *who, "commit", "-q", "--allow-empty", "-m", "side")
        _git(root, "checkout", "-q", "-")
        _git(root, *who, "merge", "-q", "--no-ff", "-m", "merge side", side)
    elif kind == "dirty" and target is not None:
        with target.open("a", encoding="utf-8") as out:
            out.write(f"\ntyped {n}\n")
    elif kind == "new-status":
        (ws / f"STATUS-extra-{n}.md").write_text(f"# STATUS — extra {n}\n", "utf-8")
        _git(root, "add", "-A")
        _git(root, *who, "commit", "-q", "--allow-empty", "-m", "a STATUS file of no phase")


def test_no_question_ahead_outlives_status(template: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(template, root, symlinks=True)
    _read(root / "docs", ahead=True, detail=False)
    assert not runner._AHEAD
