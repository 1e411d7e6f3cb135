"""The corpus loop (phase pxgate) replayed by three clones through a remote that runs loopkit's
pre-receive hook, signing on (issue 23): every genuine push goes through, so no `--sync` exits 5,
and `verify` of the whole history finds nothing. The phase is written in the corpus's style, not
copied from it: a health gate in runner/ and nix/modules/proxy.nix, M1 with a negative probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LOOPKIT, Result, git, run_loopkit
from test_signed_records import make_keys, signer_line

ROLES = ("builder", "adversary", "orchestrator")
SPEC = """phase = "pxgate"
title = "Proxy health gate without the dashboard"
paths = ["runner/**", "nix/modules/proxy.nix"]

[[milestones]]
id = "M1"
title = "Health probe no longer needs the dashboard"
paths = ["runner/warm_reconcile.py"]

  [[milestones.probes]]
  id = "P1"
  title = "the probe answers 200 with the dashboard scaled to 0"
  run = "python3 runner/warm_reconcile.py"
  observe = "stdout"
  expect = ["200"]

  [[milestones.probes]]
  id = "P1-neg"
  title = "gate has teeth: a dead proxy is not healthy"
  run = "python3 runner/warm_reconcile.py --dead"
  observe = "stdout"
  expect_not = ["200"]

[[milestones]]
id = "M2"
title = "The proxy module carries the gate"

  [[milestones.probes]]
  id = "P2"
  title = "the module names the gate"
  run = "grep -c health_gate nix/modules/proxy.nix"
  observe = "stdout"
  expect = ["1"]
"""
PROBE_BROKEN = "import sys\nprint('503')\n"
PROBE_FIXED = "import sys\nprint('000' if '--dead' in sys.argv else '200')\n"


def ok(result: Result) -> Result:
    assert result.code == 0, (result.code, result.out, result.err)
    return result


@pytest.mark.slow
def test_the_corpus_loop_through_a_hooked_remote_signing_on(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nexec {LOOPKIT} hook pre-receive\n", encoding="utf-8")
    hook.chmod(0o755)
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "runner").mkdir()
    (seed / "runner" / "warm_reconcile.py").write_text(PROBE_BROKEN, encoding="utf-8")
    (seed / "nix" / "modules").mkdir(parents=True)
    (seed / "nix" / "modules" / "proxy.nix").write_text("{ }\n", encoding="utf-8")
    (seed / "README.md").write_text("# ops\n", encoding="utf-8")
    docs = seed / "docs"
    docs.mkdir()
    ok(run_loopkit("init", cwd=docs))
    config = docs / "loopkit.toml"
    config.write_text(
        config.read_text("utf-8").replace("signed = []", 'signed = ["adversary"]', 1), encoding="utf-8"
    )
    (docs / "phases" / "pxgate.toml").write_text(SPEC, encoding="utf-8")
    (docs / "allowed_signers").write_text("".join(signer_line(keys, r) for r in ROLES), encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "-c", "user.email=orchestrator@loopkit.invalid", "commit", "-q", "-m", "ops repo, books")
    git(seed, "push", "-q", "origin", "main")

    clones = {}
    for role in ROLES:
        clones[role] = tmp_path / role
        git(tmp_path, "clone", "-q", str(bare), str(clones[role]))
    git(clones["adversary"], "config", "gpg.format", "ssh")
    git(clones["adversary"], "config", "user.signingkey", str(keys["adversary"]))

    def run(role: str, *args: str) -> Result:
        return ok(run_loopkit(*args, "--sync", cwd=clones[role] / "docs", role=role))

    def code(role: str, rel: str, text: str, message: str) -> None:
        clone = clones[role]
        (clone / rel).write_text(text, encoding="utf-8")
        git(clone, "add", rel)
        git(clone, "-c", f"user.email={role}@loopkit.invalid", "commit", "-q", "-m", message)
        ok(run_loopkit("sync", cwd=clone / "docs", role=role))

    run("orchestrator", "phase", "new", "pxgate")
    run("orchestrator", "inbox", "send", "--to", "builder", "--phase", "pxgate", "--subject", "go",
        "--body", "M1 first: the gate must not need the dashboard.")  # fmt: skip
    run("builder", "inbox", "consume", "--to", "builder", "--all")
    run(
        "builder", "journal", "add", "--phase", "pxgate", "--title", "Phase start", "--body", "Read the plan."
    )
    code(
        "builder",
        "runner/warm_reconcile.py",
        PROBE_FIXED + "# v1: marker\n",
        "fix(runner): gate",
    )
    run("builder", "probe", "run", "--phase", "pxgate", "--milestone", "M1")
    run("builder", "claim", "--phase", "pxgate", "--milestone", "M1", "--note", "gate without dashboard")
    run("adversary", "inbox", "consume", "--to", "adversary", "--all")
    run("adversary", "probe", "run", "--phase", "pxgate", "--milestone", "M1")  # its own run, in REVIEW
    run("adversary", "verdict", "FAIL", "--phase", "pxgate", "--milestone", "M1", "--note", "comment marker")
    # the orchestrator's unrelated commit, outside the phase's scope, lands meanwhile
    code("orchestrator", "README.md", "# ops\n\nrunbooks\n", "docs: runbooks")
    run("builder", "inbox", "consume", "--to", "builder", "--all")
    code("builder", "runner/warm_reconcile.py", PROBE_FIXED, "fix(runner): no marker")
    run("builder", "probe", "run", "--phase", "pxgate", "--milestone", "M1")
    run("builder", "claim", "--phase", "pxgate", "--milestone", "M1")
    run("adversary", "inbox", "consume", "--to", "adversary", "--all")
    run("adversary", "verdict", "PASS", "--phase", "pxgate", "--milestone", "M1", "--note", "200, dead 000")
    code("builder", "nix/modules/proxy.nix", "{ health_gate = true; }\n", "feat(nix): gate in the module")
    run("builder", "probe", "run", "--phase", "pxgate", "--milestone", "M2")
    run("builder", "claim", "--phase", "pxgate", "--milestone", "M2")
    run("adversary", "inbox", "consume", "--to", "adversary", "--all")
    run("adversary", "verdict", "PASS", "--phase", "pxgate", "--milestone", "M2")
    run("builder", "inbox", "consume", "--to", "builder", "--all")
    run("builder", "done", "--phase", "pxgate", "--summary", "gate without the dashboard")
    for role in ROLES:
        ok(run_loopkit("sync", cwd=clones[role] / "docs", role=role))

    heads = {git(clone, "rev-parse", "HEAD") for clone in clones.values()}
    assert len(heads) == 1 and git(bare, "rev-parse", "main") in heads
    subject = git(bare, "log", "-1", "--format=%s", "main").strip()
    assert subject == "status(pxgate): ## DONE — M1+M2 PASS, gate without the dashboard"
    first = git(bare, "rev-list", "--max-parents=0", "main").strip()
    verified = json.loads(run_loopkit("verify", f"{first}..main", "--json", cwd=bare).out)
    assert verified["ok"] and verified["violations"] == [], verified
    checked = run_loopkit("check", "--json", cwd=clones["orchestrator"] / "docs")
    assert checked.code == 0, checked.out
