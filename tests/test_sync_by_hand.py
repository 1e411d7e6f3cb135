"""Several clones without `loopkit sync` (issue 8): plain `git pull --rebase` and `git pull
--no-rebase` by hand keep every record valid (no forged-*, no stale evidence from a rebase that
brought only workspace files), and a torture run of random loopkit operations and random syncs in
three clones converges with nothing lost or duplicated."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.test_sync import lk, make_clones, ok, records, views


def pull(clone: Path, *how: str) -> None:
    done = subprocess.run(
        ["git", "pull", "-q", *how, "origin", "main"], cwd=clone, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def push(clone: Path) -> None:
    done = subprocess.run(
        ["git", "push", "-q", "origin", "HEAD:main"], cwd=clone, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("how", [("--rebase",), ("--no-rebase", "--no-edit")])
def test_a_phase_played_with_plain_git_pull(tmp_path: Path, how: tuple[str, ...]) -> None:
    _, clones = make_clones(tmp_path)
    b, a, o = clones["builder"], clones["adversary"], clones["orchestrator"]
    ok(lk(o, "phase", "new", "px", role="orchestrator", sync=False))
    push(o)
    pull(b, *how)
    ok(lk(b, "probe", "run", "--phase", "px", role="builder", sync=False))
    ok(lk(b, "claim", "--phase", "px", "--milestone", "M1", role="builder", sync=False))
    # meanwhile the orchestrator wrote to the builder's inbox and pushed first
    ok(lk(o, "inbox", "send", "--to", "builder", "--phase", "px", "--subject", "hi", "--body", "x",
          role="orchestrator", sync=False))  # fmt: skip
    push(o)
    pull(b, *how)  # the builder's unpushed evidence and claim are rebased (or merged) by hand
    push(b)
    pull(a, *how)
    evidence = ok(lk(a, "evidence", "--phase", "px", "--json", role="adversary", sync=False))
    assert '"stale": []' in evidence.out.replace("\n", "").replace("  ", "") or '"stale":[]' in evidence.out
    ok(lk(a, "inbox", "consume", "--to", "adversary", "--all", role="adversary", sync=False))
    ok(lk(a, "verdict", "PASS", "--phase", "px", "--milestone", "M1", role="adversary", sync=False))
    push(a)
    for clone in (b, o):
        pull(clone, *how)
    ok(lk(b, "inbox", "consume", "--to", "builder", "--all", role="builder", sync=False))
    gate = lk(b, "gate", "--phase", "px", "--json", role="builder", sync=False)
    assert gate.code == 0, gate.out
    ok(lk(b, "done", "--phase", "px", role="builder", sync=False))
    push(b)
    for clone in (a, o):
        pull(clone, *how)
    seen = [views(clone) for clone in clones.values()]
    assert all(view == seen[0] for view in seen)
    status, check, _ = seen[0]
    assert status["phases"][0]["state"] == "done", status
    assert not [p for p in check["problems"] if p["code"].startswith(("forged-", "stale-"))], check


OPS = [
    ("builder", ("journal", "add", "--phase", "px", "--title", "b @N", "--body", "work")),
    ("adversary", ("journal", "add", "--phase", "px", "--title", "a @N", "--body", "review")),
    ("orchestrator", ("inbox", "send", "--to", "builder", "--phase", "px", "--subject", "o", "--body", "x")),
    ("builder", ("inbox", "send", "--to", "adversary", "--phase", "px", "--subject", "b", "--body", "x")),
    ("adversary", ("inbox", "send", "--to", "orchestrator", "--subject", "a", "--body", "x")),
    ("builder", ("inbox", "consume", "--to", "builder", "--all")),
    ("adversary", ("inbox", "consume", "--to", "adversary", "--all")),
    ("orchestrator", ("inbox", "consume", "--to", "orchestrator", "--all")),
    ("builder", ("probe", "exec", "--phase", "px", "--milestone", "M1", "--id", "t@N", "--", "true")),
]


@pytest.mark.slow
def test_three_clones_converge_after_random_operations_and_syncs(tmp_path: Path) -> None:
    runs = int(os.environ.get("LOOPKIT_TORTURE_OPS", "60"))
    _, clones = make_clones(tmp_path)
    ok(lk(clones["orchestrator"], "phase", "new", "px", role="orchestrator"))
    for role, clone in clones.items():
        ok(lk(clone, "sync", role=role, sync=False))
    rng = random.Random(8)
    sent: set[str] = set()
    journaled: list[str] = []
    for n in range(runs):
        role, args = rng.choice(OPS)
        # every record unique (the clock is fixed), so "exactly once" can be counted
        args = tuple(a.replace("@N", str(n)) for a in args)
        if args[:2] == ("journal", "add") or args[:2] == ("probe", "exec"):
            journaled.append(args[args.index("--title") + 1] if "--title" in args else f"M1 t{n} PASS")
        if args[:2] == ("inbox", "send"):
            sent.add(json.loads(ok(lk(clones[role], *args, "--json", role=role, sync=False)).out)["id"])
        else:
            ok(lk(clones[role], *args, role=role, sync=False))
        if rng.random() < 0.3:
            who = rng.choice(list(clones))
            ok(lk(clones[who], "sync", role=who, sync=False))
    for _ in range(2):  # twice round: the first clone to sync must also see the last one's pushes
        for role, clone in clones.items():
            ok(lk(clone, "sync", role=role, sync=False))
    counts = [records(clone) for clone in clones.values()]
    assert all(c == counts[0] for c in counts)
    assert not [k for k, n in counts[0].items() if n > 1], "a record was duplicated"
    pending = {k.split(":", 1)[1] for k in counts[0] if k.startswith("pending:")}
    archived = {k.split(":", 1)[1] for k in counts[0] if k.startswith("archived:")}
    assert not pending & archived, "a message is both pending and consumed"
    assert sent <= pending | archived, ("messages lost", sent - pending - archived)
    headings = [k.split("— ", 1)[1] for k in counts[0] if k.startswith(("JOURNAL-", "REVIEW-")) and "— " in k]
    assert all(headings.count(title) == 1 for title in journaled), "a journal entry was lost or doubled"
    seen = [views(clone) for clone in clones.values()]
    assert all(view == seen[0] for view in seen)
