"""`loopkit sync` and `--sync`: a bare remote, three clones, the installed loopkit (SPEC section 7)."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, git, run_loopkit
from remotes import git_daemon

from loopkit.markdown.inbox import parse_inbox
from loopkit.markdown.journal import parse_journal
from loopkit.markdown.status import parse_status

ROLES = ("builder", "adversary", "orchestrator")
SPEC = """phase = "px"
title = "Across machines"

[[milestones]]
id = "M1"
title = "The app says hello"

  [[milestones.probes]]
  id = "P1"
  title = "hello is printed"
  run = "python3 src/app.py"
  observe = "stdout"
  expect = ["hello"]
"""


def lk(clone: Path, *args: str, role: str, sync: bool = True, env: dict[str, str] | None = None) -> Result:
    return run_loopkit(*args, *(["--sync"] if sync else []), cwd=clone, role=role, env=env)


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def make_clones(base: Path, url: str | None = None) -> tuple[Path, dict[str, Path]]:
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = base / "seed"
    git(base, "clone", "-q", str(bare), str(seed))
    (seed / "src").mkdir()
    (seed / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
    ok(run_loopkit("init", cwd=seed))
    (seed / "phases" / "px.toml").write_text(SPEC, encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "project and loopkit workspace")
    git(seed, "push", "-q", "origin", "main")
    clones = {}
    for role in ROLES:
        clones[role] = base / role
        git(base, "clone", "-q", url or str(bare), str(clones[role]))
        ok(lk(clones[role], "sync", role=role, sync=False))
    return bare, clones


@pytest.fixture
def three(tmp_path: Path) -> dict[str, Path]:
    return make_clones(tmp_path)[1]


def snapshot(clone: Path) -> tuple[str, str, str, dict[str, bytes]]:
    files = {
        p.relative_to(clone).as_posix(): p.read_bytes()
        for p in sorted(clone.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(clone).parts
    }
    return (
        git(clone, "rev-parse", "HEAD"),
        git(clone, "ls-files", "-s"),
        git(clone, "status", "--porcelain", "--untracked-files=all"),
        files,
    )


def records(clone: Path) -> Counter[str]:
    """Every record in a clone, counted: journal entries, STATUS lines, pending and archived messages."""
    found: Counter[str] = Counter()
    for path in clone.glob("*.md"):
        text = path.read_text("utf-8")
        if path.name.startswith(("JOURNAL-", "REVIEW-")):
            lines = text.split("\n")
            found.update(f"{path.name}:{lines[e.line - 1]}" for e in parse_journal(text).entries if e.at)
        elif path.name.startswith("STATUS-"):
            doc = parse_status(text)
            found.update(f"status:{r.text}" for s in doc.sections for r in s.records)
        elif path.name.endswith("-INBOX.md"):
            found.update(
                f"pending:{p.message.id}"
                for p in parse_inbox(text, role="x")
                if p.message.sender != "unknown"
            )
    for path in (clone / "inbox-archive").glob("*.md") if (clone / "inbox-archive").is_dir() else ():
        found.update(
            f"archived:{p.message.id}"
            for p in parse_inbox(path.read_text("utf-8"), role="x")
            if p.message.sender != "unknown"
        )
    return found


def views(clone: Path) -> tuple[Any, Any, Any]:
    status = json.loads(lk(clone, "status", "--json", role="orchestrator", sync=False).out)
    check = json.loads(lk(clone, "check", "--json", role="orchestrator", sync=False).out)
    gate = json.loads(lk(clone, "gate", "--phase", "px", "--json", role="orchestrator", sync=False).out)
    return status, check, gate


# -- the command itself -----------------------------------------------------------------------------
def test_sync_with_nothing_to_do_changes_nothing(three: dict[str, Path]) -> None:
    clone = three["builder"]
    before = snapshot(clone)
    doc = json.loads(ok(lk(clone, "sync", "--json", role="builder", sync=False)).out)
    assert doc == {"schema_version": 1, "remote": "origin", "branch": "main", "integrated": "none",
                   "fetched": 0, "pushed": 0, "head": before[0].strip(), "retries": 0}  # fmt: skip
    assert snapshot(clone) == before


def test_no_remote_or_an_unreachable_one_is_exit_5_in_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "alone"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    ok(run_loopkit("init", cwd=repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    before = snapshot(repo)
    result = run_loopkit("sync", cwd=repo, role="builder")
    assert (
        result.code == 5 and len(result.err.strip().splitlines()) == 1 and "no remote 'origin'" in result.err
    )
    git(repo, "remote", "add", "origin", "https://alice:s3cr3tpass@127.0.0.1:9/nowhere.git")
    result = run_loopkit("sync", "--json", cwd=repo, role="builder")
    assert result.code == 5 and len(result.err.strip().splitlines()) == 1, result.err
    assert "s3cr3tpass" not in result.err + result.out and "alice" not in result.err + result.out
    assert json.loads(result.out)["exit"] == 5
    after = snapshot(repo)
    assert after[:3] == before[:3] and after[3] == before[3]


def test_a_rebase_keeps_loopkit_commits_authored_and_committed_as_their_role(three: dict[str, Path]) -> None:
    b, o = three["builder"], three["orchestrator"]
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    ok(lk(b, "sync", role="builder", sync=False))
    ok(
        lk(
            b,
            "journal",
            "add",
            "--phase",
            "px",
            "--title",
            "local",
            "--body",
            "x",
            role="builder",
            sync=False,
        )
    )
    ok(lk(o, "inbox", "send", "--to", "builder", "--subject", "hi", "--body", "x", role="orchestrator"))
    doc = json.loads(ok(lk(b, "sync", "--json", role="builder", sync=False)).out)
    assert (doc["integrated"], doc["fetched"], doc["pushed"]) == ("rebase", 1, 1)
    who = git(b, "log", "-1", "--format=%an <%ae> %cn <%ce>").strip()
    assert who == "builder <builder@loopkit.invalid> builder <builder@loopkit.invalid>"
    assert git(b, "rev-parse", "HEAD") == git(b, "rev-parse", "origin/main")


def test_a_rebase_gives_a_persons_commit_the_clones_own_committer(three: dict[str, Path]) -> None:
    """SPEC 7: a commit that is not loopkit's keeps its author and gets the committer `git rebase`
    in that clone would give it (here the clone's own user.name/email), never a loopkit identity."""
    b, o = three["builder"], three["orchestrator"]
    git(b, "config", "user.name", "Clone Owner")
    git(b, "config", "user.email", "owner@example.invalid")
    (b / "src" / "lib.py").write_text("x = 1\n", encoding="utf-8")
    git(b, "add", "src/lib.py")
    git(b, "commit", "-q", "--author", "Ada <ada@example.invalid>", "-m", "a person's own commit")
    ok(lk(b, "journal", "add", "--phase", "px", "--title", "t", "--body", "x", role="builder", sync=False))
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    doc = json.loads(ok(lk(b, "sync", "--json", role="builder", sync=False)).out)
    assert (doc["integrated"], doc["pushed"]) == ("rebase", 2), doc
    log = git(b, "log", "-2", "--format=%s|%an <%ae>|%cn <%ce>").strip().splitlines()
    journal, person = (line.split("|") for line in log)
    assert person == [
        "a person's own commit",
        "Ada <ada@example.invalid>",
        "Clone Owner <owner@example.invalid>",
    ]
    assert journal[1:] == ["builder <builder@loopkit.invalid>"] * 2, journal
    assert "loopkit@loopkit.invalid" not in git(b, "log", "--format=%an %ae %cn %ce")


def test_a_clone_git_knows_no_committer_for_rebases_only_loopkit_commits(
    three: dict[str, Path], tmp_path: Path
) -> None:
    """Without a committer identity git's rebase would refuse: loopkit's own commits are still
    rebased (each committed as its role), a person's commit is not (exit 5, nothing changed)."""
    b, o = three["builder"], three["orchestrator"]
    home = tmp_path / "nobody"
    home.mkdir()
    (home / ".gitconfig").write_text("[commit]\n\tgpgsign = false\n", encoding="utf-8")
    nobody = {"HOME": str(home), "EMAIL": ""}
    ok(lk(b, "journal", "add", "--phase", "px", "--title", "t", "--body", "x", role="builder", sync=False))
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    doc = json.loads(ok(lk(b, "sync", "--json", role="builder", sync=False, env=nobody)).out)
    assert doc["integrated"] == "rebase", doc
    assert "loopkit@loopkit.invalid" not in git(b, "log", "--format=%an %ae %cn %ce")
    (b / "src" / "lib.py").write_text("x = 1\n", encoding="utf-8")
    git(b, "add", "src/lib.py")
    git(b, "commit", "-q", "--author", "Ada <ada@example.invalid>", "-m", "a person's own commit")
    ok(lk(o, "inbox", "send", "--to", "builder", "--subject", "hi", "--body", "x", role="orchestrator"))
    before = snapshot(b)
    result = lk(b, "sync", role="builder", sync=False, env=nobody)
    assert result.code == 5 and "user.email" in result.err and len(result.err.strip().splitlines()) == 1
    assert snapshot(b) == before


@pytest.mark.parametrize("where", ["code", "hand-written STATUS line"])
def test_a_conflict_aborts_and_leaves_the_clone_byte_identical(three: dict[str, Path], where: str) -> None:
    a, b = three["builder"], three["adversary"]
    ok(lk(three["orchestrator"], "phase", "new", "px", role="orchestrator"))
    for clone in (a, b):
        ok(lk(clone, "sync", role="builder", sync=False))
    for clone, words in ((a, "this way"), (b, "that way")):
        if where == "code":
            path = clone / "src" / "app.py"
            path.write_text(f"print('hello, {words}')\n", encoding="utf-8")
        else:
            path = clone / "STATUS-px.md"
            path.write_text(
                path.read_text("utf-8").replace("**Title:** Across machines", f"**Title:** {words}"),
                encoding="utf-8",
            )
        git(clone, "commit", "-q", "-am", f"edit {words}")
    ok(lk(a, "sync", role="builder", sync=False))
    (b / "notes.txt").write_text("untracked work\n", encoding="utf-8")
    (b / "README.local").write_text("x\n", encoding="utf-8")
    before = snapshot(b)
    result = lk(b, "sync", role="adversary", sync=False)
    assert result.code == 5, result.err
    name = "src/app.py" if where == "code" else "STATUS-px.md"
    assert name in result.err and len(result.err.strip().splitlines()) == 1
    assert snapshot(b) == before


def test_sync_finishes_a_plain_pull_stopped_on_loopkit_files_only(three: dict[str, Path]) -> None:
    a, b = three["builder"], three["adversary"]
    ok(lk(three["orchestrator"], "phase", "new", "px", role="orchestrator"))
    ok(lk(a, "sync", role="builder", sync=False))
    ok(lk(b, "sync", role="adversary", sync=False))
    ok(lk(a, "inbox", "send", "--to", "orchestrator", "--subject", "from a", "--body", "x", role="builder"))
    ok(
        lk(
            b,
            "inbox",
            "send",
            "--to",
            "orchestrator",
            "--subject",
            "from b",
            "--body",
            "y",
            role="adversary",
            sync=False,
        )
    )
    # as in a clone whose driver is gone (any loopkit command would set it again): git merges as text
    git(b, "config", "--remove-section", "merge.loopkit")
    pulled = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", "origin", "main"], cwd=b, capture_output=True, text=True
    )
    assert pulled.returncode != 0 and "ORCHESTRATOR-INBOX.md" in pulled.stdout + pulled.stderr
    # a code file in conflict as well: refused, nothing changed
    result = lk(b, "sync", role="adversary", sync=False)
    assert result.code == 0, result.err
    inbox = (b / "ORCHESTRATOR-INBOX.md").read_text("utf-8")
    assert "<<<<<<<" not in inbox
    assert sorted(p.message.subject for p in parse_inbox(inbox, role="orchestrator")) == ["from a", "from b"]
    assert git(b, "rev-parse", "HEAD") == git(b, "rev-parse", "origin/main")


