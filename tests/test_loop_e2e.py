"""End to end: the installed `loopkit` command, driven in subprocesses by all three roles, in real git
repositories, exactly as a script or an agent would, and judged only by what SPEC promises
(commands, flags, exit codes, --json keys, file names, commit subjects and trailers).

Every call goes through `lk()`, which also checks, for every call in this file, what SPEC promises
of every call: no traceback, `schema_version` first in every --json document, a refusal (exit 2 or
3) writes nothing, and every commit loopkit makes touches only the workspace (docs/) and is authored
and committed by the role's identity, even with GIT_AUTHOR_*/GIT_COMMITTER_* set to someone else.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, Repo, Result, run_loopkit

PHASE = "px"
TITLE = "Proxy health gate"
HHMM = NOW[11:16]  # LOOPKIT_NOW is fixed by run_loopkit: 13:44

SPEC_TOML = """\
phase = "{phase}"
title = "{title}"

[[milestones]]
id = "M1"
title = "Health probe answers 200"

  [[milestones.probes]]
  id = "P1"
  title = "the health probe answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]

  [[milestones.probes]]
  id = "P1-neg"
  title = "gate has teeth: a dead proxy is not healthy"
  run = "printf 000"
  observe = "stdout"
  expect_not = ["200"]

[[milestones]]
id = "M2"
title = "The app is in the tree"

  [[milestones.probes]]
  id = "P2"
  title = "src/app.py exists"
  run = 'test -f "$(git rev-parse --show-toplevel)/src/app.py"'
  observe = "exit"
"""

ROLES = ("builder", "adversary", "orchestrator")
# Someone else's identity in the environment of every loopkit call: loopkit must ignore it.
HOSTILE_ENV = {
    "GIT_AUTHOR_NAME": "Mallory",
    "GIT_AUTHOR_EMAIL": "mallory@evil.invalid",
    "GIT_COMMITTER_NAME": "Mallet",
    "GIT_COMMITTER_EMAIL": "mallet@evil.invalid",
}
PHASE_STATES = {"planned", "in-progress", "awaiting-review", "changes-requested", "ready", "done"}
MILESTONE_STATES = {"open", "claimed", "passed", "failed"}


# -- helpers --------------------------------------------------------------------------------------
@dataclass
class Step:
    """One loopkit call: its result, its parsed --json document, the commits it made."""

    result: Result
    data: Any = None
    commits: list[str] = field(default_factory=list)

    @property
    def err(self) -> str:
        return self.result.err

    @property
    def commit(self) -> str:
        assert len(self.commits) == 1, self.commits
        return self.commits[0]


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def worktree(repo: Repo) -> str:
    """Everything git can see that is not committed: staged, modified and untracked."""
    return repo.git("status", "--porcelain=v1", "--untracked-files=all")


def identity(repo: Repo, sha: str) -> str:
    return repo.git("show", "-s", "--format=%an %ae %cn %ce", sha).strip()


def role_identity(role: str) -> str:
    """The defaults `loopkit init` writes (SPEC section 2)."""
    return f"{role} {role}@loopkit.invalid {role} {role}@loopkit.invalid"


def touched(repo: Repo, sha: str) -> list[str]:
    return [p for p in repo.git("show", "--name-only", "--format=", sha).splitlines() if p]


def subject(repo: Repo, sha: str = "HEAD") -> str:
    return repo.git("show", "-s", "--format=%s", sha).strip()


def trailers(repo: Repo, sha: str = "HEAD") -> dict[str, list[str]]:
    """The trailers as scripts read them: `git interpret-trailers --parse`."""
    proc = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        cwd=repo.root,
        input=repo.git("show", "-s", "--format=%B", sha),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(":")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def expect_trailers(repo: Repo, sha: str, **expected: str) -> dict[str, list[str]]:
    """Each `Key=value` is the one `Loopkit-Key` trailer; no other kind of trailer is there (a note
    holding `fix: x` or `BREAKING CHANGE: y` must not turn into one, a `---` must not hide them)."""
    found = trailers(repo, sha)
    assert all(key.startswith("Loopkit-") for key in found), found
    for key, value in expected.items():
        assert found.get(f"Loopkit-{key}") == [value], (key, found)
    return found


def named(step: Step, *probe_ids: str) -> None:
    """Each probe is named by exactly one unmet reason."""
    messages = [u["message"] for u in step.data["unmet"]]
    for probe in probe_ids:
        pattern = re.compile(rf"(?<![\w-]){re.escape(probe)}(?![\w-])")
        assert sum(bool(pattern.search(m)) for m in messages) == 1, (probe, messages)


def new_commits(repo: Repo, since: str) -> list[str]:
    return repo.git("rev-list", "--reverse", f"{since}..HEAD").split()


def lk(
    repo: Repo,
    *args: str,
    role: str | None = None,
    code: int = 0,
    env: dict[str, str] | None = None,
) -> Step:
    """Run the installed loopkit as `role` (LOOPKIT_ROLE), with a hostile git identity in the
    environment, and check what SPEC promises of every call."""
    before_head = head(repo)
    before_tree = worktree(repo) if code in (2, 3) else None
    result = repo.lk(*args, role=role, env={**HOSTILE_ENV, **(env or {})})
    shown = f"loopkit {' '.join(args)} (role {role}) -> {result.code}\n{result.out}\n{result.err}"
    assert result.code == code, shown
    assert "Traceback" not in result.out, shown
    data = None
    if "--json" in args and result.out.strip():
        data = json.loads(result.out)
        assert isinstance(data, dict), shown
        assert next(iter(data)) == "schema_version" and data["schema_version"] == 1, shown
    commits = new_commits(repo, before_head)
    if before_tree is not None:  # refused: nothing written, nothing committed
        assert commits == [], shown
        assert worktree(repo) == before_tree, shown
    for sha in commits:
        assert role is not None, f"{shown}\ncommitted without a role"
        assert identity(repo, sha) == role_identity(role), f"{shown}\n{sha}"
        files = touched(repo, sha)
        assert files and all(p.startswith("docs/") for p in files), f"{shown}\n{sha}: {files}"
    return Step(result, data, commits)


def lk_many(repo: Repo, *calls: tuple[tuple[str, ...], str | None, int]) -> list[Step]:
    """Calls that write nothing (reads and refusals) run side by side, to keep the file fast."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(lk, repo, *args, role=role, code=code) for args, role, code in calls]
        return [f.result() for f in futures]


