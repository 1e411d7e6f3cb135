"""`loopkit next`: one move per role, computed from what `status` and `gate` say, on every phase
state; and agents that run only what `next` tells them drive the demo's phase to DONE."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LOOPKIT, Repo, make_repo

PHASE = "px"
SPEC = """\
phase = "px"
title = "Next moves"

[[milestones]]
id = "M1"
title = "The fix is in"

  [[milestones.probes]]
  id = "P1"
  title = "the app says fixed"
  run = 'grep -q fixed "$(git rev-parse --show-toplevel)/src/app.py"'
  observe = "exit"

[[milestones]]
id = "M2"
title = "It answers"

  [[milestones.probes]]
  id = "P2"
  title = "echo answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]
"""


def lk_json(repo: Repo, *args: str, role: str | None = None, code: int = 0) -> Any:
    result = repo.lk(*args, "--json", role=role)
    assert result.code == code, (args, result.code, result.err, result.out)
    return result.json


def next_of(repo: Repo, role: str, *, phase: str | None = PHASE) -> list[dict[str, Any]]:
    args = ("next", "--phase", phase) if phase else ("next",)
    doc = lk_json(repo, *args, role=role)
    assert list(doc)[:2] == ["schema_version", "role"] and doc["role"] == role
    return list(doc["actions"])


def moves(actions: list[dict[str, Any]]) -> list[tuple[str | None, str, str | None]]:
    return [(a["milestone"], a["action"], a["command"]) for a in actions]


def state(repo: Repo) -> str:
    phases = lk_json(repo, "status", "--phase", PHASE)["phases"]
    return str(phases[0]["state"])


@pytest.fixture
def px(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path)
    repo.write("phases/px.toml", SPEC)
    repo.git("add", "phases/px.toml")
    repo.git("commit", "-q", "-m", "spec")
    return repo


def test_next_on_every_state_of_status(px: Repo) -> None:
    repo = px
    # planned: only the orchestrator has a move
    assert state(repo) == "planned"
    assert moves(next_of(repo, "orchestrator")) == [(None, "open", f"loopkit phase new {PHASE}")]
    assert [a["action"] for a in next_of(repo, "builder")] == ["wait"]
    assert [a["action"] for a in next_of(repo, "adversary")] == ["wait"]
    assert lk_json(repo, "phase", "new", PHASE, role="orchestrator")["commit"]

    # in-progress: the builder probes each milestone
    assert state(repo) == "in-progress"
    builder = next_of(repo, "builder")
    assert moves(builder) == [
        ("M1", "probe", f"loopkit probe run --phase {PHASE} --milestone M1"),
        ("M2", "probe", f"loopkit probe run --phase {PHASE} --milestone M2"),
    ]
    assert builder[0]["why"] == "P1: no evidence yet"
    assert builder[0]["tool"] == {"name": "probe_run", "arguments": {"phase": PHASE, "milestone": "M1"}}
    assert [a["action"] for a in next_of(repo, "orchestrator")] == ["wait"]
    assert "builder" in next_of(repo, "orchestrator")[0]["why"]

    # a probe that fails its expectation: still `probe`, saying why; passing evidence: `claim`
    repo.lk("probe", "run", "--phase", PHASE, role="builder")
    builder = next_of(repo, "builder")
    assert builder[0]["action"] == "probe" and "P1: latest record FAIL" in builder[0]["why"]
    assert moves(builder)[1] == ("M2", "claim", f"loopkit claim --phase {PHASE} --milestone M2")
    repo.commit_code("src/app.py", "print('fixed')\n", "fix")
    assert lk_json(repo, "probe", "run", "--phase", PHASE, "--milestone", "M1", role="builder")
    assert moves(next_of(repo, "builder"))[0] == (
        "M1",
        "claim",
        f"loopkit claim --phase {PHASE} --milestone M1",
    )
    lk_json(repo, "claim", "--phase", PHASE, "--milestone", "M1", role="builder")

    # awaiting-review: the adversary reads the claim's message first, then reviews
    assert state(repo) == "awaiting-review"
    adversary = next_of(repo, "adversary")
    assert [a["action"] for a in adversary] == ["consume", "review"]
    pending = lk_json(repo, "inbox", "list", "--to", "adversary")["messages"]
    assert adversary[0]["command"] == f"loopkit inbox consume --to adversary {pending[0]['id']}"
    assert adversary[1]["command"] == f"loopkit verdict --phase {PHASE} --milestone M1 PASS"
    builder = next_of(repo, "builder")
    assert moves(builder) == [
        ("M1", "wait", None),
        ("M2", "probe", f"loopkit probe run --phase {PHASE} --milestone M2"),  # the fix made it stale
    ]
    assert builder[1]["why"] == "P2: stale (code changed since)"
    lk_json(repo, *shlex.split(adversary[0]["command"])[1:], role="adversary")
    lk_json(
        repo,
        "verdict",
        "FAIL",
        "--phase",
        PHASE,
        "--milestone",
        "M1",
        "--note",
        "it is not fixed enough",
        role="adversary",
    )

    # changes-requested: the builder reads the verdict, then fixes (no command: that is its work)
    assert state(repo) == "changes-requested"
    builder = next_of(repo, "builder")
    assert [a["action"] for a in builder] == ["consume", "fix", "probe"]
    fix = builder[1]
    assert fix["milestone"] == "M1" and fix["command"] is None and "it is not fixed enough" in fix["why"]
    assert [a["action"] for a in next_of(repo, "adversary")] == ["wait"]
    repo.commit_code("src/app.py", "print('fixed, really')\n", "fix again")
    builder = next_of(repo, "builder")
    assert [(a["milestone"], a["action"]) for a in builder] == [
        (None, "consume"),
        ("M1", "probe"),
        ("M2", "probe"),
    ]
    assert "stale" in builder[1]["why"]
    lk_json(repo, *shlex.split(builder[0]["command"])[1:], role="builder")
    lk_json(repo, "probe", "run", "--phase", PHASE, role="builder")
    for mid in ("M1", "M2"):
        lk_json(repo, "claim", "--phase", PHASE, "--milestone", mid, role="builder")
        lk_json(repo, "verdict", "PASS", "--phase", PHASE, "--milestone", mid, role="adversary")

    # ready once the builder's inbox is read: consume first, then done
    builder = next_of(repo, "builder")
    assert [a["action"] for a in builder] == ["consume", "done"]
    assert builder[1]["command"] == f"loopkit done --phase {PHASE}"
    lk_json(repo, *shlex.split(builder[0]["command"])[1:], role="builder")
    assert state(repo) == "ready"
    assert moves(next_of(repo, "builder")) == [(None, "done", f"loopkit done --phase {PHASE}")]
    assert lk_json(repo, "gate", "--phase", PHASE)["ok"] is True
    lk_json(repo, "done", "--phase", PHASE, role="builder")

    # done: nothing left for anyone (after the adversary reads its claim messages)
    assert state(repo) == "done"
    assert moves(next_of(repo, "builder")) == [(None, "nothing", None)]
    assert moves(next_of(repo, "orchestrator", phase=None)) == [(None, "nothing", None)]
    assert [a["action"] for a in next_of(repo, "adversary", phase=None)] == ["consume"]


def test_next_needs_a_role_and_an_existing_phase(px: Repo) -> None:
    no_role = px.lk("next", "--json")
    assert no_role.code == 2 and no_role.json["ok"] is False
    assert px.lk("next", "--phase", "nope", "--json", role="builder").code == 4
    assert px.lk("next", "--phase", "../x", role="builder").code == 4


# -- agents that only run what `next` says -----------------------------------------------------
@pytest.fixture
def demo_repo(tmp_path: Path) -> Iterator[Repo]:
    """The demo's phase (its spec, probe tool and HTTP server), with the code already right."""
    from loopkit.render import data_dir, render
    from loopkit.services.demo import _closed_port, _server

    repo = make_repo(tmp_path)
    with _server(repo.root / "app") as port:
        spec = (data_dir("phases") / "demo.toml").read_text("utf-8")
        spec = (
            spec.replace("@PYTHON@", shlex.quote(sys.executable))
            .replace("@PORT@", str(port))
            .replace("@CLOSED@", str(_closed_port()))
        )
        files = {
            "app/health.txt": "ok\n",
            "app/version.json": json.dumps({"version": "1.0.0"}) + "\n",
            "tools/http_code.py": render("demo/http_code.py.j2"),
            "plans/demo.md": render("demo/plan.md.j2"),
            "phases/demo.toml": spec,
        }
        for rel, text in files.items():
            repo.write(rel, text)
        repo.git("add", *files)
        repo.git("commit", "-q", "-m", "the demo service and its phase spec")
        yield repo


