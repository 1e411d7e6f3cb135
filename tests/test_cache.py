"""The status cache (loopkit/gitrepo/cache.py) is disposable: with it, without it, and with it
deleted, every command prints the same bytes; and each cached read gives what the uncached one
gives, on generated histories (appends, edits, uncommitted lines, amends, resets, reverts, merges).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from conftest import git, run_loopkit
from fastbooks import build

from loopkit.gitrepo import Repo

TESTS = Path(__file__).parent
# The suite's status and check tests; under the cache_twin plugin each of their status, check and
# next runs is repeated with the cache deleted and with it off, and must print the same bytes.
STATUS_TESTS = [  # the one whose workspaces go through every state; CI time is the limit
    "test_loop_e2e.py",
]
# the 200-phase goldens take minutes three times over: test_status_golden_three_ways covers 20
SKIP = "not test_status_golden"


@pytest.mark.slow
def test_suite_status_checks_both_ways() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
    env["PYTHONPATH"] = str(TESTS) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "cache_twin",
            "-p",
            "no:cacheprovider",
            *STATUS_TESTS,
        ],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def _three_ways(ws: Path, *args: str, role: str | None = None) -> str:
    warm = run_loopkit(*args, cwd=ws, role=role)
    shutil.rmtree(ws.parent / ".git" / "loopkit" / "cache", ignore_errors=True)
    cold = run_loopkit(*args, cwd=ws, role=role)
    again = run_loopkit(*args, cwd=ws, role=role)
    off = run_loopkit(*args, cwd=ws, role=role, env={"LOOPKIT_NO_CACHE": "1"})
    for other in (cold, again, off):
        assert (other.code, other.out, other.err) == (warm.code, warm.out, warm.err), args
    return warm.out


def test_status_golden_three_ways(tmp_path: Path) -> None:
    ws = build(tmp_path / "repo", 20)
    golden = TESTS / "golden" / "status" / "20-phases-80-columns.txt"
    warm = run_loopkit("status", cwd=ws, env={"COLUMNS": "80", "NO_COLOR": ""})
    assert warm.out == golden.read_text(encoding="utf-8")
    shutil.rmtree(ws.parent / ".git" / "loopkit" / "cache", ignore_errors=True)
    for extra in ({}, {}, {"LOOPKIT_NO_CACHE": "1"}):
        again = run_loopkit("status", cwd=ws, env={"COLUMNS": "80", "NO_COLOR": "", **extra})
        assert (again.code, again.out, again.err) == (warm.code, warm.out, warm.err)


@pytest.mark.slow
def test_realistic_workspace_both_ways(tmp_path: Path) -> None:
    ws = build(tmp_path / "repo", 60)  # the same phases as the 200 of benchmarks/, a third as many
    for args in (("status", "--json"), ("check", "--json"), ("status",)):
        _three_ways(ws, *args)
    # after writes, the cache is carried over the new commits (not rebuilt): still the same bytes
    for phase in ("dashboard-003", "proxy-001"):
        added = run_loopkit(
            "journal", "add", "--phase", phase, "--title", "t", "--body", "b", cwd=ws, role="builder"
        )
        assert added.code == 0, added.err
        warm = run_loopkit("status", "--json", cwd=ws)
        off = run_loopkit("status", "--json", cwd=ws, env={"LOOPKIT_NO_CACHE": "1"})
        assert warm.out == off.out
        assert (
            run_loopkit("check", "--json", cwd=ws).out
            == run_loopkit("check", "--json", cwd=ws, env={"LOOPKIT_NO_CACHE": "1"}).out
        )


# -- each cached read against its uncached computation, on generated histories -------------------
FILES = ("docs/STATUS-a.md", "docs/JOURNAL-a.md", "src/app.py")
ACTIONS = ("claim", "verdict", "done", "journal", "open")

step = st.one_of(
    st.tuples(st.just("append"), st.sampled_from(FILES), st.integers(1, 3), st.sampled_from(ACTIONS)),
    st.tuples(st.just("edit"), st.sampled_from(FILES), st.integers(0, 50), st.sampled_from(ACTIONS)),
    st.tuples(st.just("dirty"), st.sampled_from(FILES), st.integers(0, 50), st.just("")),
    st.tuples(st.just("amend"), st.just(""), st.integers(0, 0), st.sampled_from(ACTIONS)),
    st.tuples(st.just("reset"), st.just(""), st.integers(0, 0), st.just("")),
    st.tuples(st.just("revert"), st.just(""), st.integers(0, 0), st.just("")),
    st.tuples(st.just("merge"), st.sampled_from(FILES), st.integers(1, 2), st.sampled_from(ACTIONS)),
)


def _message(action: str, n: int) -> str:
    trailers = f"Loopkit-Action: {action}\nLoopkit-Phase: a\n"
    if action == "open":
        trailers += f"Loopkit-Spec: {n:040x}\n"
    return f"{action} {n}\n\n{trailers}"


def _commit(root: Path, message: str, *, amend: bool = False) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", *(["--amend"] if amend else []), "-m", message)


def _apply(root: Path, counter: list[int], op: tuple[str, str, int, str]) -> None:
    kind, name, n, action = op
    counter[0] += 1
    tag = counter[0]
    path = root / name if name else None
    if kind in ("append", "edit", "dirty") and path is not None:
        lines = path.read_text("utf-8").splitlines(keepends=True) if path.exists() else []
        if kind == "append":
            lines += [f"- line {tag}.{i} same\n" if i % 2 else f"- line {tag}.{i}\n" for i in range(n)]
        elif lines:
            lines[n % len(lines)] = f"- edited {tag}\n"
        else:
            lines = [f"- first {tag}\n"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines), encoding="utf-8")
        if kind != "dirty":
            _commit(root, _message(action, tag))
    elif kind == "amend":
        _commit(root, _message(action, tag), amend=True)
    elif kind == "reset":
        if git(root, "rev-list", "--count", "HEAD").strip() != "1":
            git(root, "reset", "-q", "--hard", "HEAD~1")
    elif kind == "revert":
        if git(root, "rev-list", "--count", "HEAD").strip() == "1":
            return  # reverting the first commit would empty the history's files
        _tolerant(root, "stash", "-q", "--include-untracked")
        if _tolerant(root, "revert", "--no-edit", "HEAD"):
            _tolerant(root, "revert", "--abort")
        _settle(root)
    elif kind == "merge" and path is not None:
        _tolerant(root, "stash", "-q", "--include-untracked")
        _tolerant(root, "checkout", "-q", "-b", f"side{tag}", "HEAD")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(f"- side {tag}.{i}\n" for i in range(n))
        _commit(root, _message(action, tag))
        _tolerant(root, "checkout", "-q", "-f", "main")
        other = root / ("src/other.py" if name != "src/other.py" else "src/app.py")
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_text(f"x = {tag}\n", encoding="utf-8")
        _commit(root, _message("journal", tag))
        if _tolerant(root, "merge", "-q", "--no-edit", f"side{tag}"):
            _tolerant(root, "merge", "--abort")
        _settle(root)


def _tolerant(root: Path, *args: str) -> int:
    """A git step of the generated history that may fail (a revert or merge that conflicts)."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False).returncode