def write_spec(repo: Repo, phase: str = PHASE) -> None:
    """A person writes the phase spec and commits the workspace (docs/ only) with plain git."""
    repo.write(f"docs/phases/{phase}.toml", SPEC_TOML.format(phase=phase, title=TITLE))
    repo.git("add", "docs")
    repo.git("commit", "-q", "-m", f"docs: plan phase {phase}")


STATUS = (("status", "--json"), None, 0)


def status(repo: Repo, step: Step | None = None) -> dict[str, Any]:
    """The phase in `status --json`, its shape checked against SPEC section 4."""
    doc = (step or lk(repo, *STATUS[0])).data
    assert doc["workspace"] == "docs"
    [phase] = [p for p in doc["phases"] if p["phase"] == PHASE]
    assert isinstance(phase, dict)
    for key in ("phase", "title", "state", "done", "milestones", "inbox", "last_activity", "problems"):
        assert key in phase, key
    assert phase["title"] == TITLE
    assert phase["state"] in PHASE_STATES
    assert isinstance(phase["done"], bool)
    assert set(phase["inbox"]) == set(ROLES)
    assert all(isinstance(n, int) for n in phase["inbox"].values())
    for problem in phase["problems"]:
        assert {"code", "message"} <= set(problem)
    assert [m["id"] for m in phase["milestones"]] == ["M1", "M2"]
    for m in phase["milestones"]:
        assert {"id", "title", "state", "claim", "verdict", "evidence"} <= set(m)
        assert m["state"] in MILESTONE_STATES
        if m["claim"] is not None:
            assert {"at", "by", "commit"} <= set(m["claim"])
        if m["verdict"] is not None:
            assert {"at", "by", "result", "claim_commit", "note"} <= set(m["verdict"])
        assert {"required", "passing", "missing", "stale"} <= set(m["evidence"])
    return phase


def milestone(phase: dict[str, Any], mid: str) -> dict[str, Any]:
    return next(m for m in phase["milestones"] if m["id"] == mid)


def codes(step: Step) -> list[str]:
    return [u["code"] for u in step.data["unmet"]]


def unmet_for(step: Step, mid: str) -> list[dict[str, Any]]:
    return [u for u in step.data["unmet"] if u.get("milestone") == mid]


def claim(repo: Repo, mid: str, *extra: str, code: int = 0) -> Step:
    return lk(
        repo, "claim", "--phase", PHASE, "--milestone", mid, "--json", *extra, role="builder", code=code
    )