Worker = Callable[[Repo, dict[str, Any]], bool]


def play(
    repo: Repo,
    *,
    adversary_finds: Callable[[dict[str, Any]], str | None] | None = None,
    builder_fixes: Worker | None = None,
    rounds: int = 12,
) -> list[str]:
    """Each role in turn runs what `next` says (the first action that has a command) until it
    has none left, then hands over. Returns the log of what was run."""
    assert LOOPKIT is not None
    log: list[str] = []
    for _ in range(rounds):
        for role in ("orchestrator", "builder", "adversary"):
            for _step in range(20):
                actions = next_of(repo, role, phase=None)
                runnable = [a for a in actions if a["command"]]
                if not runnable:
                    fixes = [a for a in actions if a["action"] == "fix"]
                    if (
                        fixes
                        and role == "builder"
                        and builder_fixes is not None
                        and builder_fixes(repo, fixes[0])
                    ):
                        log.append(f"{role}: (fixed: {fixes[0]['why']})")
                        continue
                    break
                action = runnable[0]
                argv = shlex.split(action["command"])
                assert argv[0] == "loopkit"
                if action["action"] == "review" and adversary_finds is not None:
                    fault = adversary_finds(action)
                    if fault:  # SPEC: an adversary that finds a fault records FAIL instead
                        argv = [*argv[:-1], "FAIL", "--note", fault]
                result = repo.lk(*argv[1:], role=role)
                assert result.code == 0, (role, argv, result.code, result.err)
                log.append(f"{role}: {shlex.join(argv)}")
        if state_of(repo, "demo") == "done":
            return log
    raise AssertionError("the agents did not reach DONE:\n" + "\n".join(log))


