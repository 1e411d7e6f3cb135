"""Two agents committing over each other is one of the failures loopkit exists to prevent."""

from __future__ import annotations

import fcntl
import json
from concurrent.futures import ThreadPoolExecutor

from conftest import Repo


def test_parallel_writers_are_serialised(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", "--title", "t", role="orchestrator").code == 0

    def add(index: int) -> int:
        return repo.lk(
            "journal", "add", "--phase", "px", "--title", f"entry {index}", "--body", "b", role="builder"
        ).code

    def send(index: int) -> int:
        return repo.lk(
            "inbox", "send", "--to", "adversary", "--subject", f"m{index}", "--body", "x", role="orchestrator"
        ).code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(add, range(4))) + list(pool.map(send, range(3)))
    assert codes == [0] * 7
    shown = json.loads(repo.lk("journal", "show", "--phase", "px", "--json").out)
    assert sorted(e["title"] for e in shown["entries"]) == [f"entry {i}" for i in range(4)]
    listed = json.loads(repo.lk("inbox", "list", "--to", "adversary", "--json").out)
    assert sorted(m["subject"] for m in listed["messages"]) == ["m0", "m1", "m2"]
    subjects = repo.git("log", "--format=%s").splitlines()
    assert sum(s.startswith("journal(px): entry") for s in subjects) == 4
    assert sum(s.startswith("inbox: orchestrator → adversary: m") for s in subjects) == 3
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""


def test_a_held_lock_times_out_with_exit_4(repo: Repo) -> None:
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0
    with open(repo.root / ".git" / "loopkit.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        result = repo.lk(
            "journal",
            "add",
            "--phase",
            "px",
            "--title",
            "t",
            "--body",
            "b",
            role="builder",
            env={"LOOPKIT_LOCK_TIMEOUT": "0.3"},
        )
    assert result.code == 4
    assert "locked" in result.err
    assert "entry" not in (repo.ws / "JOURNAL-px.md").read_text(encoding="utf-8").split("\n", 1)[1]