def verdict(repo: Repo, result: str, mid: str, *extra: str, role: str = "adversary", code: int = 0) -> Step:
    return lk(
        repo, "verdict", result, "--phase", PHASE, "--milestone", mid, "--json", *extra, role=role, code=code
    )


GATE = ("gate", "--phase", PHASE, "--json")
DONE = ("done", "--phase", PHASE, "--json")


def gate(repo: Repo, code: int, step: Step | None = None) -> Step:
    step = step or lk(repo, *GATE, role="builder", code=code)
    assert step.data["ok"] is (code == 0)
    if code == 0:
        assert step.data["unmet"] == []
    return step


def probes(repo: Repo, *extra: str, code: int = 0) -> Step:
    return lk(repo, "probe", "run", "--phase", PHASE, "--json", *extra, role="builder", code=code)


def consume_builder(repo: Repo) -> Step:
    return lk(repo, "inbox", "consume", "--to", "builder", "--all", "--json", role="builder")


def pass_both(repo: Repo) -> None:
    """Probes, claims of M1 and M2, PASS of each, the builder reads its inbox: the gate holds."""
    probes(repo)
    for mid in ("M1", "M2"):
        claim(repo, mid)
    for mid in ("M1", "M2"):
        verdict(repo, "PASS", mid)
    consume_builder(repo)


Calls = list[tuple[tuple[str, ...], dict[str, str]]]


