"""Books that cannot be gamed, and writes that cannot half-happen (issue 7, items 1-14).

Each test is one way a builder (or bad luck) got past the books before; each drives the
installed `loopkit` in a real repository, as an agent would.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import LOOPKIT, NOW, Repo, Result

PHASE = "px"
SPEC = """\
phase = "px"
title = "Proxy gate"

[[milestones]]
id = "M1"
title = "Health answers 200"

  [[milestones.probes]]
  id = "P1"
  title = "health answers 200"
  run = "printf 200"
  observe = "stdout"
  expect = ["200"]
"""


def ok(result: Result, code: int = 0) -> Result:
    assert result.code == code, f"exit {result.code}\n{result.out}\n{result.err}"
    return result


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def opened(repo: Repo, spec: str = SPEC) -> Repo:
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(spec, "utf-8")
    ok(repo.lk("phase", "new", PHASE, role="orchestrator"))
    return repo


@pytest.fixture
def px(docs_repo: Repo) -> Repo:
    return opened(docs_repo)


def claim(repo: Repo, code: int = 0) -> Result:
    return ok(repo.lk("claim", "--phase", PHASE, "--milestone", "M1", "--json", role="builder"), code)


def problems(repo: Repo) -> list[dict[str, object]]:
    result = repo.lk("check", "--json")
    assert result.code in (0, 1), result.err
    return list(result.json["problems"])


def codes(repo: Repo) -> set[object]:
    return {p["code"] for p in problems(repo)}


def unmet(result: Result) -> set[object]:
    return {u["code"] for u in result.json["unmet"]}


# 1 -----------------------------------------------------------------------------------------------
def test_1_a_spec_probe_id_needs_the_spec_command(px: Repo) -> None:
    before = head(px)
    refused = ok(
        px.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "P1", "--json", "--", "true",
              role="builder"),
        3,
    )  # fmt: skip
    doc = refused.json
    assert doc["ok"] is False and doc["exit"] == 3
    assert f"loopkit probe run --phase {PHASE} --milestone M1 --probe P1" in doc["error"]
    assert head(px) == before
    assert unmet(claim(px, 3)) == {"missing-evidence"}
    # with the spec's own argv, observation and expectation it is recorded and counts
    ok(px.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "P1", "--expect", "200",
             "--", "printf", "200", role="builder"))  # fmt: skip
    claim(px)


# 2 -----------------------------------------------------------------------------------------------
def test_2_a_pasted_probe_record_counts_as_none(px: Repo) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    journal = (px.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")
    start = journal.index("<!-- loopkit:probe")
    block = journal[start : journal.index("```\n", journal.index("```text", start) + 7) + 4]
    # the genuine record is undone by a FAIL; then the PASS block is pasted back by hand
    (px.root / "src" / "app.py").write_text("broken\n", "utf-8")
    px.git("commit", "-qam", "code")
    spec = (px.ws / "phases" / f"{PHASE}.toml").read_text("utf-8")
    assert 'run = "printf 200"' in spec
    body = px.root / "paste.md"
    body.write_text("Copied from earlier:\n\n" + block, "utf-8")
    ok(
        px.lk(
            "journal", "add", "--phase", PHASE, "--title", "notes", "--body-file", str(body), role="builder"
        )
    )
    assert unmet(claim(px, 3)) == {"stale-evidence"}  # the pasted copy is no fresh PASS
    found = problems(px)
    assert any(p["code"] == "forged-evidence" and p["milestone"] == "M1" for p in found), found


# 3 -----------------------------------------------------------------------------------------------
def test_3_a_pass_quoted_in_a_fence_does_not_count(px: Repo) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    journal = (px.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")
    comment = next(line for line in journal.splitlines() if line.startswith("<!-- loopkit:probe"))
    # the spec now expects 201: the real record no longer matches; a quoted copy must not count
    spec_path = px.ws / "phases" / f"{PHASE}.toml"
    spec_path.write_text(SPEC.replace('run = "printf 200"', 'run = "printf 201"'), "utf-8")
    ok(px.lk("phase", "update", PHASE, role="orchestrator"))
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"), 1)
    quoted = f"An old run:\n\n~~~~\n{comment.replace('printf 200', 'printf 201')}\n~~~~\n"
    ok(px.lk("journal", "add", "--phase", PHASE, "--title", "old", "--body", quoted, role="builder"))
    evidence = ok(px.lk("evidence", "--phase", PHASE, "--json")).json
    assert evidence["milestones"][0]["failing"] == ["P1"], evidence
    assert unmet(claim(px, 3)) == {"failing-evidence"}
    shown = ok(px.lk("journal", "show", "--phase", PHASE, "--json")).json
    results = [e["result"] for entry in shown["entries"] for e in entry["evidence"] if e["source"] == "probe"]
    assert results[-1] == "FAIL"


# 4 -----------------------------------------------------------------------------------------------
def test_4_specs_and_config_are_read_strictly(docs_repo: Repo) -> None:
    repo = docs_repo
    mistyped = SPEC.replace('expect = ["200"]', 'expects = ["200"]').replace(
        'title = "Proxy gate"', 'title = "Proxy gate"\nowner = "me"'
    )
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(mistyped, "utf-8")
    refused = ok(repo.lk("phase", "new", PHASE, "--json", role="orchestrator"), 4)
    error = refused.json["error"]
    assert f'phases/{PHASE}.toml: M1 P1: unknown key "expects"' in error
    assert 'unknown key "owner"' in error  # every error at once
    assert not (repo.ws / f"STATUS-{PHASE}.md").exists()

    # one broken spec hides nothing else
    (repo.ws / "phases" / "good.toml").write_text(SPEC.replace('"px"', '"good"'), "utf-8")
    ok(repo.lk("phase", "new", "good", role="orchestrator"))
    status = ok(repo.lk("status", "--json")).json
    by_name = {p["phase"]: p for p in status["phases"]}
    assert set(by_name) == {"good", PHASE}
    assert any(p["code"] == "bad-spec" for p in by_name[PHASE]["problems"])
    assert "bad-spec" in codes(repo)
    listed = ok(repo.lk("phase", "list", "--json")).json
    assert {p["phase"] for p in listed["phases"]} == {"good", PHASE}

    config = repo.ws / "loopkit.toml"
    config.write_text(config.read_text("utf-8").replace("timeout = 30", "timeout = 30\ntimout = 3"), "utf-8")
    bad = ok(repo.lk("status", "--json"), 4)
    assert 'loopkit.toml: probe: unknown key "timout"' in bad.json["error"]


# 5 -----------------------------------------------------------------------------------------------
def test_5_the_spec_is_the_orchestrators(px: Repo) -> None:
    spec_path = px.ws / "phases" / f"{PHASE}.toml"
    assert px.git("ls-files", "--", str(spec_path)).strip()  # phase new committed it
    # the builder weakens the spec and commits it: no probes needed any more, it hopes
    spec_path.write_text(SPEC[: SPEC.index("  [[milestones.probes]]")], "utf-8")
    px.git("add", str(spec_path))
    px.git("-c", "user.email=builder@loopkit.invalid", "commit", "-qm", "simpler spec")
    assert unmet(claim(px, 3)) == {"missing-evidence"}  # the orchestrator's P1 still holds
    assert "untrusted-spec" in codes(px)
    # the orchestrator commits a change: from then on it counts
    ok(px.lk("phase", "update", PHASE, "--note", "no probes", role="orchestrator"))
    assert px.git("log", "-1", "--format=%s").strip() == f"status({PHASE}): update spec — no probes"
    assert "untrusted-spec" not in codes(px)
    claim(px)


def test_5_without_the_spec_file_the_committed_spec_still_holds(px: Repo) -> None:
    (px.ws / "phases" / f"{PHASE}.toml").unlink()  # a clone that lost it, or a builder that hid it
    assert unmet(claim(px, 3)) == {"missing-evidence"}
    assert "untrusted-spec" in codes(px)


# 6 -----------------------------------------------------------------------------------------------
def test_6_a_commit_made_while_a_probe_runs_keeps_both(px: Repo) -> None:
    env = {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": "builder"}
    argv = [str(LOOPKIT), "probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "slow",
            "--json", "--", "sleep", "3"]  # fmt: skip
    probe = subprocess.Popen(
        argv, cwd=px.ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(1)
    sent = ok(px.lk("inbox", "send", "--to", "builder", "--subject", "meanwhile", "--body", "x", "--json",
                    role="orchestrator"))  # fmt: skip
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err
    record = json.loads(out)
    subjects = px.git("log", "-2", "--format=%s").splitlines()
    assert subjects == [f"evidence({PHASE}): M1 slow PASS", "inbox: orchestrator → builder: meanwhile"]
    assert px.git("rev-parse", "HEAD~1").strip() == sent.json["commit"]
    assert record["commit"] == head(px)
    assert px.git("status", "--porcelain", "--untracked-files=no") == ""


# 7 -----------------------------------------------------------------------------------------------
def test_7_a_held_index_lock_changes_nothing(px: Repo) -> None:
    journal = px.ws / f"JOURNAL-{PHASE}.md"
    before, bytes_before = head(px), journal.read_bytes()
    lock = px.root / ".git" / "index.lock"
    lock.write_text("someone else's\n", "utf-8")
    refused = ok(px.lk("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b", "--json",
                       role="builder"), 5)  # fmt: skip
    assert "index.lock" in refused.json["error"]
    assert head(px) == before and journal.read_bytes() == bytes_before
    assert lock.read_text("utf-8") == "someone else's\n"  # not ours to remove
    lock.unlink()
    ok(px.lk("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b", role="builder"))
    assert px.git("status", "--porcelain", "--untracked-files=no") == ""  # index refreshed


# 8 -----------------------------------------------------------------------------------------------
def test_8_a_pasted_copy_does_not_make_the_genuine_pass_forged(px: Repo) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    claim(px)
    ok(px.lk("verdict", "PASS", "--phase", PHASE, "--milestone", "M1", "--note", "ok", role="adversary"))
    status = px.ws / f"STATUS-{PHASE}.md"
    text = status.read_text("utf-8")
    genuine = next(line for line in text.splitlines() if line.startswith("- **PASS**"))
    # the same line pasted later in the file and committed by the builder
    status.write_text(text + "\n" + genuine + "\n", "utf-8")
    px.git("-c", "user.email=builder@loopkit.invalid", "commit", "-qam", "copy")
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    found = problems(px)
    forged = [p for p in found if p["code"] == "forged-verdict"]
    assert len(forged) == 1 and forged[0]["line"] == len(text.splitlines()) + 2, found
    # the genuine PASS still counts; the pasted copy counts as none: it neither satisfies nor
    # blocks the gate (SPEC section 3, condition 3), check reports it
    status_doc = ok(px.lk("status", "--json")).json
    assert status_doc["phases"][0]["milestones"][0]["state"] == "passed"
    assert unmet(ok(px.lk("gate", "--phase", PHASE, "--json"))) == set()


# 9 -----------------------------------------------------------------------------------------------
def test_9_bytes_that_are_not_utf8_are_bad_input(px: Repo) -> None:
    ok(px.lk("inbox", "send", "--to", "builder", "--subject", "s", "--body", "b", role="orchestrator"))
    inbox = px.ws / "BUILDER-INBOX.md"
    inbox.write_bytes(inbox.read_bytes() + b"caf\xe9 typed by hand\n")
    before, data = head(px), inbox.read_bytes()
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"), 4)
    assert inbox.read_bytes() == data and head(px) == before
    assert not (px.ws / "inbox-archive").exists()
    latin = px.root / "latin.md"
    latin.write_bytes(b"na\xefve\n")
    refused = ok(px.lk("journal", "add", "--phase", PHASE, "--title", "t", "--body-file", str(latin),
                       "--json", role="builder"), 4)  # fmt: skip
    assert "not UTF-8" in refused.json["error"] and head(px) == before


# 12 ----------------------------------------------------------------------------------------------
def test_12_deleting_a_fail_does_not_revive_an_older_pass(px: Repo) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    claim(px)
    ok(px.lk("verdict", "PASS", "--phase", PHASE, "--milestone", "M1", role="adversary"))
    claim_again = claim  # the builder claims again; the adversary fails it
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    px.commit_code("src/app.py", "v2\n")
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    claim_again(px)
    fail = ok(px.lk("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1", "--json", role="adversary"))
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    px.git("revert", "--no-edit", fail.json["commit"])  # the FAIL is gone from STATUS
    gate = ok(px.lk("gate", "--phase", PHASE, "--json"), 3)
    assert "removed-record" in unmet(gate), gate.json
    assert "removed-record" in codes(px)


# 13 ----------------------------------------------------------------------------------------------
def test_13_a_mailmap_does_not_turn_the_builder_into_the_adversary(px: Repo) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    c = claim(px)
    ok(px.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))
    status = px.ws / f"STATUS-{PHASE}.md"
    line = f"- **PASS** M1 @2026-06-13T13:45Z by adversary · claim {c.json['commit']}\n"
    status.write_text(status.read_text("utf-8") + line, "utf-8")
    message = (
        f"review({PHASE}): M1 PASS @13:45Z\n\nLoopkit-Phase: {PHASE}\nLoopkit-Action: verdict\n"
        "Loopkit-Role: adversary\nLoopkit-Milestone: M1\nLoopkit-Verdict: PASS\n"
    )
    px.git("-c", "user.name=builder", "-c", "user.email=builder@loopkit.invalid", "commit", "-qam", message)
    (px.root / ".mailmap").write_text(
        "adversary <adversary@loopkit.invalid> builder <builder@loopkit.invalid>\n", "utf-8"
    )
    status.write_text(status.read_text("utf-8") + "\nA note typed by hand.\n", "utf-8")  # uncommitted
    gate = ok(px.lk("gate", "--phase", PHASE, "--json"), 3)
    # the forged PASS counts as none: the claim has no verdict, and the gate says why
    assert unmet(gate) == {"no-verdict"} and "forged-verdict" in gate.out
    assert "forged-verdict" in codes(px)


# 14 ----------------------------------------------------------------------------------------------
def test_14_secrets_stay_out_of_everything_written(docs_repo: Repo) -> None:
    repo = docs_repo
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    secret = "pa'ss-word-42"
    spec = SPEC.replace('title = "Health answers 200"', f'title = "Health with {token}"').replace(
        'title = "health answers 200"', f'title = "probe {token}"'
    )
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(spec, "utf-8")
    # a spec is committed as it stands: a token written in it is refused, each place named
    refused = ok(repo.lk("phase", "new", PHASE, role="orchestrator"), 4)
    assert "phases/px.toml: M1 title: holds a secret" in refused.err, refused.err
    assert "M1 P1 title: holds a secret" in refused.err and token not in refused.out + refused.err
    assert not (repo.ws / f"STATUS-{PHASE}.md").exists()
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(SPEC, "utf-8")
    ok(repo.lk("phase", "new", PHASE, "--title", f"Gate {token}", role="orchestrator"))
    status = (repo.ws / f"STATUS-{PHASE}.md").read_text("utf-8")
    assert token not in status and "[REDACTED]" in status
    env = {"SERVICE_PASSWORD": secret}
    ok(repo.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "x", "--", "echo", secret,
               role="builder", env=env))  # fmt: skip
    journal = (repo.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")
    assert "ss-word-42" not in journal and "pa'" not in journal.replace("[REDACTED]", "")
    log = repo.git("log", "--format=%B")
    assert "ss-word-42" not in log and token not in log
    refused = ok(repo.lk("phase", "new", "glpat-abcdefghijklmnopqrstuv", "--json", role="orchestrator"), 4)
    assert "glpat-abcdef" not in refused.out + refused.err
    glued = ok(repo.lk("journal", "add", "--phase", PHASE, "--title", "t",
                       "--body", "keyAKIAABCDEFGHIJKLMNOP and id-glpat-abcdefghijklmnopqrstuv", role="builder"))  # fmt: skip
    assert glued.code == 0
    journal = (repo.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")
    assert "AKIAABCDEFGHIJKLMNOP" not in journal and "glpat-abcdefghij" not in journal


# the error document --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("claim", "--phase", PHASE, "--milestone", "M1", "--json"), 3),
        (("journal", "show", "--phase", "no-such", "--json"), 4),
        (("status", "--json", "--no-such-flag"), 2),
        (("--json", "verdict", "MAYBE", "--phase", PHASE, "--milestone", "M1"), 2),
    ],
)
def test_every_failure_under_json_is_one_error_document(px: Repo, args: tuple[str, ...], code: int) -> None:
    result = px.lk(*args, role="builder")
    assert result.code == code, result.err
    doc = json.loads(result.out)
    assert list(doc)[:4] == ["schema_version", "ok", "exit", "error"]
    assert doc["ok"] is False and doc["exit"] == code and doc["error"] in result.err
    assert ("unmet" in doc) == (code == 3)


def test_a_bug_is_exit_70_and_debug_shows_the_traceback(px: Repo, tmp_path: Path) -> None:
    # a template override from the workspace that fails while rendering: loopkit's bug surface
    override = px.ws / "loopkit-templates"
    override.mkdir()
    (override / "journal-entry.md.j2").write_text("{{ 1 / 0 }}\n", "utf-8")
    result = px.lk(
        "journal", "add", "--phase", PHASE, "--title", "t", "--body", "b", "--json", role="builder"
    )
    assert result.code == 70, result.err
    assert json.loads(result.out)["exit"] == 70 and "report" in result.err
    proc = subprocess.run(
        [str(LOOPKIT), "journal", "add", "--phase", PHASE, "--title", "t", "--body", "b"],
        cwd=px.ws,
        env={**os.environ, "LOOPKIT_ROLE": "builder", "LOOPKIT_DEBUG": "1"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr


def test_a_template_override_from_the_workspace_is_used(px: Repo) -> None:
    override = px.ws / "loopkit-templates"
    override.mkdir()
    (override / "journal-entry.md.j2").write_text(
        "## {{ at }} — {{ title }}\n\nOVERRIDDEN {{ body }}\n", "utf-8"
    )
    ok(px.lk("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b", role="builder"))
    assert "OVERRIDDEN b" in (px.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")


# 11 ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e400", "Infinity", "NaN", "1" * 400])
def test_11_odd_numbers_in_a_record_break_nothing(px: Repo, value: str) -> None:
    ok(px.lk("probe", "run", "--phase", PHASE, role="builder"))
    journal = px.ws / f"JOURNAL-{PHASE}.md"
    text = journal.read_text("utf-8")
    journal.write_text(text.replace('"duration":', f'"duration":{value},"x":', 1), "utf-8")
    px.git("commit", "-qam", "odd")
    for args in (("status", "--json"), ("check", "--json"), ("evidence", "--phase", PHASE, "--json"),
                 ("journal", "show", "--phase", PHASE, "--json"),
                 ("claim", "--phase", PHASE, "--milestone", "M1", "--json"),
                 ("journal", "add", "--phase", PHASE, "--title", "t", "--body", "b", "--json")):  # fmt: skip
        result = px.lk(*args, role="builder")
        # the odd record is no record: a parse warning for check, missing evidence for the claim
        assert result.code == {"check": 1, "claim": 3}.get(args[0], 0), (args, result.err)
        json.loads(result.out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