def _settle(root: Path) -> None:
    """Back on main with the stashed work tree, or a clean tree when it cannot come back: the
    history stays a valid one to read, whatever the step did."""
    if _tolerant(root, "stash", "pop", "-q"):
        _tolerant(root, "reset", "-q", "--hard")
        _tolerant(root, "stash", "drop", "-q")
    if git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() != "main":
        _tolerant(root, "checkout", "-q", "-f", "main")


def _reads(repo: Repo, root: Path) -> dict[str, object]:
    head = repo.head
    paths = [p for p in FILES if (root / p).exists()]
    answers: dict[str, object] = {
        "spec": repo.spec_commits,
        "records": repo.record_lines(list(FILES)),
        "records-one": repo.record_lines([FILES[0]]),
        "origins": repo.origins(paths),
        "order": {p: repo.order(p) for p in FILES},
    }
    for path in paths:
        count = len((root / path).read_text("utf-8").splitlines())
        asks = sorted({1, count, max(1, count // 2)}) if count else []
        answers[f"lines {path}"] = repo.line_origins(path, asks)
    if head is not None:
        first = git(root, "rev-list", "--max-parents=0", "HEAD").split()[0]
        answers["code"] = repo.code_of(head, rel="docs", owned=lambda name: False)
        answers["changed"] = repo.changed(first, head)
        answers["changed-kept"] = repo.changed(
            first, head, prune=lambda p: p == "docs" or p.startswith("docs/"), keep="docs", memo="inside:docs"
        )
    return answers


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=7))
def test_cached_reads_equal_uncached(tmp_path_factory: pytest.TempPathFactory, steps: list) -> None:
    root = tmp_path_factory.mktemp("history")
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hi')\n", encoding="utf-8")
    (root / "docs").mkdir()
    (root / "docs" / "STATUS-a.md").write_text("# a\n", encoding="utf-8")
    _commit(root, _message("open", 0))
    counter = [0]
    for op in steps:
        _apply(root, counter, op)
        os.environ.pop("LOOPKIT_NO_CACHE", None)
        cached = Repo(root)
        got = _reads(cached, root)
        cached.save_cache()
        again = _reads(Repo(root), root)  # from the files the first one saved
        os.environ["LOOPKIT_NO_CACHE"] = "1"
        try:
            expected = _reads(Repo(root), root)
        finally:
            os.environ.pop("LOOPKIT_NO_CACHE", None)
        assert got == expected, op
        assert again == expected, op