def parallel(calls: Calls, cwd: Path) -> list[Result]:
    """Raw calls (no role handling of ours) side by side; used for calls that must write nothing."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(run_loopkit, *args, cwd=cwd, env=env) for args, env in calls]
        return [f.result() for f in futures]


@pytest.fixture
def px(docs_repo: Repo) -> Repo:
    """The standard phase: docs/ workspace, spec committed, opened by the orchestrator."""
    write_spec(docs_repo)
    lk(docs_repo, "phase", "new", PHASE, role="orchestrator")
    return docs_repo


# -- the whole phase ----------------------------------------------------------------------------
@pytest.mark.slow
def test_whole_phase_played_by_three_roles(docs_repo: Repo) -> None:
    repo = docs_repo
    write_spec(repo)
    base = head(repo)

    # planned: a spec, no STATUS yet
    st = status(repo)
    assert (st["state"], st["done"]) == ("planned", False)
    assert [m["state"] for m in st["milestones"]] == ["open", "open"]
    assert all(m["claim"] is None and m["verdict"] is None for m in st["milestones"])
    assert milestone(st, "M1")["evidence"]["required"] == ["P1", "P1-neg"]
    assert st["inbox"] == {"builder": 0, "adversary": 0, "orchestrator": 0}

    # orchestrator opens the phase from its spec
    step = lk(repo, "phase", "new", PHASE, "--json", role="orchestrator")
    assert subject(repo, step.commit) == f"status({PHASE}): open phase — {TITLE}"
    expect_trailers(repo, step.commit, Phase=PHASE, Action="open", Role="orchestrator")
    assert sorted(touched(repo, step.commit)) == [f"docs/JOURNAL-{PHASE}.md", f"docs/STATUS-{PHASE}.md"]
    assert (repo.ws / f"STATUS-{PHASE}.md").is_file() and (repo.ws / f"JOURNAL-{PHASE}.md").is_file()
    st = status(repo)
    assert st["state"] == "in-progress" and st["problems"] == []

    # builder runs the spec's probes: one evidence commit for the run (issue 12), naming each record
    step = probes(repo)
    got = [(r["milestone"], r["probe"], r["result"]) for r in step.data["records"]]
    assert got == [("M1", "P1", "PASS"), ("M1", "P1-neg", "PASS"), ("M2", "P2", "PASS")]
    neg = step.data["records"][1]
    assert (neg["observed"], neg["expect_not"], neg["source"]) == ("000", ["200"], "probe")
    assert [subject(repo, c) for c in step.commits] == [f"evidence({PHASE}): 3 probes, 3 PASS"]
    found = expect_trailers(repo, step.commit, Phase=PHASE, Action="evidence", Role="builder")
    assert found["Loopkit-Milestone"] == ["M1", "M1", "M2"]
    assert found["Loopkit-Probe"] == ["P1", "P1-neg", "P2"]
    assert touched(repo, step.commit) == [f"docs/JOURNAL-{PHASE}.md"]

    # builder claims M1, with a note that looks like a conventional-commit header
    covered = head(repo)
    c1 = claim(repo, "M1", "--note", "fix: x")
    assert c1.data["head"] == covered
    assert subject(repo, c1.commit) == f"status({PHASE}): claim M1 — fix: x"
    expect_trailers(
        repo, c1.commit, Phase=PHASE, Action="claim", Role="builder", Milestone="M1", Claim=covered
    )
    # the claim, its STATUS record and its message to the adversary are one commit
    assert sorted(touched(repo, c1.commit)) == ["docs/ADVERSARY-INBOX.md", f"docs/STATUS-{PHASE}.md"]
    st = status(repo)
    m1 = milestone(st, "M1")
    assert st["state"] == "awaiting-review" and m1["state"] == "claimed"
    assert m1["claim"]["by"] == "builder" and m1["claim"]["commit"] == c1.commit and m1["claim"]["at"] == NOW
    assert m1["verdict"] is None and milestone(st, "M2")["claim"] is None
    assert st["inbox"]["adversary"] == 1

    # adversary: FAIL, with a note that looks like a BREAKING CHANGE footer
    v1 = verdict(repo, "FAIL", "M1", "--note", "BREAKING CHANGE: y")
    assert subject(repo, v1.commit) == f"review({PHASE}): M1 FAIL @{HHMM}Z — BREAKING CHANGE: y"
    expect_trailers(
        repo,
        v1.commit,
        Phase=PHASE,
        Action="verdict",
        Role="adversary",
        Milestone="M1",
        Verdict="FAIL",
        Claim=c1.commit,
    )
    assert sorted(touched(repo, v1.commit)) == ["docs/BUILDER-INBOX.md", f"docs/STATUS-{PHASE}.md"]
    st = status(repo)
    m1 = milestone(st, "M1")
    assert st["state"] == "changes-requested" and m1["state"] == "failed"
    assert m1["verdict"]["result"] == "FAIL" and m1["verdict"]["by"] == "adversary"
    assert m1["verdict"]["claim_commit"] == c1.commit and m1["verdict"]["note"] == "BREAKING CHANGE: y"
    assert st["inbox"]["builder"] == 1

    # builder fixes the code: every earlier probe record is now stale
    fix = repo.commit_code("src/app.py", "print('fixed')\n", "fix: app")
    ev = lk(repo, "evidence", "--phase", PHASE, "--json", role="builder").data
    assert ev["phase"] == PHASE
    stale = {m["id"]: (m["stale"], m["passing"]) for m in ev["milestones"]}
    assert stale == {"M1": (["P1", "P1-neg"], []), "M2": (["P2"], [])}
    assert {"id", "required", "passing", "failing", "missing", "stale", "latest"} <= set(ev["milestones"][0])
    assert ev["milestones"][0]["latest"]["P1"]["head"] != fix

    rerun = probes(repo)
    c2 = claim(repo, "M1")
    assert c2.data["head"] == rerun.commits[-1]  # the claim covers HEAD: the fix and its evidence
    assert subject(repo, c2.commit) == f"status({PHASE}): claim M1"
    expect_trailers(repo, c2.commit, Action="claim", Milestone="M1", Claim=c2.data["head"])
    v2 = verdict(repo, "PASS", "M1", "--note", "---")
    assert v2.data["claim_commit"] == c2.commit
    assert subject(repo, v2.commit) == f"review({PHASE}): M1 PASS @{HHMM}Z — ---"
    expect_trailers(  # the `---` of the note, in the body, must not cut the trailers off
        repo,
        v2.commit,
        Phase=PHASE,
        Action="verdict",
        Role="adversary",
        Milestone="M1",
        Verdict="PASS",
        Claim=c2.commit,
    )

    c3 = claim(repo, "M2")
    v3 = verdict(repo, "PASS", "M2")
    assert subject(repo, v3.commit) == f"review({PHASE}): M2 PASS @{HHMM}Z"
    expect_trailers(repo, v3.commit, Action="verdict", Milestone="M2", Verdict="PASS", Claim=c3.commit)

    # orchestrator sends the builder a message: the gate waits for it
    message = ("--subject", "fix: x", "--body", "fix: x\n---\nBREAKING CHANGE: y", "--json")
    sent = lk(repo, "inbox", "send", "--to", "builder", "--phase", PHASE, *message, role="orchestrator")
    msg_id = sent.data["id"]
    assert msg_id and (repo.ws / "BUILDER-INBOX.md").is_file()
    assert subject(repo, sent.commit) == f"inbox({PHASE}): orchestrator → builder: fix: x"
    expect_trailers(repo, sent.commit, Phase=PHASE, Action="inbox", Role="orchestrator")

    g = gate(repo, 3)
    assert len(g.data["unmet"]) == 1, g.data  # every other condition holds
    [pending] = g.data["unmet"]
    assert "inbox" in pending["code"] and msg_id in pending["message"]

    # builder reads its inbox: the three verdicts and the orchestrator's message
    eaten = consume_builder(repo)
    ids = [m["id"] for m in eaten.data["consumed"]]
    assert len(ids) == 4 and msg_id in ids
    assert subject(repo, eaten.commit) == f"inbox({PHASE}): builder consumed 4"
    expect_trailers(repo, eaten.commit, Phase=PHASE, Action="inbox", Role="builder")
    # emptied, the inbox keeps its heading and nothing else (SPEC section 1: never deleted)
    emptied = (repo.ws / "BUILDER-INBOX.md").read_text("utf-8")
    assert emptied.startswith("# ") and emptied.count("\n") == 1, emptied
    assert len(list((repo.ws / "inbox-archive").iterdir())) == 4
    journal = (repo.ws / f"JOURNAL-{PHASE}.md").read_text(encoding="utf-8")
    assert "BUILDER-INBOX consumed: " in journal and all(i in journal for i in ids)
    assert f"docs/JOURNAL-{PHASE}.md" in touched(repo, eaten.commit)

    status_step, gate_step = lk_many(repo, (*STATUS,), (GATE, "builder", 0))
    st = status(repo, status_step)
    assert st["state"] == "ready" and not st["done"]
    assert [m["state"] for m in st["milestones"]] == ["passed", "passed"]
    assert st["inbox"] == {"builder": 0, "adversary": 3, "orchestrator": 0}
    gate(repo, 0, gate_step)

    # builder writes DONE
    done = lk(repo, "done", "--phase", PHASE, "--summary", "BREAKING CHANGE: y", "--json", role="builder")
    assert subject(repo, done.commit) == f"status({PHASE}): ## DONE — M1+M2 PASS, BREAKING CHANGE: y"
    expect_trailers(repo, done.commit, Phase=PHASE, Action="done", Role="builder")
    done_body = repo.git("show", "-s", "--format=%b", done.commit)
    assert "M1" in done_body and "M2" in done_body and "PASS" in done_body
    assert "## DONE" in (repo.ws / f"STATUS-{PHASE}.md").read_text(encoding="utf-8")
    status_step, again = lk_many(repo, (*STATUS,), ((*DONE, "--summary", "twice"), "builder", 3))
    st = status(repo, status_step)
    assert (st["state"], st["done"], st["last_activity"]) == ("done", True, NOW)
    assert again.data["ok"] is False and again.data["unmet"]

    # the whole history, in order: the person's two commits and loopkit's, nothing else
    assert [subject(repo, c) for c in new_commits(repo, base)] == [
        f"status({PHASE}): open phase — {TITLE}",
        f"evidence({PHASE}): 3 probes, 3 PASS",
        f"status({PHASE}): claim M1 — fix: x",
        f"review({PHASE}): M1 FAIL @{HHMM}Z — BREAKING CHANGE: y",
        "fix: app",
        f"evidence({PHASE}): 3 probes, 3 PASS",
        f"status({PHASE}): claim M1",
        f"review({PHASE}): M1 PASS @{HHMM}Z — ---",
        f"status({PHASE}): claim M2",
        f"review({PHASE}): M2 PASS @{HHMM}Z",
        f"inbox({PHASE}): orchestrator → builder: fix: x",
        f"inbox({PHASE}): builder consumed 4",
        f"status({PHASE}): ## DONE — M1+M2 PASS, BREAKING CHANGE: y",
    ]
    assert worktree(repo) == ""


# -- refusals -----------------------------------------------------------------------------------
def test_claim_needs_passing_fresh_evidence(px: Repo) -> None:
    repo = px
    # missing: nothing was run yet
    step = claim(repo, "M1", code=3)
    assert step.data["ok"] is False
    assert {u["milestone"] for u in step.data["unmet"]} == {"M1"}
    assert len(step.data["unmet"]) == 2 and set(codes(step)) == {"missing-evidence"}
    named(step, "P1", "P1-neg")

    # failing: the latest record of P2 is a FAIL
    probes(repo)
    # a spec-defined probe id is recorded only with the spec's own command (SPEC section 3)
    record_p2 = ("probe", "exec", "--phase", PHASE, "--milestone", "M2", "--id", "P2", "--json")
    forged = lk(repo, *record_p2, "--", "true", role="builder", code=3)
    assert "probe run" in forged.data["error"] and forged.commits == []
    (repo.root / "src" / "app.py").unlink()
    bad = probes(repo, "--milestone", "M2", code=1)
    [record] = bad.data["records"]
    assert record["result"] == "FAIL" and subject(repo, record["commit"]) == f"evidence({PHASE}): M2 P2 FAIL"
    repo.git("checkout", "--", "src/app.py")
    step = claim(repo, "M2", code=3)
    assert codes(step) == ["failing-evidence"] and unmet_for(step, "M2")
    named(step, "P2")

    # stale: code committed outside docs/ after the probes ran
    repo.commit_code("src/app.py", "print('changed')\n", "feat: change")
    step = claim(repo, "M1", code=3)
    assert set(codes(step)) == {"stale-evidence"} and len(step.data["unmet"]) == 2
    named(step, "P1", "P1-neg")

    # run again, then a docs-only commit: the evidence stays fresh
    probes(repo, "--milestone", "M1")
    docs_only = repo.commit_code("docs/notes.md", "# notes\n", "docs: notes")
    ok = claim(repo, "M1")
    assert ok.data["head"] == docs_only
    assert trailers(repo, ok.commit)["Loopkit-Claim"] == [docs_only]


def test_role_rules(px: Repo) -> None:
    repo = px
    write_spec(repo, "py")
    probes(repo)
    claim(repo, "M1")
    on = ("--phase", PHASE, "--json", "--milestone")
    steps = lk_many(
        repo,
        # only the orchestrator opens phases
        (("phase", "new", "py", "--json"), "builder", 3),
        (("phase", "new", "py", "--json"), "adversary", 3),
        # only the builder claims; only the adversary judges, and PASS needs an open claim
        (("claim", *on, "M2"), "adversary", 3),
        (("verdict", "PASS", *on, "M1"), "builder", 3),
        (("verdict", "PASS", *on, "M2"), "adversary", 3),
        # only the builder writes DONE, and not before the verdicts
        (DONE, "adversary", 3),
        (DONE, "builder", 3),
    )
    assert not (repo.ws / "STATUS-py.md").exists()
    for step in steps:  # each says why, on stderr and in --json
        assert step.err.strip().startswith("loopkit: "), step.err
        assert step.data["ok"] is False and step.data["unmet"], step.data
        assert all(u["code"] and u["message"] for u in step.data["unmet"]), step.data
    assert [u["milestone"] for u in steps[4].data["unmet"]] == ["M2"]
    done = steps[6]
    assert done.data["ok"] is False and unmet_for(done, "M1") and unmet_for(done, "M2")

    verdict(repo, "PASS", "M1")
    # that claim has its verdict now: another PASS is refused; FAIL is always allowed
    verdict(repo, "PASS", "M1", code=3)
    fail = verdict(repo, "FAIL", "M2", "--note", "not claimed, not good")
    assert subject(repo, fail.commit) == f"review({PHASE}): M2 FAIL @{HHMM}Z — not claimed, not good"

    # a writing command without a role: exit 2, and it says so
    tree, top = worktree(repo), head(repo)
    calls: Calls = [
        (("phase", "new", "py"), {}),
        (("claim", "--phase", PHASE, "--milestone", "M1"), {}),
        (("verdict", "PASS", "--phase", PHASE, "--milestone", "M1"), {}),
        (("done", "--phase", PHASE), {}),
        (("inbox", "send", "--to", "builder", "--phase", PHASE, "--subject", "s", "--body", "b"), {}),
        (("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b"), {}),
    ]
    for (args, _), result in zip(calls, parallel(calls, repo.ws), strict=True):
        assert result.code == 2, (args, result)
        assert "role" in result.err.lower(), (args, result.err)
    assert (worktree(repo), head(repo)) == (tree, top)


def test_unknown_role_is_a_usage_error_for_every_command(px: Repo) -> None:
    repo = px
    journal = str(repo.ws / f"JOURNAL-{PHASE}.md")
    commands: list[tuple[str, ...]] = [
        ("status",),
        ("status", "--phase", PHASE, "--json"),
        ("check",),
        ("gate", "--phase", PHASE),
        ("evidence", "--phase", PHASE),
        ("phase", "list"),
        ("phase", "new", "py"),
        ("journal", "show", "--phase", PHASE),
        ("journal", "parse", journal),
        ("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b"),
        ("probe", "run", "--phase", PHASE),
        ("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "P1", "--", "true"),
        ("claim", "--phase", PHASE, "--milestone", "M1"),
        ("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1"),
        ("done", "--phase", PHASE),
        ("inbox", "send", "--to", "builder", "--subject", "s", "--body", "b"),
        ("inbox", "list"),
        ("inbox", "consume", "--to", "builder", "--all"),
    ]
    tree, top = worktree(repo), head(repo)
    calls: Calls = []
    for i, args in enumerate(commands):  # half through --role, half through LOOPKIT_ROLE
        if i % 2:
            cut = args.index("--") if "--" in args else len(args)
            calls.append(((*args[:cut], "--role", "wizard", *args[cut:]), {}))
        else:
            calls.append((args, {"LOOPKIT_ROLE": "wizard"}))
    for (args, _), result in zip(calls, parallel(calls, repo.ws), strict=True):
        assert result.code == 2, (args, result)
        assert "wizard" in result.err and "Traceback" not in result.out, (args, result.err)
        if "--json" in args and result.out.strip():
            assert next(iter(json.loads(result.out))) == "schema_version", result.out
    assert (worktree(repo), head(repo)) == (tree, top)


def test_unknown_role_is_a_usage_error_for_init_and_demo(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    calls: Calls = [
        (("init",), {"LOOPKIT_ROLE": "wizard"}),
        (("demo", "--dir", str(tmp_path / "demo")), {"LOOPKIT_ROLE": "wizard"}),
    ]
    for (args, _), result in zip(calls, parallel(calls, folder), strict=True):
        assert result.code == 2, (args, result)
        assert "wizard" in result.err, (args, result.err)
    assert list(folder.iterdir()) == []
    assert not (tmp_path / "demo").exists() or list((tmp_path / "demo").iterdir()) == []


# -- provenance: a PASS only `loopkit verdict` as the adversary can write -------------------------
def _forge_pass_line(repo: Repo, m2_claim: str) -> tuple[Path, int]:
    """The builder copies the genuine M1 PASS line under M2's claim, naming that claim (not committed)."""
    path = repo.ws / f"STATUS-{PHASE}.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    genuine = next(line for line in lines if line.startswith("- **PASS** M1 @"))
    m1_claim = genuine.split(" · claim ")[1].split()[0]
    forged = genuine.replace("M1", "M2", 1).replace(m1_claim, m2_claim)
    assert forged.startswith("- **PASS** M2 @") and f"by adversary · claim {m2_claim}" in forged
    at = next(i for i, line in enumerate(lines) if line.startswith("- **CLAIM** M2 @")) + 1
    lines.insert(at, forged)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, at + 1  # 1-based number of the forged line


