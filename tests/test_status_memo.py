"""The status memo (services/status.py) pinned to the books it stands in for: after any change to
the workspace, its files or git, `status` answers what reading the books answers, and an unchanged
workspace is answered from the memo without reading them.

Real repositories (tests/fastbooks.py builds one with claims, verdicts, evidence and inboxes),
real git, real files. A change that lands within the racy window must not be memoised; the tests
age what they changed (mtime 10 s back) so that memos are written and then must be refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.services import status as status_service
from loopkit.services import view
from loopkit.services.context import Context

READ_STATUS = view.read_status  # the books, before any test counts its calls


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fastbooks import build

    root = tmp_path_factory.mktemp("memo") / "repo"
    build(root, 11)  # one phase of every scenario, and one more
    _age(root)
    return root


@pytest.fixture(scope="module")
def template_paths(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, with every other phase's milestones naming paths across the workspace: a
    PASS there goes stale when another phase's books change."""
    from fastbooks import build

    root = tmp_path_factory.mktemp("memo-paths") / "repo"
    build(root, 11, paths=["docs/**", "src/**"])
    _age(root)
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _age(root: Path) -> None:
    """Put every recently changed file and folder of the work tree 10 s back: out of the racy
    window, each at a time of its own (a change after this one gets a newer mtime)."""
    now = time.time_ns()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*files, *dirs]:
            path = Path(folder) / name
            if path.lstat().st_mtime_ns > now - 5_000_000_000:
                os.utime(path, ns=(now - 10_000_000_000, now - 10_000_000_000))
    if Path(root).stat().st_mtime_ns > now - 5_000_000_000:
        os.utime(root, ns=(now - 10_000_000_000, now - 10_000_000_000))


