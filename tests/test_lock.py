"""The workspace lock: fair under a burst, stale tickets broken, a live holder gives exit 4."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo

# One writer process: 50 `journal add`s through the service (what the command runs, minus Python's
# start-up, which would make 800 separate processes take minutes on two cores), each timed.
# Without commits by default (LOOPKIT_LOCK_BURST_COMMIT=1 commits each: ~0.5 s a write here).
WRITER = r"""
import json, os, sys, time
from pathlib import Path
from loopkit.services.context import Context
from loopkit.services.journals import journal_add
from loopkit import workspace

waits = []
real_lock = workspace.Workspace.lock
def timed(self, timeout=None):
    start = time.monotonic()
    inner = real_lock(self, timeout)
    class Timed:
        def __enter__(self_):
            inner.__enter__()
            waits.append(time.monotonic() - start)
        def __exit__(self_, *exc):
            return inner.__exit__(*exc)
    return Timed()
workspace.Workspace.lock = timed
worker, count, no_commit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
ok = refused = 0
for n in range(count):
    ctx = Context(cwd=Path.cwd(), environ={**os.environ, "LOOPKIT_ROLE": "builder"}, no_commit=no_commit)
    try:
        journal_add(ctx, phase="px", title=f"w{worker}-{n}", body="x")
        ok += 1
    except Exception as exc:
        refused += 1
        print(type(exc).__name__, exc, file=sys.stderr)
print(json.dumps({"ok": ok, "refused": refused, "waits": waits}))
"""

WORKERS, WRITES = 16, 50


@pytest.mark.slow
def test_a_burst_of_16_writers_x_50_is_served_in_order_and_nothing_is_lost(repo: Repo) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOOPKIT_LOCK_TIMEOUT"}
    env["LOOPKIT_NOW"] = "2026-06-13T13:44:00Z"
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    no_commit = "0" if os.environ.get("LOOPKIT_LOCK_BURST_COMMIT") == "1" else "1"
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w), str(WRITES), no_commit],
            cwd=repo.ws,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.monotonic() - started
    waits = sorted(w for r in results for w in r["waits"])
    assert sum(r["ok"] for r in results) == WORKERS * WRITES
    assert sum(r["refused"] for r in results) == 0
    text = (repo.ws / "JOURNAL-px.md").read_text("utf-8")
    from loopkit.markdown.journal import parse_journal

    journal = parse_journal(text)
    assert not journal.warnings, journal.warnings[:3]
    subjects = [e.title for e in journal.entries]
    expected = {f"w{w}-{n}" for w in range(WORKERS) for n in range(WRITES)}
    assert sorted(subjects) == sorted(expected), "a message lost, doubled or torn"
    if no_commit == "0":
        log = repo.git("log", "--format=%s").splitlines()
        assert sum(s.startswith("journal(px): w") for s in log) == WORKERS * WRITES
    median, worst = waits[len(waits) // 2], waits[-1]
    figures = f"{WORKERS}x{WRITES}: {elapsed:.1f} s, lock wait median {median:.3f} s, max {worst:.3f} s"
    print(figures)
    (Path(os.environ.get("LOOPKIT_FIGURES", os.devnull))).write_text(figures + "\n", encoding="utf-8")
    from loopkit.workspace import LOCK_TIMEOUT

    assert worst < LOCK_TIMEOUT / 4, figures  # the default timeout is far from reached


def test_a_ticket_left_by_a_killed_process_is_broken_with_one_line(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    queue = repo.root / ".git" / "loopkit" / "lock"
    queue.mkdir(parents=True, exist_ok=True)
    import socket

    (queue / f"{0:020d}-{victim.pid}-dead00").write_text(
        f"{victim.pid} {socket.gethostname()}\n", encoding="utf-8"
    )
    result = repo.lk("journal", "add", "--phase", "px", "--title", "t", "--body", "b", role="builder")
    assert result.code == 0, result.err
    assert result.err.count("broke a stale workspace lock") == 1
    assert not list(queue.iterdir())


def test_another_hosts_ticket_is_broken_once_older_than_the_timeout(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    queue = repo.root / ".git" / "loopkit" / "lock"
    queue.mkdir(parents=True, exist_ok=True)
    ticket = queue / f"{0:020d}-1-other0"
    ticket.write_text("1 some-other-host\n", encoding="utf-8")
    env = {"LOOPKIT_LOCK_TIMEOUT": "1"}
    started = time.monotonic()
    result = repo.lk(
        "journal", "add", "--phase", "px", "--title", "t", "--body", "b", role="builder", env=env
    )
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 1  # its process may be alive over there: waited the timeout
    ticket.write_text("1 some-other-host\n", encoding="utf-8")
    old = time.time() - 10
    os.utime(ticket, (old, old))
    result = repo.lk(
        "journal", "add", "--phase", "px", "--title", "t", "--body", "b", role="builder", env=env
    )
    assert result.code == 0, result.err
    assert "broke a stale workspace lock" in result.err


def test_a_live_holder_gives_exit_4_after_the_configured_timeout(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    config = repo.ws / "loopkit.toml"
    config.write_text(config.read_text("utf-8") + "\n[lock]\ntimeout = 0.4\n", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from loopkit.services.context import Context; import os\n"
         "ws = Context(cwd=Path.cwd(), environ=os.environ).workspace\n"
         "with ws.lock():\n    print('held', flush=True); time.sleep(30)\n"],
        cwd=repo.ws, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = repo.lk("journal", "add", "--phase", "px", "--title", "t", "--body", "b", role="builder")
        assert result.code == 4, result.err
        assert "not obtained in 0.4 s" in result.err
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
