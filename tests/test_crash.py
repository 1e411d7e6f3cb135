"""SIGKILL at random points (issue 7, item 10): after each kill the next command finishes or undoes
the interrupted transaction, and the books are as before or as after the command: HEAD is the old
commit or one new commit on it, the work tree holds exactly what HEAD holds, no message is lost,
no file is torn, and no temporary file, index or lock is left behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from tests.conftest import LOOPKIT, NOW, Repo

pytestmark = pytest.mark.slow  # SIGKILL crash runs (issue 21: the slow tier)

RUNS = int(os.environ.get("LOOPKIT_CRASH_RUNS", "200"))
PHASE = "px"
SPEC = """\
phase = "px"
title = "Crash"

[[milestones]]
id = "M1"
title = "answers"

  [[milestones.probes]]
  id = "P1"
  title = "answers 200"
  run = "printf 200"
  observe = "stdout"
  expect = ["200"]
"""

OPERATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("builder", ("journal", "add", "--phase", PHASE, "--title", "note", "--body", "some words\n\nmore")),
    ("orchestrator", ("inbox", "send", "--to", "builder", "--phase", PHASE, "--subject", "s", "--body", "b")),
    ("builder", ("inbox", "send", "--to", "adversary", "--phase", PHASE, "--subject", "s", "--body", "b")),
    ("builder", ("inbox", "consume", "--to", "builder", "--all")),
    ("adversary", ("inbox", "consume", "--to", "adversary", "--all")),
    ("builder", ("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "X", "--", "true")),
    ("builder", ("probe", "run", "--phase", PHASE)),
    ("builder", ("claim", "--phase", PHASE, "--milestone", "M1")),
    ("adversary", ("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1", "--note", "again")),
]


def _env(role: str) -> dict[str, str]:
    return {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": role, "LOOPKIT_LOCK_TIMEOUT": "60"}


def _git(repo: Repo, *args: str) -> str:
    return repo.git(*args)


def _ids(repo: Repo) -> tuple[set[str], set[str]]:
    listed = subprocess.run(
        [str(LOOPKIT), "inbox", "list", "--json"],
        cwd=repo.ws,
        env=_env("builder"),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip  (a read: it finishes or undoes what the kill interrupted)
    assert listed.returncode == 0, listed.stderr
    pending = {m["id"] for m in json.loads(listed.stdout)["messages"]}
    archive = repo.ws / "inbox-archive"
    archived = set()
    for path in archive.glob("*.md") if archive.is_dir() else ():
        text = path.read_text("utf-8")
        marker = '"id":"' if '"id":"' in text else '"id": "'
        archived.add(text.split(marker, 1)[1].split('"', 1)[0])
    return pending, archived


def _leftovers(repo: Repo) -> list[str]:
    found = [str(p) for p in repo.ws.rglob(".*.tmp")]
    found += [str(p) for p in (repo.root / ".git").glob("loopkit-index-*")]
    if (repo.root / ".git" / "index.lock").exists():
        found.append("index.lock")
    if (repo.root / ".git" / "loopkit" / "txn.json").exists():
        found.append("txn.json")
    return found


def test_sigkill_at_random_points_leaves_the_books_before_or_after(docs_repo: Repo) -> None:
    repo = docs_repo
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(SPEC, "utf-8")
    repo.git("add", "docs")
    repo.git("commit", "-qm", "workspace")
    started = time.monotonic()
    opened = subprocess.run([str(LOOPKIT), "phase", "new", PHASE], cwd=repo.ws, env=_env("orchestrator"))
    assert opened.returncode == 0
    # kills spread over a whole command's life, however loaded the machine is
    span = 1.6 * (time.monotonic() - started)
    rng = random.Random(7)
    seen: set[str] = set()
    outcomes = {"before": 0, "after": 0}
    for run in range(RUNS):
        role, args = rng.choice(OPERATIONS)
        before = _git(repo, "rev-parse", "HEAD").strip()
        proc = subprocess.Popen(
            [str(LOOPKIT), *args], cwd=repo.ws, env=_env(role),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.02, span))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.05)  # git children of the killed command finish or die on their own
        pending, archived = _ids(repo)
        after = _git(repo, "rev-parse", "HEAD").strip()
        where = f"run {run}: {role} {' '.join(args)}"
        if after == before:
            outcomes["before"] += 1
        else:
            outcomes["after"] += 1
            assert _git(repo, "rev-parse", "HEAD~1").strip() == before, where
        # the work tree holds exactly what HEAD holds: nothing half-written, nothing untracked
        assert _git(repo, "status", "--porcelain", "--untracked-files=all") == "", where
        assert _leftovers(repo) == [], where
        # no message lost: every id ever seen is still pending or archived, and never both
        assert seen <= pending | archived, (where, seen - pending - archived)
        assert not pending & archived, where
        seen |= pending | archived
    # every journal reads back without a torn entry
    for name in (f"JOURNAL-{PHASE}.md", f"REVIEW-{PHASE}.md"):
        path = repo.ws / name
        if path.exists():
            parsed = subprocess.run(
                [str(LOOPKIT), "journal", "parse", str(path), "--json"],
                cwd=repo.ws,
                capture_output=True,
                text=True,
            )
            assert parsed.returncode == 0 and json.loads(parsed.stdout)["warnings"] == [], parsed.stdout
    assert outcomes["before"] and outcomes["after"], outcomes  # kills landed on both sides
    check = subprocess.run(
        [str(LOOPKIT), "check", "--json"], cwd=repo.ws, env=_env("builder"), capture_output=True, text=True
    )
    assert check.returncode in (0, 1), check.stderr
    assert not [
        p for p in json.loads(check.stdout)["problems"] if p["code"] in ("removed-record", "forged-evidence")
    ]