def test_sync_refuses_to_finish_a_pull_stopped_on_other_files(three: dict[str, Path]) -> None:
    a, b = three["builder"], three["adversary"]
    for clone, words in ((a, "A"), (b, "B")):
        (clone / "src" / "app.py").write_text(f"print('{words}')\n", encoding="utf-8")
        git(clone, "commit", "-q", "-am", words)
    git(a, "push", "-q", "origin", "main")
    pulled = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", "origin", "main"], cwd=b, capture_output=True, text=True
    )
    assert pulled.returncode != 0
    before = snapshot(b)
    result = lk(b, "sync", role="adversary", sync=False)
    assert result.code == 5 and "src/app.py" in result.err
    assert snapshot(b) == before


# -- three clones playing a phase -----------------------------------------------------------------
def play(clones: dict[str, Path]) -> None:
    b, a, o = clones["builder"], clones["adversary"], clones["orchestrator"]
    ok(lk(o, "phase", "new", "px", role="orchestrator"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        # the orchestrator sends while the builder journals
        steps = [
            pool.submit(lk, o, "inbox", "send", "--to", "builder", "--phase", "px", "--subject", "go", "--body", "M1 first", role="orchestrator"),
            pool.submit(lk, b, "journal", "add", "--phase", "px", "--title", "starting", "--body", "reading the plan", role="builder"),
            pool.submit(lk, a, "journal", "add", "--phase", "px", "--title", "watching", "--body", "nothing yet", role="adversary"),
        ]  # fmt: skip
        for step in steps:
            ok(step.result())
    ok(lk(b, "inbox", "consume", "--to", "builder", "--all", role="builder"))
    ok(lk(b, "probe", "run", "--phase", "px", role="builder"))
    ok(lk(b, "claim", "--phase", "px", "--milestone", "M1", "--note", "hello", role="builder"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        # two clones consume and send at once; the builder journals meanwhile
        steps = [
            pool.submit(lk, a, "inbox", "consume", "--to", "adversary", "--all", role="adversary"),
            pool.submit(lk, o, "inbox", "send", "--to", "adversary", "--phase", "px", "--subject", "review", "--body", "please", role="orchestrator"),
            pool.submit(lk, b, "journal", "add", "--phase", "px", "--title", "waiting", "--body", "for review", role="builder"),
        ]  # fmt: skip
        for step in steps:
            ok(step.result())
    ok(
        lk(
            a,
            "verdict",
            "PASS",
            "--phase",
            "px",
            "--milestone",
            "M1",
            "--note",
            "says hello",
            role="adversary",
        )
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = [
            pool.submit(lk, b, "inbox", "consume", "--to", "builder", "--all", role="builder"),
            pool.submit(lk, a, "inbox", "consume", "--to", "adversary", "--all", role="adversary"),
        ]
        for step in steps:
            ok(step.result())
    for clone, role in ((b, "builder"), (a, "adversary"), (o, "orchestrator"), (b, "builder")):
        ok(lk(clone, "sync", role=role, sync=False))


def assert_converged(clones: dict[str, Path]) -> None:
    counts = [records(clone) for clone in clones.values()]
    for count in counts:
        assert count == counts[0]
        doubled = [k for k, n in count.items() if n > 1]
        assert not doubled, doubled
    every = counts[0]
    assert sum(k.startswith("status:**CLAIM**") for k in every) == 1
    assert sum(k.startswith("status:**PASS**") for k in every) == 1
    for subject in ("starting", "waiting"):
        assert sum(k.startswith("JOURNAL-px.md:") and k.endswith(subject) for k in every) == 1
    assert not [k for k in every if k.startswith("pending:")], "every message was consumed"
    assert len([k for k in every if k.startswith("archived:")]) == 4  # go, claim, review, PASS
    heads = {git(clone, "rev-parse", "HEAD") for clone in clones.values()}
    assert len(heads) == 1
    seen = [views(clone) for clone in clones.values()]
    assert all(view == seen[0] for view in seen)
    status, check, gate = seen[0]
    milestone = status["phases"][0]["milestones"][0]
    # provenance survived the rebases: author and trailers decide, the verdict names its claim by id
    assert milestone["state"] == "passed", status
    assert milestone["verdict"]["claim_id"] == milestone["claim"]["id"]
    assert not [p for p in check["problems"] if p["code"].startswith("forged-")], check
    assert gate["ok"] is True, gate


def finish(clones: dict[str, Path]) -> None:
    """The builder declares DONE; every clone syncs and reads the same done phase."""
    ok(lk(clones["builder"], "done", "--phase", "px", "--summary", "across machines", role="builder"))
    for clone, role in ((clones["adversary"], "adversary"), (clones["orchestrator"], "orchestrator")):
        ok(lk(clone, "sync", role=role, sync=False))
    seen = [views(clone) for clone in clones.values()]
    assert all(view == seen[0] for view in seen)
    status, check, _ = seen[0]
    assert status["phases"][0]["state"] == "done" and check["ok"] is True, (status, check)


@pytest.mark.slow
def test_three_clones_play_a_phase_with_concurrent_steps_and_converge(three: dict[str, Path]) -> None:
    play(three)
    assert_converged(three)
    finish(three)


@pytest.mark.slow
def test_the_same_phase_over_a_git_daemon(tmp_path: Path) -> None:
    base = tmp_path / "served"
    base.mkdir()
    with git_daemon(base) as url:
        _, clones = make_clones(base, url=f"{url}/remote.git")
        for clone in clones.values():
            assert git(clone, "remote", "get-url", "origin").startswith("git://")
        play(clones)
        assert_converged(clones)
        finish(clones)


def test_sync_flag_refused_where_it_does_not_apply(tmp_path: Path) -> None:
    result = run_loopkit("journal", "parse", str(tmp_path / "x.md"), "--sync", cwd=tmp_path)
    assert result.code == 2 and "--sync" in result.err
    assert os.environ.get("LOOPKIT_ROLE") is None


# -- a clone made with plain `git clone` ------------------------------------------------------------
def test_any_command_in_a_plain_clone_sets_the_merge_driver_so_a_plain_pull_merges_inboxes(
    tmp_path: Path,
) -> None:
    """SPEC 7's set-up: the first loopkit command in a clone that lacks merge.loopkit.driver writes
    it to the clone's own config and says so once on stderr (--json stdout stays one document);
    then a plain `git pull` merges an inbox consumed here and written there by message id."""
    (tmp_path / "made").mkdir()
    bare, _ = make_clones(tmp_path / "made")
    seed = tmp_path / "made" / "seed"
    ok(run_loopkit("inbox", "send", "--to", "builder", "--subject", "first", "--body", "x",
                   cwd=seed, role="orchestrator"))  # fmt: skip
    git(seed, "push", "-q", "origin", "main")
    b, o = tmp_path / "b", tmp_path / "o"
    for clone in (b, o):
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        assert subprocess.run(["git", "config", "--local", "merge.loopkit.driver"], cwd=clone).returncode == 1
    first = lk(b, "inbox", "list", "--json", role="builder", sync=False)
    assert first.code == 0 and json.loads(first.out)["messages"], first.err
    assert first.err.count("merge.loopkit.driver") == 1, first.err
    assert "merge-driver" in git(b, "config", "--local", "merge.loopkit.driver")
    again = lk(b, "inbox", "list", "--json", role="builder", sync=False)
    assert again.code == 0 and "merge.loopkit.driver" not in again.err, again.err
    ok(lk(b, "inbox", "consume", "--to", "builder", "--all", role="builder", sync=False))
    ok(lk(o, "inbox", "send", "--to", "builder", "--subject", "second", "--body", "y", role="orchestrator",
          sync=False))  # fmt: skip
    git(o, "push", "-q", "origin", "main")
    pulled = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", "origin", "main"], cwd=b, capture_output=True, text=True
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    inbox = parse_inbox((b / "BUILDER-INBOX.md").read_text("utf-8"), role="builder")
    assert [p.message.subject for p in inbox] == ["second"], "the consumed message came back"
