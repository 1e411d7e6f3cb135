"""The one index (loopkit/index.py) pinned to a recomputation from scratch: on generated histories
(linear commits, `journal add` through loopkit, hand edits of the books and the inbox, amends,
resets, reverts, merges and rebases), after every step, what loopkit answers with the index equals
what it answers with LOOPKIT_NO_CACHE=1 (every reader computes from git), read once through the
index left by the steps before (or, as drawn, after deleting it: deleting the index changes no
output) and once again through what that read saved.

Files a step changed get an old, distinct mtime, so the answers kept by a file's stat are believed
(the racy-clean rule would otherwise send every fresh file back to a full read).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from conftest import git
from fastbooks import build

from loopkit.errors import LoopkitError
from loopkit.gitrepo import Repo
from loopkit.index import Index
from loopkit.markdown.status import parse_status
from loopkit.model.status import StatusDoc
from loopkit.services import inbox, journals, status, view
from loopkit.services.context import Context

NOW = "2026-06-13T14:00:00Z"
PHASES = 9  # fastbooks' scenarios: planned, started, claimed, failed, ready, done, stale, …
TRAILERS = ("claim", "verdict", "done", "journal", "open")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "repo"
    build(root, PHASES)
    return root


def _files(ws: Path) -> list[str]:
    """The books a step may edit: every STATUS file and journal, an inbox, the code."""
    found = sorted(str(p.relative_to(ws.parent)) for p in ws.rglob("*.md") if ".git" not in p.parts)
    return [*found, "src/app.py"]


STEP = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 99), st.integers(1, 3), st.sampled_from(TRAILERS)),
    st.tuples(st.just("edit"), st.integers(0, 99), st.integers(0, 50), st.sampled_from(TRAILERS)),
    st.tuples(st.just("dirty"), st.integers(0, 99), st.integers(0, 50), st.just("")),
    st.tuples(st.just("journal add"), st.integers(0, 99), st.integers(0, 2), st.just("")),
    st.tuples(st.just("amend"), st.just(0), st.just(0), st.sampled_from(TRAILERS)),
    st.tuples(st.just("reset"), st.just(0), st.just(0), st.just("")),
    st.tuples(st.just("revert"), st.just(0), st.just(0), st.just("")),
    st.tuples(st.just("merge"), st.integers(0, 99), st.integers(1, 2), st.sampled_from(TRAILERS)),
    st.tuples(st.just("rebase"), st.integers(0, 99), st.integers(1, 2), st.sampled_from(TRAILERS)),
)


def _message(action: str, n: int, phase: str) -> str:
    return f"{action} {n}\n\nLoopkit-Action: {action}\nLoopkit-Phase: {phase}\n"


def _commit(root: Path, message: str, *, amend: bool = False) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", *(["--amend"] if amend else []), "-m", message)


def _tolerant(root: Path, *args: str) -> int:
    """A git step that may fail (a revert, merge or rebase that conflicts): then it is undone."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False).returncode


def _settle(root: Path) -> None:
    """Back on main with the stashed work tree, or a clean tree when it cannot come back."""
    if _tolerant(root, "stash", "pop", "-q"):
        _tolerant(root, "reset", "-q", "--hard")
        _tolerant(root, "stash", "drop", "-q")
    if git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() != "main":
        _tolerant(root, "checkout", "-q", "-f", "main")


def _lines(path: Path, tag: int, n: int) -> str:
    return "".join(f"- line {tag}.{i} same\n" if i % 2 else f"- line {tag}.{i}\n" for i in range(n))