class Counted:
    """read_status, counted: how often the books were read rather than the memo."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = READ_STATUS

    def __call__(self, ctx: Context, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return self.real(ctx, **kwargs)


@pytest.fixture
def counted() -> Iterator[Counted]:
    counter = Counted()
    with mock.patch.object(view, "read_status", counter):
        yield counter


def _ctx(ws: Path, **env: str) -> Context:
    return Context(cwd=ws, environ={**os.environ, **env})


def _books(ws: Path, *, detail: bool = False) -> dict[str, Any]:
    """What the books say, every cache off (the history cache reads os.environ)."""
    with mock.patch.dict(os.environ, {"LOOPKIT_NO_CACHE": "1"}):
        return READ_STATUS(_ctx(ws, LOOPKIT_NO_CACHE="1"), phase=None, detail=detail).to_json()


def _copy(template: Path, folder: Path) -> Path:
    """A fresh copy of the built repository, aged out of the racy window; its workspace folder."""
    root = folder / "repo"
    shutil.copytree(template, root, symlinks=True)
    _age(root)
    return root / "docs"


def _memo(ws: Path, *, detail: bool = False) -> dict[str, Any]:
    return status_service.status(_ctx(ws), phase=None, detail=detail).to_json()


def test_an_unchanged_workspace_is_answered_from_the_memo(
    template: Path, tmp_path: Path, counted: Counted
) -> None:
    ws = _copy(template, tmp_path)
    root = ws.parent
    first = _memo(ws)
    assert counted.calls == 1
    assert (root / ".git" / "loopkit" / "cache" / "status.json").is_file()
    assert _memo(ws) == first == _books(ws)
    assert counted.calls == 1  # the second answer came from the memo
    detail = _memo(ws, detail=True)
    assert counted.calls == 2 and detail == _books(ws, detail=True)
    assert _memo(ws, detail=True) == detail and counted.calls == 2
    # one phase is always read from the books
    status_service.status(_ctx(ws), phase=sorted(p["phase"] for p in first["phases"])[0])
    assert counted.calls == 3


def test_a_change_inside_the_racy_window_is_not_memoised(
    template: Path, tmp_path: Path, counted: Counted
) -> None:
    ws = _copy(template, tmp_path)
    root = ws.parent
    status_file = next(ws.glob("STATUS-*.md"))
    status_file.write_text(status_file.read_text("utf-8") + "\nA line by hand.\n", "utf-8")
    _memo(ws)
    assert not (root / ".git" / "loopkit" / "cache" / "status.json").exists()
    assert _memo(ws) == _books(ws)
    assert counted.calls == 2


def test_after_a_journal_add_only_its_phase_is_read_again(template: Path, tmp_path: Path) -> None:
    """The point of the parts: loopkit's own write to one phase's books reads that phase alone;
    a commit of code reads every phase (staleness looks at code)."""
    ws = _copy(template, tmp_path)
    root = ws.parent
    asked: list[Any] = []

    def spy(ctx: Context, **kwargs: Any) -> dict[str, Any]:
        asked.append(kwargs.get("only"))
        return READ_STATUS(ctx, **kwargs)

    with mock.patch.object(view, "read_status", spy):
        _memo(ws)
        phase = sorted(ws.glob("STATUS-*.md"))[0].stem.removeprefix("STATUS-")
        _loopkit(ws, *LOOPKIT_WRITES["journal-add"](phase, 1))
        _age(root)
        assert json.dumps(_memo(ws)) == json.dumps(_books(ws))
        (root / "src" / "app.py").write_text("HEALTH = '/api/health'\n", "utf-8")
        _git(root, "add", "src/app.py")
        _commit(root, "code", "src/app.py")
        _age(root)
        assert json.dumps(_memo(ws)) == json.dumps(_books(ws))
    assert asked == [None, [phase], None]


def test_no_cache_turns_the_memo_off(template: Path, tmp_path: Path, counted: Counted) -> None:
    ws = _copy(template, tmp_path)
    root = ws.parent
    for _ in range(2):
        status_service.status(_ctx(ws, LOOPKIT_NO_CACHE="1"), phase=None)
    assert counted.calls == 2
    assert not (root / ".git" / "loopkit" / "cache" / "status.json").exists()


# -- any change, then: the memo's answer is the books' answer -------------------------------------
def _change(root: Path, kind: str, n: int) -> None:
    ws = root / "docs"
    statuses = sorted(ws.glob("STATUS-*.md"))
    journals = sorted(ws.glob("JOURNAL-*.md"))
    specs = sorted((ws / "phases").glob("*.toml"))
    if kind == "edit-status":
        path = statuses[n % len(statuses)]
        lines = path.read_text("utf-8").split("\n")
        del lines[n % len(lines)]  # a record, a heading or a blank line gone by hand
        path.write_text("\n".join(lines), "utf-8")
    elif kind == "append-journal" and journals:
        path = journals[n % len(journals)]
        path.write_text(
            path.read_text("utf-8") + f"\n## 2026-06-14 10:{n % 60:02d} — later\n\nMore.\n", "utf-8"
        )
    elif kind == "drop-journal" and journals:
        journals[n % len(journals)].unlink()
    elif kind == "new-phase":
        source = specs[n % len(specs)]
        (ws / "phases" / f"added-{n}.toml").write_text(
            source.read_text("utf-8").replace(source.stem, f"added-{n}"), "utf-8"
        )
    elif kind == "edit-spec":
        path = specs[n % len(specs)]
        path.write_text(path.read_text("utf-8").replace("answers 200", "answers 204", 1), "utf-8")
    elif kind == "inbox":
        path = ws / "ORCHESTRATOR-INBOX.md"
        old = path.read_text("utf-8") if path.exists() else "# ORCHESTRATOR INBOX\n"
        path.write_text(old + f"\n## 2026-06-14 11:{n % 60:02d} — from builder\n\nA note {n}.\n", "utf-8")
    elif kind == "code":
        count = _git(root, "rev-list", "--count", "HEAD").strip()  # the same n twice still changes code
        (root / "src" / "app.py").write_text(f"HEALTH = '/api/version'\nTIMEOUT = {n}\n# {count}\n", "utf-8")
    elif kind == "config":
        path = ws / "loopkit.toml"
        path.write_text(path.read_text("utf-8") + f"\n# a comment {n}\n", "utf-8")
    elif kind == "commit":
        _git(root, "add", "-A")
        _git(
            root,
            "-c",
            "user.name=P",
            "-c",
            "user.email=p@x.invalid",
            "commit",
            "-qm",
            f"by hand {n}",
            "--allow-empty",
        )
    elif kind == "reset":
        if _git(root, "rev-list", "--count", "HEAD").strip() != "1":
            _git(root, "reset", "-q", "--hard", "HEAD~1")
    elif kind == "stage":
        _git(root, "add", "-A")
    elif kind in LOOPKIT_WRITES:
        phase = statuses[n % len(statuses)].stem.removeprefix("STATUS-")
        _loopkit(ws, *LOOPKIT_WRITES[kind](phase, n))
    elif kind == "commit-code":
        count = _git(root, "rev-list", "--count", "HEAD").strip()  # the same n twice still changes code
        (root / "src" / "app.py").write_text(f"HEALTH = '/api/version'\nTIMEOUT = {n}\n# {count}\n", "utf-8")
        _git(root, "add", "src/app.py")
        _commit(root, f"code {n}", "src/app.py")
    elif kind == "commit-two" and len(journals) > 1:
        two = [journals[n % len(journals)], journals[(n + 1) % len(journals)]]
        for path in two:
            path.write_text(
                path.read_text("utf-8") + f"\n## 2026-06-14 12:{n % 60:02d} — both\n\nTwo.\n", "utf-8"
            )
        _git(root, "add", *map(str, two))
        _commit(root, f"two phases {n}", *map(str, two))
    elif kind == "amend":
        _git(root, *IDENTITY, "commit", "-q", "--amend", "--allow-empty", "-m", f"amended {n}")
    elif kind == "merge" and journals:
        path = journals[n % len(journals)]
        branch = f"side-{n}-{time.monotonic_ns()}"
        _git(root, "branch", branch)
        _git(root, "stash", "-q", "--include-untracked")  # a clean tree to switch branches with
        _git(root, "checkout", "-q", branch)
        path.write_text(
            path.read_text("utf-8") + f"\n## 2026-06-14 13:{n % 60:02d} — side\n\nSide.\n", "utf-8"
        )
        _commit(root, f"side {n}", str(path))
        _git(root, "checkout", "-q", "-")
        _git(root, *IDENTITY, "merge", "-q", "--no-ff", "-m", f"merge {n}", branch)
        subprocess.run(["git", "stash", "pop", "-q"], cwd=root, capture_output=True)
    elif kind == "checkout-old":
        if _git(root, "rev-list", "--count", "HEAD").strip() != "1":
            subprocess.run(["git", "checkout", "-q", "--detach", "HEAD~1"], cwd=root, capture_output=True)
    elif kind == "garbage-memo":
        memo = root / ".git" / "loopkit" / "cache" / "status.json"
        if memo.exists():
            memo.write_text('{"facts": [', "utf-8")


IDENTITY = ("-c", "user.name=P", "-c", "user.email=p@x.invalid")

# loopkit's own writes, through its command line: each phase's books change, and HEAD moves
LOOPKIT_WRITES = {
    "journal-add": lambda p, n: (
        "--role",
        "builder",
        "journal",
        "add",
        "--phase",
        p,
        "--title",
        f"t{n}",
        "--body",
        "b",
    ),
    "journal-add-no-commit": lambda p, n: (
        *("--role", "builder", "journal", "add", "--phase", p, "--title", f"u{n}", "--body", "b"),
        "--no-commit",
    ),
    "probe-exec": lambda p, n: (
        *("--role", "builder", "probe", "exec", "--phase", p, "--milestone", "M1", "--id", "P1"),
        *("--expect", "0", "--observe", "exit", "--", "true"),
    ),
    "inbox-send": lambda p, n: (
        *("--role", "orchestrator", "inbox", "send", "--to", "builder", "--phase", p),
        *("--subject", f"s{n}", "--body", "b"),
    ),
}


def _loopkit(ws: Path, *args: str) -> None:
    """The real command line, as an agent runs it (its refusals are fine: the books say so)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "loopkit", *args], cwd=ws, env=env, capture_output=True, text=True
    )
    assert "Traceback" not in proc.stderr, proc.stderr


