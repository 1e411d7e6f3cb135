"""`loopkit inbox wait`: wakes when another process sends, times out with 124, consumes nothing,
checks cheaply; `--sync` sees a message pushed from another clone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import LOOPKIT, NOW, Repo, git, run_loopkit


def waiter(repo: Repo, *args: str, role: str = "builder", cwd: Path | None = None) -> subprocess.Popen[str]:
    assert LOOPKIT is not None
    env = {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": role}
    return subprocess.Popen(
        [LOOPKIT, "inbox", "wait", *args],
        cwd=cwd or repo.ws,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started(proc: subprocess.Popen[str], seconds: float = 3.0) -> None:
    """Give the waiter time to start and make its first check (it must still be waiting)."""
    time.sleep(seconds)
    assert proc.poll() is None, proc.communicate()


def send(
    repo: Repo,
    *,
    to: str = "builder",
    phase: str | None = None,
    subject: str = "hello",
    cwd: Path | None = None,
) -> str:
    args = ["inbox", "send", "--to", to, "--subject", subject, "--body", "text", "--json"]
    if phase:
        args += ["--phase", phase]
    result = repo.lk(*args, role="orchestrator", cwd=cwd)
    assert result.code == 0, result.err
    return str(result.json["id"])


def test_a_message_sent_while_waiting_is_printed_within_the_interval(repo: Repo) -> None:
    interval = 0.5
    proc = waiter(repo, "--interval", str(interval), "--timeout", "60", "--json")
    started(proc)
    sent = send(repo)
    sent_at = time.monotonic()
    out, err = proc.communicate(timeout=30)
    woke = time.monotonic() - sent_at
    assert proc.returncode == 0, err
    assert woke < interval + 1, woke
    doc = json.loads(out)
    assert next(iter(doc)) == "schema_version"
    assert [m["id"] for m in doc["messages"]] == [sent] and doc["timed_out"] is False
    # it consumed nothing: the message is still pending
    listed = repo.lk("inbox", "list", "--to", "builder", "--json").json["messages"]
    assert [m["id"] for m in listed] == [sent]


def test_human_output_is_inbox_lists_and_to_defaults_to_own_role(repo: Repo) -> None:
    sent = send(repo, subject="already here")
    result = repo.lk("inbox", "wait", "--timeout", "5", role="builder")
    assert result.code == 0 and result.out == repo.lk("inbox", "list", "--to", "builder").out
    assert sent in result.out


def test_timeout_exits_124_with_nothing_on_stdout(repo: Repo) -> None:
    started_at = time.monotonic()
    result = repo.lk("inbox", "wait", "--timeout", "1", "--interval", "0.2", role="builder")
    assert result.code == 124 and result.out == ""
    assert "nothing pending" in result.err
    assert time.monotonic() - started_at < 15
    as_json = repo.lk("inbox", "wait", "--to", "adversary", "--timeout", "0", "--json")
    assert as_json.code == 124
    assert as_json.json == {"schema_version": 1, "messages": [], "timed_out": True}


def test_phase_filter_wakes_for_that_phase_or_none(repo: Repo) -> None:
    for name in ("px", "py"):
        repo.write(f"phases/{name}.toml", f'phase = "{name}"\ntitle = "{name}"\n')
    send(repo, phase="py", subject="for py")
    other = repo.lk("inbox", "wait", "--phase", "px", "--timeout", "1", "--interval", "0.2", role="builder")
    assert other.code == 124
    send(repo, subject="for everyone")
    mine = repo.lk("inbox", "wait", "--phase", "px", "--timeout", "5", "--json", role="builder")
    assert mine.code == 0 and [m["subject"] for m in mine.json["messages"]] == ["for everyone"]


def test_usage_errors(repo: Repo) -> None:
    assert repo.lk("inbox", "wait", "--timeout", "1").code == 2  # no --to and no role
    assert repo.lk("inbox", "wait", "--to", "boss", "--timeout", "1").code == 2
    assert repo.lk("inbox", "wait", "--to", "builder", "--interval", "0").code == 2


def test_waiting_checks_with_a_stat_and_parses_only_on_change(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopkit.services import wait as wait_module
    from loopkit.services.context import Context

    send(repo, to="adversary", phase="other")  # the builder's inbox does not exist: checks are a failing stat
    parses: list[int] = []
    real = wait_module.pending
    monkeypatch.setattr(wait_module, "pending", lambda ctx, **kw: parses.append(1) or real(ctx, **kw))
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds
        if len(sleeps) == 5:  # another process writes the inbox while we sleep
            send(repo, to="builder", subject="now")

    ctx = Context(cwd=repo.ws, environ=dict(os.environ), role_option="builder")
    got = wait_module.wait(
        ctx, to=None, phase=None, timeout=100, interval=2, sleep=sleep, clock=lambda: clock[0]
    )
    assert [m.subject for m in got.messages] == ["now"] and got.timed_out is False
    assert sleeps == [2] * 5 and len(parses) == 1

    # a file that does not change is parsed once, however long the wait
    parses.clear()
    sleeps.clear()
    ctx = Context(cwd=repo.ws, environ=dict(os.environ), role_option="adversary")
    clock[0] = 1000.0
    got = wait_module.wait(
        ctx, to=None, phase="nope", timeout=30, interval=2, sleep=sleep, clock=lambda: clock[0]
    )
    assert got.to_json() == {"messages": [], "timed_out": True}
    assert len(parses) == 1 and len(sleeps) == 15


def share(repo: Repo, tmp_path: Path) -> Path:
    """A bare remote holding the repository with its (committed) workspace."""
    repo.git("add", "loopkit.toml", "phases")
    repo.git("commit", "-q", "-m", "workspace")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.root), str(remote))
    return remote


def test_sync_sees_a_message_pushed_from_another_clone(repo: Repo, tmp_path: Path) -> None:
    remote = share(repo, tmp_path)
    repo.git("remote", "add", "origin", str(remote))
    repo.git("fetch", "-q", "origin")
    repo.git("branch", "-q", "--set-upstream-to=origin/main", "main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))

    proc = waiter(repo, "--sync", "--interval", "0.5", "--timeout", "60", "--json")
    started(proc)
    result = run_loopkit(
        "inbox",
        "send",
        "--to",
        "builder",
        "--subject",
        "from afar",
        "--body",
        "x",
        "--json",
        cwd=other,
        role="orchestrator",
    )
    assert result.code == 0, result.err
    git(other, "push", "-q", "origin", "main")
    pushed_at = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - pushed_at < 0.5 + 3  # an interval, a fetch and a parse
    assert [m["subject"] for m in json.loads(out)["messages"]] == ["from afar"]
    # it fast-forwarded: this clone now has the other's commit, and a clean tree
    assert repo.git("rev-parse", "HEAD") == git(other, "rev-parse", "HEAD")
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""


def test_sync_over_unpushed_commits_integrates_as_sync_does(repo: Repo, tmp_path: Path) -> None:
    """SPEC 7: `--sync` syncs; a clone with commits the remote lacks, behind a remote that moved,
    is integrated (rebased) and pushed, as `loopkit sync` does, and the message it brought is seen."""
    remote = share(repo, tmp_path)
    repo.git("remote", "add", "origin", str(remote))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "b.txt").write_text("b\n", encoding="utf-8")
    git(other, "add", "b.txt")
    git(other, "commit", "-q", "-m", "theirs")
    send(repo, subject="from afar", cwd=other)
    git(other, "push", "-q", "origin", "main")
    repo.commit_code("a.txt", "a\n", "ours")
    result = repo.lk("inbox", "wait", "--sync", "--timeout", "5", "--json", role="builder")
    assert result.code == 0, result.err
    assert [m["subject"] for m in result.json["messages"]] == ["from afar"]
    tip = git(remote, "rev-parse", "main")
    assert repo.git("rev-parse", "HEAD") == tip  # ours rebased onto theirs and pushed
    assert repo.git("log", "-1", "--format=%s").strip() == "ours"


def test_sync_without_a_remote_exits_5(repo: Repo) -> None:
    result = repo.lk("inbox", "wait", "--sync", "--timeout", "1", role="builder")
    assert result.code == 5 and "no remote" in result.err
