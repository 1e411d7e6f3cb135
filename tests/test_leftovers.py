"""Issue 24, item 10: what other processes leave behind does not stop a writer.

A lock ticket whose pid now belongs to another process is stale; a `git status` holding
index.lock for a moment is waited out."""

from __future__ import annotations

import os
import socket
import threading
import time

from tests.conftest import Repo

ADD = ("journal", "add", "--phase", "px", "--title", "t", "--body", "b")


def test_a_ticket_whose_pid_was_reused_is_stale(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    queue = repo.root / ".git" / "loopkit" / "lock"
    queue.mkdir(parents=True, exist_ok=True)
    # a ticket naming a live pid (this test's), written by a process that started at another time
    ticket = queue / f"{0:020d}-{os.getpid()}-reused"
    ticket.write_text(f"{os.getpid()} {socket.gethostname()} 1\n", encoding="utf-8")
    result = repo.lk(*ADD, role="builder", env={"LOOPKIT_LOCK_TIMEOUT": "3"})
    assert result.code == 0, result.err
    assert result.err.count("broke a stale workspace lock") == 1
    assert not ticket.exists()


def test_a_ticket_of_a_live_process_still_holds(repo: Repo) -> None:
    from loopkit.workspace import _started

    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    queue = repo.root / ".git" / "loopkit" / "lock"
    queue.mkdir(parents=True, exist_ok=True)
    ticket = queue / f"{0:020d}-{os.getpid()}-alive0"
    ticket.write_text(f"{os.getpid()} {socket.gethostname()} {_started(os.getpid())}\n", encoding="utf-8")
    result = repo.lk(*ADD, role="builder", env={"LOOPKIT_LOCK_TIMEOUT": "0.5"})
    assert result.code == 4, result.err
    assert ticket.exists()


def test_a_transient_index_lock_is_waited_out(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    git_dir = repo.root / ".git"
    lock = git_dir / "index.lock"
    lock.write_bytes(b"")  # an editor's `git status`
    done = threading.Event()

    def release() -> None:
        # once loopkit is trying to take the lock (its marked copy waits beside it), a moment more
        while not done.is_set() and not list(git_dir.glob("loopkit-index-*-lock")):
            time.sleep(0.001)
        time.sleep(0.3)
        lock.unlink()

    watcher = threading.Thread(target=release)
    watcher.start()
    try:
        result = repo.lk(*ADD, role="builder")
    finally:
        done.set()
        watcher.join()
    assert result.code == 0, result.err
    assert "journal(px): t" in repo.git("log", "-1", "--format=%s")


def test_an_index_lock_that_stays_is_exit_5_with_nothing_written(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    journal = repo.ws / "JOURNAL-px.md"
    before, head = journal.read_bytes(), repo.git("rev-parse", "HEAD")
    (repo.root / ".git" / "index.lock").write_bytes(b"")
    started = time.monotonic()
    result = repo.lk(*ADD, role="builder")
    assert result.code == 5, result.err
    assert "index.lock exists" in result.err
    assert time.monotonic() - started < 15
    assert journal.read_bytes() == before and repo.git("rev-parse", "HEAD") == head