def _assert_forged_refused(repo: Repo, line: int) -> None:
    """gate and done refuse (the forged PASS counts as none: M2 has no verdict, and the gate says
    why), check reports forged-verdict for M2, status shows no M2 verdict."""
    gate_step, done_step, check_step, status_step = lk_many(
        repo, (GATE, "builder", 3), (DONE, "builder", 3), (("check", "--json"), None, 1), (*STATUS,)
    )
    gate(repo, 3, gate_step)
    unmet = [u for u in gate_step.data["unmet"] if u["milestone"] == "M2"]
    assert [u["code"] for u in unmet] == ["no-verdict"] and "forged-verdict" in unmet[0]["message"], unmet
    assert not unmet_for(gate_step, "M1"), gate_step.data
    assert "no-verdict" in codes(done_step)

    assert check_step.data["ok"] is False
    problems = [p for p in check_step.data["problems"] if p["code"] == "forged-verdict"]
    assert len(problems) == 1, check_step.data
    [problem] = problems
    assert (problem["phase"], problem["milestone"], problem["line"]) == (PHASE, "M2", line)
    assert problem["file"].endswith(f"STATUS-{PHASE}.md") and problem["message"]

    st = status(repo, status_step)
    assert milestone(st, "M2")["verdict"] is None and milestone(st, "M2")["state"] == "claimed"
    assert milestone(st, "M1")["state"] == "passed"
    assert st["state"] != "ready"
    assert "forged-verdict" in [p["code"] for p in st["problems"]]
    assert "## DONE" not in (repo.ws / f"STATUS-{PHASE}.md").read_text(encoding="utf-8")