def _apply(ws: Path, tag: int, op: tuple[str, int, int, str]) -> None:
    root = ws.parent
    kind, pick, n, action = op
    files = _files(ws)
    name = files[pick % len(files)]
    path = root / name
    phase = path.stem.split("-", 1)[-1]
    if kind in ("append", "edit", "dirty"):
        lines = path.read_text("utf-8").splitlines(keepends=True) if path.exists() else []
        if kind == "append":
            lines.append(_lines(path, tag, n))
        elif lines:
            lines[n % len(lines)] = f"- edited {tag}\n"
        path.write_text("".join(lines), encoding="utf-8")
        if kind != "dirty":
            _commit(root, _message(action, tag, phase))
    elif kind == "journal add":
        phases = sorted(p.stem for p in (ws / "phases").glob("*.toml"))
        role = ("builder", "adversary", "orchestrator")[n]
        env = {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": role}
        with contextlib.suppress(LoopkitError):  # a role without a journal there: nothing written
            journals.journal_add(_ctx(ws, env), phase=phases[pick % len(phases)], title=f"t{tag}", body="b")
    elif kind == "amend":
        _commit(root, _message(action, tag, "x"), amend=True)
    elif kind == "reset":
        if git(root, "rev-list", "--count", "HEAD").strip() != "1":
            git(root, "reset", "-q", "--hard", "HEAD~1")
    elif kind == "revert":
        _tolerant(root, "stash", "-q")
        if _tolerant(root, "revert", "--no-edit", "HEAD"):
            _tolerant(root, "revert", "--abort")
        _settle(root)
    else:  # a side branch with records; merged in, or main rebased onto it
        _tolerant(root, "stash", "-q")
        _tolerant(root, "checkout", "-q", "-b", f"side{tag}", "HEAD~1")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(_lines(path, tag, n))
        _commit(root, _message(action, tag, phase))
        _tolerant(root, "checkout", "-q", "-f", "main")
        how = ["merge", "-q", "--no-edit"] if kind == "merge" else ["rebase", "-q"]
        if _tolerant(root, *how, f"side{tag}"):
            _tolerant(root, kind, "--abort")
        _settle(root)


def _age(root: Path, seen: dict[str, str], tag: int) -> None:
    """Every file whose content changed gets an old mtime of its own: quiet, and told apart."""
    old = time.time_ns() - 10**12 + tag * 10**9
    for path in root.rglob("*"):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if seen.get(str(path)) != digest:
            seen[str(path)] = digest
            os.utime(path, ns=(old, old))


def _ctx(ws: Path, environ: dict[str, str]) -> Context:
    return Context(cwd=ws, environ=environ)


def _answers(ws: Path, *, off: bool) -> dict[str, Any]:
    """Everything loopkit answers about these books: status, report's detail, check, the inbox,
    and the history reads behind them, asked of one Repo."""
    env = {k: v for k, v in os.environ.items() if k != "LOOPKIT_NO_CACHE"}
    env["LOOPKIT_NOW"] = NOW
    if off:
        env["LOOPKIT_NO_CACHE"] = "1"
    found: dict[str, Any] = {}
    for name, ask in (
        ("status", lambda ctx: status.status(ctx, phase=None)),
        ("detail", lambda ctx: status.status(ctx, phase=None, detail=True)),
        ("check", lambda ctx: view.check(ctx, phase=None)),
        ("inbox", lambda ctx: inbox.list_messages(ctx, to=None, phase=None)),
    ):
        try:
            found[name] = ask(_ctx(ws, env)).to_json()  # what is printed: a document read
            # back from the index lacks fields the JSON never shows (a message's line number)
        except Exception as exc:  # an answer may be an error: it must be the same one
            found[name] = repr(exc)
    root = ws.parent
    repo = Repo(root, None if off else Index.open(root, root / ".git", env))
    files = [f for f in _files(ws) if (root / f).exists()]
    head = repo.head
    found["origins"] = repo.origins(files)
    longer = [f for f in files if (root / f).read_bytes().count(b"\n") >= 2]
    found["lines"] = {f: repo.line_origins(f, [1, 2]) for f in longer[:4]}
    found["records"] = repo.record_lines(files)
    found["order"] = {f: repo.order(f) for f in files}
    found["spec"] = repo.spec_commits
    first = git(root, "rev-list", "--max-parents=0", "HEAD").split()[0]
    found["code"] = repo.code_of(head, rel="docs", owned=lambda name: False)
    found["changed"] = repo.changed(first, head or first, prune=lambda p: p.startswith("docs"), keep="docs")
    repo.save_cache()
    return found


def _check_history(
    template: Path, tmp: Path, steps: list[tuple[str, int, int, str]], drop: list[bool]
) -> None:
    root = tmp / "repo"
    shutil.copytree(template, root, symlinks=True)
    ws = root / "docs"
    index = root / ".git" / "loopkit" / "index"
    seen: dict[str, str] = {}
    _age(root, seen, 0)
    for tag, (op, deleted) in enumerate(zip(steps, drop, strict=False), start=1):
        _apply(ws, tag, op)
        _age(root, seen, tag)
        expected = _answers(ws, off=True)
        if deleted:
            shutil.rmtree(index, ignore_errors=True)
        assert _answers(ws, off=False) == expected, (op, "deleted" if deleted else "the steps' index")
        assert _answers(ws, off=False) == expected, (op, "through what that read saved")


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=2, max_size=2), drop=st.lists(st.booleans(), min_size=2, max_size=2))
def test_the_index_answers_as_git_does(
    template: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[Any], drop: list[bool]
) -> None:
    _check_history(template, tmp_path_factory.mktemp("history"), steps, drop)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=1, max_size=8), drop=st.lists(st.booleans(), min_size=8, max_size=8))
