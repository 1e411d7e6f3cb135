"""Replayed verdicts (SPEC section 11, `[rules] replay = true`): a PASS needs the adversary's own
loopkit-observed run of every required probe at the claim's code; a probe whose builder PASS and
adversary FAIL share a code is `flaky` in evidence, status and check; the DONE gate counts replayed
PASSes only; `next` tells the adversary the `probe run` to do first. Real git, the installed CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, Result, make_repo

PHASE = "px"
# P1 fails when FLAKY=1 is in its environment: the same code, two runs that disagree
SPEC = """\
phase = "px"
title = "Replayed"

[[milestones]]
id = "M1"
title = "The app says hello"
paths = ["src/**"]

  [[milestones.probes]]
  id = "P1"
  title = "the app says hello"
  run = 'test "$FLAKY" != 1 && grep -q hello "$(git rev-parse --show-toplevel)/src/app.py"'
  observe = "exit"

  [[milestones.probes]]
  id = "P2"
  title = "echo answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]
"""
ADVERSARY_GIT = {"GIT_AUTHOR_NAME": "adversary", "GIT_AUTHOR_EMAIL": "adversary@loopkit.invalid"}
BUILDER_GIT = {"GIT_AUTHOR_NAME": "builder", "GIT_AUTHOR_EMAIL": "builder@loopkit.invalid"}


def ok(result: Result, code: int = 0) -> Result:
    assert result.code == code, (result.code, result.err, result.out)
    return result


def lk_json(repo: Repo, *args: str, role: str | None = None, code: int = 0, **env: str) -> Any:
    return ok(repo.lk(*args, "--json", role=role, env=env or None), code).json


def make(tmp_path: Path, *, replay: bool) -> Repo:
    repo = make_repo(tmp_path)
    config = repo.ws / "loopkit.toml"
    text = config.read_text("utf-8")
    assert "replay = false" in text  # `init` writes the key with its default
    config.write_text(text.replace("replay = false", f"replay = {'true' if replay else 'false'}"), "utf-8")
    repo.write("phases/px.toml", SPEC)
    repo.git("add", "-A")  # what `init` wrote, and the spec
    repo.git("commit", "-q", "-m", "workspace")  # the first loopkit.toml: the trusted one
    ok(repo.lk("phase", "new", PHASE, role="orchestrator"))
    return repo


@pytest.fixture
def px(tmp_path: Path) -> Repo:
    return make(tmp_path, replay=True)


def claimed(repo: Repo) -> None:
    ok(repo.lk("probe", "run", "--phase", PHASE, role="builder"))
    ok(repo.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder"))


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def refused_pass(repo: Repo) -> list[dict[str, Any]]:
    """verdict PASS refused with exit 3 and `unreplayed`, and nothing written."""
    before = head(repo)
    doc = lk_json(repo, "verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary", code=3)
    assert doc["ok"] is False and doc["exit"] == 3
    assert {u["code"] for u in doc["unmet"]} == {"unreplayed"}, doc
    assert head(repo) == before
    assert repo.git("status", "--porcelain") == ""
    return list(doc["unmet"])


def probes_named(unmet: list[dict[str, Any]]) -> set[str]:
    return {u["message"].split()[1].rstrip(":") for u in unmet}


def test_a_pass_is_refused_without_the_adversarys_own_run_and_recorded_after_it(px: Repo) -> None:
    claimed(px)
    # the builder's records are the builder's: the adversary has replayed nothing yet
    assert probes_named(refused_pass(px)) == {"P1", "P2"}

    # a record copied by hand into REVIEW and committed by the adversary's identity is not loopkit's
    journal = (px.ws / "JOURNAL-px.md").read_text("utf-8")
    px.write("REVIEW-px.md", journal)
    px.git("add", "REVIEW-px.md")
    px.git("commit", "-q", "-m", "my runs", env=ADVERSARY_GIT)
    assert probes_named(refused_pass(px)) == {"P1", "P2"}
    check = lk_json(px, "check", "--phase", PHASE, code=1)
    assert "forged-evidence" in {p["code"] for p in check["problems"]}

    # probe exec with the spec's own command records P2 in the adversary's journal
    ok(px.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "P2", "--expect", "200",
             "--", "echo", "200", role="adversary"))  # fmt: skip
    assert probes_named(refused_pass(px)) == {"P1"}
    # probe run records the rest, in REVIEW, as the adversary's own evidence commit
    ran = lk_json(px, "probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary")
    assert [r["result"] for r in ran["records"]] == ["PASS", "PASS"]
    assert px.git("log", "-1", "--format=%ae %(trailers:key=Loopkit-Role,valueonly)").split() == [
        "adversary@loopkit.invalid",
        "adversary",
    ]
    assert px.git("log", "-1", "--name-only", "--format=").split() == ["REVIEW-px.md"]

    done = lk_json(px, "verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary")
    assert done["result"] == "PASS" and done["commit"]
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    assert lk_json(px, "gate", "--phase", PHASE)["ok"] is True
    ok(px.lk("done", "--phase", PHASE, role="builder"))


def test_a_run_at_another_code_of_the_scope_is_no_replay(px: Repo) -> None:
    claimed(px)
    # the builder moves on: the code of M1's scope is no longer the claim's
    px.commit_code("src/app.py", "print('hello again')\n", "more work")
    ok(px.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary"))
    unmet = refused_pass(px)
    assert probes_named(unmet) == {"P1", "P2"}
    assert all("not at the claim's code" in u["message"] for u in unmet), unmet
    # a claim of the code the adversary ran at is one the adversary's runs replay
    claimed(px)
    ok(px.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary"))


def problem_codes(doc: dict[str, Any]) -> list[str]:
    return [p["code"] for p in doc["problems"]]


def test_a_builder_pass_and_an_adversary_fail_at_one_code_are_flaky(px: Repo) -> None:
    claimed(px)
    ran = lk_json(
        px, "probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary", code=1, FLAKY="1"
    )
    assert [r["result"] for r in ran["records"]] == ["FAIL", "PASS"]

    evidence = lk_json(px, "evidence", "--phase", PHASE)
    assert evidence["milestones"][0]["flaky"] == ["P1"]
    status = lk_json(px, "status", "--phase", PHASE)["phases"][0]
    assert "flaky" in problem_codes(status)
    check = lk_json(px, "check", "--phase", PHASE, code=1)
    [flaky] = [p for p in check["problems"] if p["code"] == "flaky"]
    assert flaky["milestone"] == "M1" and flaky["file"] == "REVIEW-px.md" and flaky["line"]
    assert "P1" in flaky["message"]
    assert probes_named(refused_pass(px)) == {"P1"}

    # the adversary's next run agrees: no longer flaky, and the PASS is replayed
    ok(px.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary"))
    assert lk_json(px, "evidence", "--phase", PHASE)["milestones"][0]["flaky"] == []
    assert "flaky" not in problem_codes(lk_json(px, "check", "--phase", PHASE))
    ok(px.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary"))
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    assert lk_json(px, "gate", "--phase", PHASE)["ok"] is True
    assert lk_json(px, "status", "--phase", PHASE)["phases"][0]["state"] == "ready"

    # a later FAIL of the adversary at the same code: the PASS no longer counts for the gate
    ok(px.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary", env={"FLAKY": "1"}), 1)
    gate = lk_json(px, "gate", "--phase", PHASE, code=3)
    assert [(u["code"], u["milestone"]) for u in gate["unmet"]] == [("unreplayed", "M1")], gate
    status = lk_json(px, "status", "--phase", PHASE)["phases"][0]
    assert status["state"] != "ready" and "flaky" in problem_codes(status)
    before = head(px)
    refused = lk_json(px, "done", "--phase", PHASE, role="builder", code=3)
    assert "unreplayed" in {u["code"] for u in refused["unmet"]}
    assert head(px) == before


def test_next_tells_the_adversary_to_run_the_probes_first(px: Repo) -> None:
    claimed(px)
    moves = [
        (a["milestone"], a["action"], a["command"])
        for a in lk_json(px, "next", "--phase", PHASE, role="adversary")["actions"]
        if a["action"] != "consume"
    ]
    assert moves == [
        ("M1", "probe", f"loopkit probe run --phase {PHASE} --milestone M1"),
        ("M1", "review", f"loopkit verdict --phase {PHASE} --milestone M1 PASS"),
    ]
    ok(px.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary"))
    actions = lk_json(px, "next", "--phase", PHASE, role="adversary")["actions"]
    assert [a["action"] for a in actions if a["action"] != "consume"] == ["review"]


def test_replay_off_changes_nothing(tmp_path: Path) -> None:
    repo = make(tmp_path, replay=False)
    claimed(repo)
    ok(
        repo.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="adversary", env={"FLAKY": "1"}),
        1,
    )
    assert lk_json(repo, "evidence", "--phase", PHASE)["milestones"][0]["flaky"] == []
    assert "flaky" not in problem_codes(lk_json(repo, "check", "--phase", PHASE))
    moves = [a["action"] for a in lk_json(repo, "next", "--phase", PHASE, role="adversary")["actions"]]
    assert "probe" not in moves
    ok(repo.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary"))
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    assert lk_json(repo, "gate", "--phase", PHASE)["ok"] is True


def test_replay_is_the_orchestrators_rule_and_read_strictly(px: Repo, tmp_path: Path) -> None:
    # the builder turns replay off in a commit of its own: it does not count
    config = px.ws / "loopkit.toml"
    config.write_text(config.read_text("utf-8").replace("replay = true", "replay = false"), "utf-8")
    px.git("add", "loopkit.toml")
    px.git("commit", "-q", "-m", "no replay", env=BUILDER_GIT)
    check = lk_json(px, "check", "--phase", PHASE, code=1)
    [untrusted] = [p for p in check["problems"] if p["code"] == "untrusted-config"]
    assert "rules.replay" in untrusted["message"]
    claimed(px)
    refused_pass(px)

    (tmp_path / "other").mkdir()
    other = make_repo(tmp_path / "other")
    config = other.ws / "loopkit.toml"
    config.write_text(config.read_text("utf-8").replace("replay = false", 'replay = "yes"'), "utf-8")
    bad = other.lk("status", "--json")
    assert bad.code == 4 and "rules: replay must be true or false" in bad.json["error"], bad