def test_forged_pass_lines_count_as_no_verdict(px: Repo) -> None:
    repo = px
    probes(repo)
    claim(repo, "M1")
    c2 = claim(repo, "M2")
    verdict(repo, "PASS", "M1")
    consume_builder(repo)
    as_builder = ("-c", "user.name=builder", "-c", "user.email=builder@loopkit.invalid")

    # typed, not committed: no verdict at all
    path, line = _forge_pass_line(repo, c2.commit)
    gate_step, status_step, check_step = lk_many(
        repo, (GATE, "builder", 3), (*STATUS,), (("check", "--json"), None, 1)
    )
    assert unmet_for(gate(repo, 3, gate_step), "M2") and not unmet_for(gate_step, "M1")
    m2 = milestone(status(repo, status_step), "M2")
    assert m2["verdict"] is None and m2["state"] == "claimed"
    problems = [(p["code"], p["milestone"], p["line"]) for p in check_step.data["problems"]]
    assert ("forged-verdict", "M2", line) in problems, problems

    # (a) committed by the builder with plain git
    repo.git("add", str(path))
    repo.git(*as_builder, "commit", "-q", "-m", f"review({PHASE}): M2 PASS @{HHMM}Z")
    assert identity(repo, "HEAD") == role_identity("builder") and worktree(repo) == ""
    _assert_forged_refused(repo, line)

    # A commit authored as the adversary with loopkit's trailers is, without signatures, a genuine
    # verdict: author and trailers decide, the committer does not (SPEC section 3). Only signing
    # (SPEC section 10, tests/test_signing.py) stops a builder that forges the author.