def _commit(root: Path, message: str, *paths: str) -> None:
    _git(root, *IDENTITY, "commit", "-q", "-m", message, "--", *paths)


CHANGES = st.sampled_from(
    [
        *LOOPKIT_WRITES,
        "commit-code",
        "commit-two",
        "amend",
        "merge",
        "checkout-old",
        "edit-status",
        "append-journal",
        "drop-journal",
        "new-phase",
        "edit-spec",
        "inbox",
        "code",
        "config",
        "commit",
        "reset",
        "stage",
        "garbage-memo",
    ]
)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.booleans(), st.lists(st.tuples(CHANGES, st.integers(0, 1000), st.booleans()), min_size=1, max_size=8)
)
def test_after_any_change_the_memo_answers_what_the_books_answer(
    template: Path, template_paths: Path, with_paths: bool, steps: list[tuple[str, int, bool]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ws = _copy(template_paths if with_paths else template, Path(folder))
        root = ws.parent
        _memo(ws)  # a memo to start from
        for kind, n, aged in steps:
            _change(root, kind, n)
            if aged:
                _age(root)  # out of the racy window: a memo is written, and must be refused next
            detail = n % 3 == 0  # report's document too, now and then
            books = json.dumps(_books(ws, detail=detail))  # byte for byte, keys in their order
            assert json.dumps(_memo(ws, detail=detail)) == books, kind
            assert json.dumps(_memo(ws, detail=detail)) == books, kind  # once more: a memo may be written


def test_the_memo_is_json_of_the_document_and_of_nothing_secret(template: Path, tmp_path: Path) -> None:
    ws = _copy(template, tmp_path)
    root = ws.parent
    secret = "s3cr3t-value-for-the-memo-test"
    status_service.status(_ctx(ws, LOOPKIT_API_TOKEN=secret), phase=None)
    text = (root / ".git" / "loopkit" / "cache" / "status.json").read_text("utf-8")
    assert secret not in text
    data = json.loads(text)
    assert set(data) == {"facts", "stats", "doc", "watch"}
    assert data["doc"] == _books(ws)


def test_a_deleted_journal_leaves_the_journal_memo(template: Path, tmp_path: Path) -> None:
    """journals.json keeps entries only for journals that exist when it is written."""
    from loopkit.services import journal_memo

    ws = _copy(template, tmp_path)
    root = ws.parent
    first, second = sorted(ws.glob("JOURNAL-*.md"))[:2]
    ctx = _ctx(ws)
    journal_memo.last_time(ctx, first)
    journal_memo.last_time(ctx, second)
    journal_memo.save(ctx)
    memo = root / ".git" / "loopkit" / "journals.json"
    assert {str(first), str(second)} <= set(json.loads(memo.read_text("utf-8"))["entries"])
    first.unlink()
    second.write_text(second.read_text("utf-8") + "\nmore\n", "utf-8")
    _age(root)
    again = _ctx(ws)
    journal_memo.last_time(again, second)  # a changed stat: the memo has news to write
    journal_memo.save(again)
    entries = set(json.loads(memo.read_text("utf-8"))["entries"])
    assert str(second) in entries and str(first) not in entries


def test_a_signed_workspace_keys_the_memo_on_what_the_verifier_reads_and_nothing_secret() -> None:
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/a",
        "LOOPKIT_ALLOWED_SIGNERS": "/keys/allowed",
        "LOOPKIT_NOW": "2026-06-13T13:44:00Z",
        "LOOPKIT_SIGNING_KEY": "/keys/id",
        "LOOPKIT_API_TOKEN": "s3cr3t-token",
        "EDITOR": "vi",
    }
    kept = status_service._verifier_environ(environ)
    assert kept == {"HOME": "/home/a", "LOOPKIT_ALLOWED_SIGNERS": "/keys/allowed", "PATH": "/usr/bin"}
