"""In-place journal appends survive SIGKILL at any point (txn._append_in_place, txn._undo_append).

200 times: fork, run `journal add` in the child (the same service call the CLI makes), kill it at
a random moment of its run (its process group, git's children with it); then the next command's recovery runs, and the journal must parse,
hold no torn entry, keep every committed entry, and leave no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import git, make_repo

from loopkit import txn
from loopkit.markdown.journal import parse_journal
from loopkit.services.context import Context
from loopkit.services.journals import journal_add

pytestmark = pytest.mark.slow  # SIGKILL crash runs (issue 21: the slow tier)

KILLS = 200
PHASE = "p"


def _ctx(ws: Path) -> Context:
    environ = {**os.environ, "LOOPKIT_ROLE": "builder"}
    return Context(cwd=ws, environ=environ)


def _add(ws: Path, n: int) -> None:
    journal_add(_ctx(ws), phase=PHASE, title=f"entry {n}", body=f"body of entry {n}\n\n" + "words " * 40)


def _child(ws: Path, n: int) -> int:
    pid = os.fork()
    if pid == 0:  # the child: one journal add, then out without running the parent's clean-ups
        os.setpgid(0, 0)  # killed with its git processes, as a terminal or an agent's timeout kills
        code = 0
        try:
            _add(ws, n)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    with contextlib.suppress(OSError):  # in both processes: no kill may land before it holds
        os.setpgid(pid, pid)
    return pid


def _titles(text: str) -> list[str]:
    journal = parse_journal(text)
    for entry in journal.entries:
        if entry.title.startswith("entry "):
            n = entry.title.split()[1]
            assert f"body of entry {n}\n\n" + "words " * 40 in text, f"entry {n} is torn"
    return [e.title for e in journal.entries]


def test_sigkill_during_in_place_appends(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, workspace="docs")
    ws = repo.ws
    (ws / "phases").mkdir(exist_ok=True)
    (ws / "phases" / f"{PHASE}.toml").write_text(
        'title = "p"\n\n[[milestones]]\nid = "M1"\ntitle = "m"\n', encoding="utf-8"
    )
    _add(ws, 0)
    journal = next(ws.glob("JOURNAL*.md"))
    with open(journal, "a", encoding="utf-8") as handle:  # past the 64 kB anchor: the O(1) path
        handle.writelines(
            f"\nnotes by hand, paragraph {i}: " + "lorem ipsum " * 30 + "\n" for i in range(250)
        )
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "notes")

    started = time.perf_counter()
    _, status = os.waitpid(_child(ws, 1), 0)  # how long one add takes, as the killed ones run (a
    took = time.perf_counter() - started  # child, under the suite's load): kills land across it
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    rng = random.Random(14)
    rel = journal.relative_to(repo.root).as_posix()
    committed_titles = _titles(git(repo.root, "show", f"HEAD:{rel}"))
    done = 0
    for n in range(2, KILLS + 2):
        pid = _child(ws, n)
        time.sleep(rng.uniform(0, took * 1.3))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the group: a git left running could move HEAD later
        _, status = os.waitpid(pid, 0)
        done += os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        ctx = _ctx(ws)
        with ctx.workspace.lock():  # (opening it has already finished or undone it)
            txn.recover(ctx.workspace, ctx.warn)
        text = journal.read_text("utf-8")
        titles = _titles(text)
        assert len(titles) == len(set(titles)), "an entry appears twice"
        head_titles = _titles(git(repo.root, "show", f"HEAD:{rel}"))
        assert committed_titles == head_titles[: len(committed_titles)], "a committed entry was lost"
        assert titles == head_titles, "the journal and its last commit disagree after recovery"
        committed_titles = head_titles
        assert not list(ws.glob(".*.tmp")), "a temporary file was left"
        assert not list((repo.root / ".git").glob("loopkit-index-*")), "a temporary index was left"
    assert not git(repo.root, "status", "--porcelain", "--untracked-files=no").strip()
    # the kills did land both before and after the commit
    assert 0 < done < KILLS, done
    git(repo.root, "fsck", "--full", "--strict")