# -- the code passed is the code declared done; loopkit commits only what it wrote ---------------
def test_done_covers_exactly_the_committed_code_that_was_passed(px: Repo) -> None:
    repo = px
    base = head(repo)
    # the user's own files: untracked outside and inside the workspace, and one staged with git add
    repo.write("notes.txt", "untracked, outside the workspace\n")
    repo.write("docs/scratch.md", "untracked, inside the workspace\n")
    repo.write("docs/draft.md", "staged by the user\n")
    repo.git("add", "docs/draft.md")

    pass_both(repo)

    # a hand edit of tracked code, not committed: not the code that was passed
    repo.write("src/app.py", "print('edited by hand')\n")
    step, done = lk_many(repo, (GATE, "builder", 3), (DONE, "builder", 3))
    dirty = [u for u in gate(repo, 3, step).data["unmet"] if u["code"] == "dirty"]
    assert dirty and "src/app.py" in dirty[0]["message"], step.data
    assert "dirty" in codes(done)
    # loopkit still commits, and only the file it wrote
    message = ("--subject", "please look", "--body", "see src/app.py")
    sent = lk(repo, "inbox", "send", "--to", "adversary", "--phase", PHASE, *message, role="orchestrator")
    assert touched(repo, sent.commit) == ["docs/ADVERSARY-INBOX.md"]
    # and a probe run now is evidence about uncommitted code
    record = probes(repo, "--milestone", "M2").data["records"][0]
    assert record["dirty"] is True

    # nothing of the user's was swept into any loopkit commit, and all of it is as it was
    swept = {p for sha in new_commits(repo, base) for p in touched(repo, sha)}
    assert not swept & {"notes.txt", "docs/scratch.md", "docs/draft.md", "src/app.py"}, swept
    assert repo.git("diff", "--cached", "--name-only").split() == ["docs/draft.md"]
    assert repo.git("diff", "--name-only").split() == ["src/app.py"]
    untracked = repo.git("ls-files", "--others", "--exclude-standard").split()
    assert sorted(untracked) == ["docs/scratch.md", "notes.txt"]

    # the user undoes the edit and commits the draft (docs only): the gate holds again
    repo.git("checkout", "--", "src/app.py")
    repo.git("commit", "-q", "-m", "docs: draft")
    gate(repo, 0)

    # a code change committed after the last PASS: the verdict is stale until it is reverted
    repo.commit_code("src/app.py", "print('sneaky')\n", "feat: sneaky change after the PASS")
    step, check, done = lk_many(
        repo, (GATE, "builder", 3), (("check", "--phase", PHASE, "--json"), None, 1), (DONE, "builder", 3)
    )
    assert "stale-verdict" in codes(gate(repo, 3, step)), step.data
    assert "stale-verdict" in [p["code"] for p in check.data["problems"]]
    assert "stale-verdict" in codes(done)
    repo.git("revert", "--no-edit", "HEAD")
    gate(repo, 0)

    done = lk(repo, *DONE, role="builder")
    assert subject(repo, done.commit) == f"status({PHASE}): ## DONE — M1+M2 PASS"
    assert sorted(repo.git("ls-files", "--others", "--exclude-standard").split()) == untracked
