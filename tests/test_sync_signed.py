"""Several clones with signed records (SPEC sections 7 and 10): `signed = ["adversary", "builder"]`,
a bare remote, three clones, the installed loopkit. The adversary's clone is configured to sign
(so a `git pull --rebase` by hand re-signs), the builder signs through LOOPKIT_SIGNING_KEY (so
`loopkit sync` re-signs its rebased commits); a clone without the key merges instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Result, git, run_loopkit
from test_signed_records import make_keys, signer_line

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")

ROLES = ("builder", "adversary", "orchestrator")
SPEC = """phase = "px"
title = "Across machines, signed"

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


def ok(result: Result) -> Result:
    assert result.code == 0, (result.code, result.out, result.err)
    return result


@pytest.fixture
def world(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    keys = make_keys(tmp_path / "keys")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "src").mkdir()
    (seed / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
    ok(run_loopkit("init", cwd=seed))
    config = seed / "loopkit.toml"
    text = config.read_text("utf-8").replace("signed = []", 'signed = ["adversary", "builder"]', 1)
    config.write_text(text, encoding="utf-8")
    (seed / "phases" / "px.toml").write_text(SPEC, encoding="utf-8")
    (seed / "allowed_signers").write_text("".join(signer_line(keys, r) for r in ROLES), encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "-c", "user.email=orchestrator@loopkit.invalid", "commit", "-q", "-m", "project, signers")
    git(seed, "push", "-q", "origin", "main")
    clones = {}
    for role in ROLES:
        clones[role] = tmp_path / role
        git(tmp_path, "clone", "-q", str(bare), str(clones[role]))
    adversary = clones["adversary"]
    git(adversary, "config", "gpg.format", "ssh")
    git(adversary, "config", "user.signingkey", str(keys["adversary"]))
    git(adversary, "config", "commit.gpgsign", "true")
    for role in ROLES:
        ok(lk(clones, keys, role, "sync", sync=False))
    return clones, keys


def lk(clones: dict[str, Path], keys: dict[str, Path], role: str, *args: str, sync: bool = True) -> Result:
    env = {"LOOPKIT_SIGNING_KEY": str(keys["builder"])} if role == "builder" else None
    return run_loopkit(*args, *(["--sync"] if sync else []), cwd=clones[role], role=role, env=env)


def good(clone: Path, sha: str, email: str) -> bool:
    allowed = clone / "allowed_signers"
    out = git(clone, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1", "--format=%G?%x00%GS", sha)
    return out.strip() == f"G\x00{email}"


@pytest.mark.slow
def test_signed_records_survive_rebases_by_sync_and_by_hand(
    world: tuple[dict[str, Path], dict[str, Path]],
) -> None:
    clones, keys = world
    b, a = clones["builder"], clones["adversary"]

    def run(role: str, *args: str, sync: bool = True) -> Result:
        return ok(lk(clones, keys, role, *args, sync=sync))

    run("orchestrator", "phase", "new", "px")
    run("builder", "probe", "run", "--phase", "px")
    run("builder", "claim", "--phase", "px", "--milestone", "M1", "--note", "hello")

    # the adversary records its PASS locally, the orchestrator pushes meanwhile; then the adversary
    # integrates by hand: its own signing config re-signs the rebased PASS
    run("adversary", "sync", sync=False)
    run("adversary", "verdict", "PASS", "--phase", "px", "--milestone", "M1", sync=False)
    run(
        "orchestrator",
        "inbox",
        "send",
        "--to",
        "adversary",
        "--phase",
        "px",
        "--subject",
        "hi",
        "--body",
        "x",
    )
    git(
        a, "-c", "user.name=adversary", "-c", "user.email=adversary@loopkit.invalid", "pull", "-q", "--rebase"
    )
    assert good(a, "HEAD", "adversary@loopkit.invalid")
    run("adversary", "sync", sync=False)

    # the builder journals locally while others push; `loopkit sync` rebases and re-signs
    run("builder", "journal", "add", "--phase", "px", "--title", "waiting", "--body", "x", sync=False)
    local = git(b, "rev-parse", "HEAD").strip()
    run("orchestrator", "inbox", "send", "--to", "builder", "--phase", "px", "--subject", "go", "--body", "y")
    synced = json.loads(run("builder", "sync", "--json", sync=False).out)
    assert synced["integrated"] == "rebase", synced
    head = git(b, "rev-parse", "HEAD").strip()
    assert head != local and good(b, head, "builder@loopkit.invalid")

    run("builder", "inbox", "consume", "--to", "builder", "--all")
    for role in ("adversary", "orchestrator", "builder"):
        run(role, "sync", sync=False)
    heads = {git(clone, "rev-parse", "HEAD") for clone in clones.values()}
    assert len(heads) == 1
    views = []
    for clone in clones.values():
        status = json.loads(ok(run_loopkit("status", "--json", cwd=clone)).out)
        check = json.loads(run_loopkit("check", "--json", cwd=clone).out)
        views.append((status, check))
        assert status["phases"][0]["milestones"][0]["state"] == "passed", status
        codes = [p["code"] for p in check["problems"]]
        assert "unsigned-record" not in codes and "bad-signature" not in codes, check
    assert all(view == views[0] for view in views)
    gate = run_loopkit("gate", "--phase", "px", "--json", cwd=b, role="builder")
    assert gate.code == 0, gate.out


def test_a_clone_without_the_key_merges_instead_of_dropping_signatures(
    world: tuple[dict[str, Path], dict[str, Path]],
) -> None:
    clones, keys = world
    b = clones["builder"]
    ok(
        lk(
            clones,
            keys,
            "builder",
            "journal",
            "add",
            "--phase",
            "px",
            "--title",
            "t",
            "--body",
            "x",
            sync=False,
        )
    )
    ok(lk(clones, keys, "orchestrator", "phase", "new", "px"))
    synced = run_loopkit("sync", "--json", cwd=b)  # no role, no key: it cannot renew the signature
    assert synced.code == 0, synced.err
    assert json.loads(synced.out)["integrated"] == "merge"
    journal = git(b, "log", "-1", "--format=%H", "--grep=^Loopkit-Action: journal$").strip()
    assert good(b, journal, "builder@loopkit.invalid")


def test_a_signing_role_without_its_key_still_syncs_by_an_unsigned_merge(
    world: tuple[dict[str, Path], dict[str, Path]],
) -> None:
    """SPEC 10: a merge carries no record, so sync makes it without a key (the clone's own
    identity, unsigned); only the commands that write records refuse without one."""
    clones, keys = world
    b = clones["builder"]
    ok(
        lk(
            clones,
            keys,
            "builder",
            "journal",
            "add",
            "--phase",
            "px",
            "--title",
            "t",
            "--body",
            "x",
            sync=False,
        )
    )
    ok(lk(clones, keys, "orchestrator", "phase", "new", "px"))
    keyless = run_loopkit(
        "journal", "add", "--phase", "px", "--title", "u", "--body", "y", cwd=b, role="builder"
    )
    assert keyless.code == 4 and "LOOPKIT_SIGNING_KEY" in keyless.err, keyless.err
    synced = run_loopkit("sync", "--json", cwd=b, role="builder")  # the builder's role, no key at hand
    assert synced.code == 0, synced.err
    assert json.loads(synced.out)["integrated"] == "merge"
    merge = git(b, "log", "-1", "--format=%P|%an <%ae>|%cn <%ce>|%G?").strip().split("|")
    assert len(merge[0].split()) == 2, merge
    assert merge[1:] == ["Person <person@example.invalid>", "Person <person@example.invalid>", "N"], merge
    journal = git(b, "log", "-1", "--format=%H", "--grep=^Loopkit-Action: journal$").strip()
    assert good(b, journal, "builder@loopkit.invalid")
    assert git(b, "rev-parse", "HEAD") == git(b, "rev-parse", "origin/main")
    check = json.loads(run_loopkit("check", "--json", cwd=b).out)
    codes = [p["code"] for p in check["problems"]]
    assert "unsigned-record" not in codes and "bad-signature" not in codes, check
