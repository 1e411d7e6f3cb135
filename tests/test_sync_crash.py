"""A `sync` killed (SIGKILL) at a chosen point (issue 24, item 10): the next loopkit command
finishes or cleans up what it left. The point is chosen with git's own `reference-transaction`
hook in the clone: it kills loopkit as git is about to move a ref, then makes git give that move up,
so the state is exactly the one a kill between two of sync's steps leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import LOOPKIT, NOW, git

from tests.test_sync import lk, make_clones, ok

pytestmark = pytest.mark.slow

# $1 is the state; stdin the "<old> <new> <ref>" lines. WHERE is "worktree" (a ref of sync's
# temporary worktree: mid-rebase) or "main" (the clone's own HEAD: the last step of a sync).
HOOK = r"""#!/bin/sh
lines=$(cat)
[ "$1" = prepared ] || exit 0
case "$(git rev-parse --absolute-git-dir)" in
  */worktrees/*) here=worktree ;;
  *) here=main ;;
esac
[ "$here" = "$KILL_WHERE" ] || exit 0
case "$KILL_WHERE" in
  worktree) echo "$lines" | grep -q ' CHERRY_PICK_HEAD$' || exit 0 ;;
  main) echo "$lines" | grep -q ' HEAD$' || exit 0 ;;
esac
while [ ! -s "$KILL_PIDFILE" ]; do sleep 0.01; done
kill -9 "$(cat "$KILL_PIDFILE")"
touch "$KILL_PIDFILE.done"
exit 1
"""


def killed_sync(clone: Path, where: str, tmp: Path) -> None:
    """Run `loopkit sync` in `clone` and SIGKILL it at `where`; wait until its git children are gone."""
    hook = Path(git(clone, "rev-parse", "--git-path", "hooks").strip())
    hook = hook if hook.is_absolute() else clone / hook
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "reference-transaction").write_text(HOOK, encoding="utf-8")
    (hook / "reference-transaction").chmod(0o755)
    pidfile = tmp / f"kill-{where}.pid"
    env = {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": "builder", "KILL_WHERE": where,
           "KILL_PIDFILE": str(pidfile)}  # fmt: skip
    proc = subprocess.Popen(
        [str(LOOPKIT), "sync"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    pidfile.write_text(str(proc.pid), encoding="utf-8")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "the hook did not fire"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # git's children finish giving up the move
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    assert Path(f"{pidfile}.done").exists()
    (hook / "reference-transaction").unlink()


def worktrees(clone: Path) -> list[str]:
    out = git(clone, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def test_a_sync_killed_mid_rebase_leaves_nothing_the_next_command_keeps(tmp_path: Path) -> None:
    _, clones = make_clones(tmp_path)
    b, o = clones["builder"], clones["orchestrator"]
    ok(lk(b, "journal", "add", "--phase", "px", "--title", "t", "--body", "x", role="builder", sync=False))
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    head = git(b, "rev-parse", "HEAD")
    killed_sync(b, "worktree", tmp_path)
    left = [Path(p) for p in worktrees(b)[1:]]
    assert left and all(p.exists() for p in left), "the kill left no worktree: it came too late"
    assert git(b, "rev-parse", "HEAD") == head
    listed = lk(b, "status", "--json", role="builder", sync=False)  # any command that opens the workspace
    assert listed.code == 0, listed.err
    json.loads(listed.out)
    assert worktrees(b) == [str(b)], "the next command kept the killed sync's worktree"
    assert not any(p.exists() for p in left) and not any(p.parent.exists() for p in left)
    assert git(b, "rev-parse", "HEAD") == head and not git(b, "status", "--porcelain")
    doc = json.loads(ok(lk(b, "sync", "--json", role="builder", sync=False)).out)
    assert (doc["integrated"], doc["pushed"]) == ("rebase", 1), doc
    assert worktrees(b) == [str(b)]


def test_a_sync_killed_before_it_moves_head_is_finished_by_the_next_command(tmp_path: Path) -> None:
    _, clones = make_clones(tmp_path)
    b, o = clones["builder"], clones["orchestrator"]
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    head = git(b, "rev-parse", "HEAD")
    (b / "notes.txt").write_text("a person's untracked work\n", encoding="utf-8")
    killed_sync(b, "main", tmp_path)  # a fast-forward: index and work tree moved, HEAD not yet
    assert git(b, "rev-parse", "HEAD") == head
    assert git(b, "diff", "--cached", "--name-only").strip(), "nothing staged: the kill came too early"
    done = lk(b, "status", "--json", role="builder", sync=False)  # not a sync: any command
    assert done.code == 0, done.err
    assert git(b, "rev-parse", "HEAD") == git(b, "rev-parse", "origin/main") != head
    assert git(b, "status", "--porcelain") == "?? notes.txt\n"
    assert (b / "notes.txt").read_text("utf-8") == "a person's untracked work\n"