def test_the_index_answers_as_git_does_on_long_histories(
    template: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[Any], drop: list[bool]
) -> None:
    _check_history(template, tmp_path_factory.mktemp("history"), steps, drop)


def test_an_older_loopkits_caches_go_when_the_index_is_first_written(tmp_path: Path) -> None:
    """After an upgrade `.git/loopkit` holds the index, jinja2's cache and the lock, nothing else."""
    state = tmp_path / ".git" / "loopkit"
    (state / "cache").mkdir(parents=True)
    (state / "cache" / "blame.json").write_text("{}", encoding="utf-8")
    for name in ("signatures.json", "journals.json", "inbox-builder.json", "journal-0123abcd.json", "lock"):
        (state / name).write_text("{}", encoding="utf-8")
    (state / "jinja").mkdir()
    index = Index(tmp_path, state / "index")
    index.put("k", {"a": 1})
    index.save()
    assert sorted(p.name for p in state.iterdir()) == ["index", "jinja", "lock"]
    assert Index(tmp_path, state / "index").kind("k") == {"a": 1}


def test_a_parsed_book_is_kept_by_its_text_and_a_stale_pickle_is_none(tmp_path: Path) -> None:
    """The parsed books are keyed by the text parsed (not the file's stat): the same text is not
    parsed again by the next command, any other text is; a books file that cannot be read (a torn
    write, or one naming a class outside loopkit's model: nothing else is ever made from it) is an
    empty kind; a book of the model reads back equal, its tuples as tuples."""
    folder = tmp_path / "index"
    path = tmp_path / "STATUS.md"
    path.write_text("# a\n", encoding="utf-8")
    parses: list[str] = []

    def parse(text: str) -> list[str]:
        parses.append(text)
        return text.split()

    def read(text: str) -> list[str]:
        index = Index(tmp_path, folder)
        found = index.parsed("status-docs", path, text, parse)
        index.save()
        return found

    assert read("# a\n") == ["#", "a"]
    assert read("# a\n") == ["#", "a"]
    assert read("# b\n") == ["#", "b"]  # same size, same path: the text decides
    assert parses == ["# a\n", "# b\n"]
    books = folder / "status-docs.json"
    books.write_bytes(books.read_bytes()[:-7])
    assert read("# b\n") == ["#", "b"]
    assert parses == ["# a\n", "# b\n", "# b\n"]
    books.write_text(
        books.read_text("utf-8").replace('"entries":{', '"entries":{"x":{"@":"pathlib.Path"},'), "utf-8"
    )
    assert read("# b\n") == ["#", "b"]
    assert len(parses) == 4
    doc = parse_status("# Status\n\n## M1 — one\n\n- **CLAIM** M1 @2026-06-13T13:44:01Z by builder — n\n")
    assert read_back(tmp_path, path, doc) == doc
    assert isinstance(read_back(tmp_path, path, doc).sections, tuple)


def read_back(root: Path, path: Path, doc: StatusDoc) -> StatusDoc:
    index = Index(root, root / "index2")
    index.parsed("status-docs", path, "same", lambda _: doc)
    index.save()
    return Index(root, root / "index2").parsed("status-docs", path, "same", lambda _: parse_status(""))