def state_of(repo: Repo, phase: str) -> str:
    return str(lk_json(repo, "status", "--phase", phase)["phases"][0]["state"])


@pytest.mark.slow
def test_agents_running_only_next_drive_the_demo_phase_to_done(demo_repo: Repo) -> None:
    log = play(demo_repo)
    kinds = [line.split(": ", 1)[1].split(" --")[0] for line in log]
    assert kinds[0] == "loopkit phase new demo"
    assert "loopkit claim" in kinds and "loopkit verdict" in kinds and kinds[-1] == "loopkit done"
    assert demo_repo.lk("gate", "--phase", "demo").code == 3  # already DONE
    assert "## DONE" in demo_repo.git("log", "-1", "--format=%s")
    check = demo_repo.lk("check", "--json")
    assert check.code == 0, check.out


@pytest.mark.slow
def test_agents_with_a_fail_and_a_fix_still_reach_done(demo_repo: Repo) -> None:
    """The adversary finds a fault in the first claim of M1; the builder's only own work is the
    fix `next` asks for (a commit); everything else is what `next` says."""
    faults = ["version is not a release"]

    def adversary_finds(action: dict[str, Any]) -> str | None:
        return faults.pop() if action["milestone"] == "M1" and faults else None

    def builder_fixes(repo: Repo, action: dict[str, Any]) -> bool:
        assert action["milestone"] == "M1" and "version is not a release" in action["why"]
        repo.commit_code("app/version.json", json.dumps({"version": "1.0.1"}) + "\n", "fix: release 1.0.1")
        return True

    log = play(demo_repo, adversary_finds=adversary_finds, builder_fixes=builder_fixes)
    assert any("FAIL" in line for line in log) and any("(fixed:" in line for line in log)
    claims = [line for line in log if "loopkit claim --phase demo --milestone M1" in line]
    assert len(claims) == 2  # the re-claim after the fix
    assert state_of(demo_repo, "demo") == "done"
