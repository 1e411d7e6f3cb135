"""Signed records end to end (SPEC section 10, issue 9): real keys from ssh-keygen, real git, the
installed `loopkit` in subprocesses.

A genuine signed PASS opens the gate. Each way a builder could pass its own work is refused by
`gate` (exit 3, the code named) and reported by `check`: an unsigned PASS with the adversary's
author and every trailer, a PASS signed by the builder's key, a PASS signed by the adversary's key
but authored by the builder, a PASS that the clone's own `gpg.ssh.program` calls good, and the
builder adding its key to allowed_signers as the adversary in a commit it signs itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, Result, make_repo

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")

ROLES = ("builder", "adversary", "orchestrator")
EMAIL = {r: f"{r}@loopkit.invalid" for r in ROLES}
PHASE = "px"
SPEC = """\
phase = "px"
title = "Signed"

[[milestones]]
id = "M1"
title = "Answers 200"

  [[milestones.probes]]
  id = "P1"
  title = "answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]
"""
GATE = ("gate", "--phase", PHASE, "--json")

FAKE_SSH = """#!/bin/sh
# answers "good" for anyone, as a clone's own gpg.ssh.program could
case "$*" in
  *find-principals*) echo "adversary@loopkit.invalid" ;;
  *) echo 'Good "git" signature for adversary@loopkit.invalid with ED25519 key SHA256:fake' ;;
esac
exit 0
"""


# -- helpers ------------------------------------------------------------------------------------------
def make_keys(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", role, "-f", str(folder / role)],
            check=True,
            capture_output=True,
        )
    return {role: folder / role for role in ROLES}


def signer_line(keys: dict[str, Path], role: str, principal: str | None = None) -> str:
    kind, blob = Path(f"{keys[role]}.pub").read_text(encoding="utf-8").split()[:2]
    return f"{principal or EMAIL[role]} {kind} {blob}\n"


def as_(role: str) -> tuple[str, ...]:
    return ("-c", f"user.name={role}", "-c", f"user.email={EMAIL[role]}")


def signing(key: Path) -> tuple[str, ...]:
    return ("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}")


def key_env(keys: dict[str, Path], role: str) -> dict[str, str]:
    return {"LOOPKIT_SIGNING_KEY": str(keys[role])}


def ok(result: Result) -> Result:
    assert result.code == 0, (result.code, result.out, result.err)
    return result


def set_signed(repo: Repo, roles: tuple[str, ...]) -> None:
    path = repo.ws / "loopkit.toml"
    listed = ", ".join(f'"{r}"' for r in roles)
    path.write_text(path.read_text("utf-8").replace("signed = []", f"signed = [{listed}]", 1), "utf-8")


def open_claim(base: Path, keys: dict[str, Path], *, signed: tuple[str, ...] = ("adversary",)) -> Repo:
    """A repository whose orchestrator committed loopkit.toml (these roles signed), allowed_signers
    (a key per role) and the spec, opened px, and whose builder claimed M1."""
    repo = make_repo(base)
    set_signed(repo, signed)
    repo.write("phases/px.toml", SPEC)
    repo.write("allowed_signers", "".join(signer_line(keys, r) for r in ROLES))
    repo.git("add", "-A")
    repo.git(
        *as_("orchestrator"), *signing(keys["orchestrator"]), "commit", "-q", "-S", "-m", "loopkit set-up"
    )
    env = key_env(keys, "orchestrator") if "orchestrator" in signed else None
    ok(repo.lk("phase", "new", PHASE, role="orchestrator", env=env))
    builder = key_env(keys, "builder") if "builder" in signed else None
    ok(repo.lk("probe", "run", "--phase", PHASE, role="builder", env=builder))
    ok(repo.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder", env=builder))
    return repo


def copy_repo(source: Repo, base: Path) -> Repo:
    shutil.copytree(source.root, base / "repo", symlinks=True)
    return Repo(base / "repo", base / "repo" / source.ws.relative_to(source.root))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def claimed(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Repo:
    return open_claim(tmp_path_factory.mktemp("claimed"), keys)


@pytest.fixture
def repo(claimed: Repo, tmp_path: Path) -> Repo:
    return copy_repo(claimed, tmp_path)


def forge_pass(repo: Repo, *git_options: str, author: str = "adversary") -> str:
    """The PASS line in loopkit's own format (bound to the claim by commit and id), committed by
    hand with every trailer loopkit would write (`verdict --no-commit` is refused: exit 2)."""
    import re

    claim = repo.git("log", "-1", "--format=%H", "--grep=^Loopkit-Action: claim$").strip()
    status = repo.ws / f"STATUS-{PHASE}.md"
    text = status.read_text("utf-8")
    claim_line = next(line for line in text.splitlines() if line.startswith("- **CLAIM** M1"))
    claim_id = re.search(r"· id (\S+)", claim_line)
    pass_line = f"- **PASS** M1 @2026-06-13T13:44Z by adversary · claim {claim}" + (
        f" · claim-id {claim_id[1]}" if claim_id else ""
    )
    status.write_text(text.replace(claim_line, claim_line + "\n" + pass_line, 1), "utf-8")
    message = (
        "review(px): M1 PASS @13:44Z\n\n"
        "Loopkit-Phase: px\nLoopkit-Action: verdict\nLoopkit-Role: adversary\n"
        f"Loopkit-Milestone: M1\nLoopkit-Verdict: PASS\nLoopkit-Claim: {claim}\n"
    )
    repo.git("add", "-A")
    repo.git(*as_(author), *git_options, "commit", "-q", "-m", message)
    return repo.git("rev-parse", "HEAD").strip()


def consume_builder(repo: Repo) -> None:
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))


def refused(repo: Repo, code: str) -> None:
    """gate exit 3: the PASS counts as none, so the claim has no verdict (the message names `code`);
    check exit 1 reporting it (and no forged-*); status shows no verdict."""
    gate = repo.lk(*GATE, role="builder")
    assert gate.code == 3, (gate.out, gate.err)
    unmet = json.loads(gate.out)["unmet"]
    assert [u["code"] for u in unmet] == ["no-verdict"], unmet
    assert code in unmet[0]["message"] and "forged-verdict" not in unmet[0]["message"], unmet
    check = repo.lk("check", "--json")
    assert check.code == 1, check.out
    problems = [p["code"] for p in json.loads(check.out)["problems"]]
    assert code in problems and "forged-verdict" not in problems, problems
    status = json.loads(ok(repo.lk("status", "--json")).out)["phases"][0]
    assert status["milestones"][0]["verdict"] is None and status["state"] == "awaiting-review"
    assert code in [p["code"] for p in status["problems"]]


# -- the cases of issue 9 -----------------------------------------------------------------------------
def test_a_genuine_signed_pass_opens_the_gate(repo: Repo, keys: dict[str, Path]) -> None:
    ok(
        repo.lk(
            "verdict",
            "--phase",
            PHASE,
            "--milestone",
            "M1",
            "PASS",
            role="adversary",
            env=key_env(keys, "adversary"),
        )
    )
    assert repo.git("log", "-1", "--format=%ae").strip() == EMAIL["adversary"]
    assert "\ngpgsig " in repo.git("cat-file", "commit", "HEAD")
    consume_builder(repo)
    gate = ok(repo.lk(*GATE, role="builder"))
    assert json.loads(gate.out)["unmet"] == []
    check = ok(repo.lk("check", "--json"))
    assert json.loads(check.out)["problems"] == []
    status = json.loads(ok(repo.lk("status", "--json")).out)["phases"][0]
    assert status["state"] == "ready" and status["milestones"][0]["verdict"]["result"] == "PASS"
    # the cache changes no answer
    (repo.root / ".git" / "loopkit" / "index" / "signatures.json").unlink()
    assert json.loads(ok(repo.lk(*GATE, role="builder")).out)["unmet"] == []


def test_an_unsigned_pass_with_the_adversarys_author_and_every_trailer(repo: Repo) -> None:
    forge_pass(repo)
    consume_builder(repo)
    refused(repo, "unsigned-record")


def test_a_pass_signed_by_the_builders_key(repo: Repo, keys: dict[str, Path]) -> None:
    forge_pass(repo, *signing(keys["builder"]), "-c", "commit.gpgsign=true")
    assert "\ngpgsig " in repo.git("cat-file", "commit", "HEAD")
    consume_builder(repo)
    refused(repo, "bad-signature")


def test_a_pass_signed_by_the_adversarys_key_but_authored_by_the_builder(
    repo: Repo, keys: dict[str, Path]
) -> None:
    forge_pass(repo, *signing(keys["adversary"]), "-c", "commit.gpgsign=true", author="builder")
    consume_builder(repo)
    refused(repo, "bad-signature")


def test_a_fake_ssh_program_in_the_clones_config_does_not_make_it_good(
    repo: Repo, keys: dict[str, Path], tmp_path: Path
) -> None:
    forge_pass(repo, *signing(keys["builder"]), "-c", "commit.gpgsign=true")
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH, encoding="utf-8")
    fake.chmod(0o755)
    repo.git("config", "gpg.ssh.program", str(fake))
    repo.git("config", "gpg.ssh.allowedSignersFile", str(repo.root / "allowed_signers"))
    # the trick fools git itself
    assert repo.git("log", "-1", "--format=%G?%x00%GS").strip() == f"G\x00{EMAIL['adversary']}"
    consume_builder(repo)
    refused(repo, "bad-signature")


def test_the_builder_adding_its_key_as_the_adversary(repo: Repo, keys: dict[str, Path]) -> None:
    path = repo.root / "allowed_signers"
    path.write_text(signer_line(keys, "builder", EMAIL["adversary"]) + path.read_text("utf-8"), "utf-8")
    repo.git("add", "allowed_signers")
    repo.git(*as_("builder"), *signing(keys["builder"]), "commit", "-q", "-S", "-m", "keys")
    sha = forge_pass(repo, *signing(keys["builder"]), "-c", "commit.gpgsign=true")
    # with the builder's version of the file, git itself would call the PASS good for the adversary
    plain = repo.git(
        "-c", f"gpg.ssh.allowedSignersFile={path}", "log", "-1", "--format=%G?%x00%GS", sha
    ).strip()
    assert plain == f"G\x00{EMAIL['adversary']}"
    consume_builder(repo)
    refused(repo, "bad-signature")
    problems = json.loads(repo.lk("check", "--json").out)["problems"]
    assert "untrusted-signers" in [p["code"] for p in problems], problems


@pytest.mark.parametrize("signed", [True, False])
def test_a_replace_ref_does_not_lend_a_genuine_commit_to_a_forged_one(
    repo: Repo, keys: dict[str, Path], signed: bool
) -> None:
    """A builder's PASS commit replaced (in this clone) by a genuine one of the adversary: blame,
    show and the verifier read the forged object, not the replacement (GIT_NO_REPLACE_OBJECTS on
    every read); signing off, too, where only the author and trailers decide."""
    if not signed:
        config = repo.ws / "loopkit.toml"
        config.write_text(config.read_text("utf-8").replace('signed = ["adversary"]', "signed = []"), "utf-8")
        # only the orchestrator's signed commit turns signing off (SPEC section 2)
        repo.git(*as_("orchestrator"), *signing(keys["orchestrator"]), "commit", "-q", "-S", "-am", "off")
    forged = forge_pass(repo, author="builder")
    other = copy_repo(repo, repo.root.parent / "other")
    other.git("reset", "-q", "--hard", "HEAD~1")
    env = key_env(keys, "adversary")
    ok(other.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary", env=env))
    genuine = other.git("rev-parse", "HEAD").strip()
    repo.git("fetch", "-q", str(other.root), f"{genuine}:refs/heads/genuine")
    repo.git("replace", "-f", forged, genuine)
    assert repo.git("log", "-1", "--format=%ae", forged).strip() == EMAIL["adversary"]  # git is fooled
    consume_builder(repo)
    gate = repo.lk(*GATE, role="builder")
    assert gate.code == 3, gate.out
    expected = "unsigned-record" if signed else "forged-verdict"
    assert [u["code"] for u in json.loads(gate.out)["unmet"]] == ["no-verdict"], gate.out
    assert expected in gate.out and expected in repo.lk("check", "--json").out


# -- keys ------------------------------------------------------------------------------------------------
def test_a_signed_role_without_a_key_refuses_and_writes_nothing(repo: Repo) -> None:
    head = repo.git("rev-parse", "HEAD")
    files = repo.git("status", "--porcelain", "--untracked-files=all")
    status_text = (repo.ws / "STATUS-px.md").read_text("utf-8")
    result = repo.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary")
    assert result.code == 4, (result.out, result.err)
    assert "LOOPKIT_SIGNING_KEY" in result.err and "user.signingkey" in result.err
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.git("status", "--porcelain", "--untracked-files=all") == files
    assert (repo.ws / "STATUS-px.md").read_text("utf-8") == status_text
    # a role that does not sign needs no key
    ok(repo.lk("journal", "add", "--phase", PHASE, "--title", "note", "--body", "x", role="builder"))


def test_a_public_key_without_its_private_half_is_exit_4(
    repo: Repo, keys: dict[str, Path], tmp_path: Path
) -> None:
    head = repo.git("rev-parse", "HEAD")
    public = tmp_path / "alone.pub"  # ssh-keygen would find the private half next to it
    shutil.copy(f"{keys['adversary']}.pub", public)
    env = {"LOOPKIT_SIGNING_KEY": str(public), "SSH_AUTH_SOCK": ""}
    result = repo.lk("verdict", "--phase", PHASE, "--milestone", "M1", "FAIL", role="adversary", env=env)
    assert result.code == 4, (result.out, result.err)
    assert "cannot sign" in result.err
    assert repo.git("rev-parse", "HEAD") == head


def test_a_builder_and_orchestrator_that_sign(tmp_path: Path, keys: dict[str, Path]) -> None:
    """signed = all three: the spec commit, the claim and DONE count only signed; a DONE typed
    and committed unsigned by the builder does not make the phase done."""
    repo = open_claim(tmp_path, keys, signed=ROLES)
    for sha in repo.git("log", "--format=%H", "--author=loopkit.invalid").split()[:2]:
        assert "\ngpgsig " in repo.git("cat-file", "commit", sha)
    ok(
        repo.lk(
            "verdict",
            "--phase",
            PHASE,
            "--milestone",
            "M1",
            "PASS",
            role="adversary",
            env=key_env(keys, "adversary"),
        )
    )
    consume_builder_signed = repo.lk(
        "inbox", "consume", "--to", "builder", "--all", role="builder", env=key_env(keys, "builder")
    )
    ok(consume_builder_signed)
    assert json.loads(ok(repo.lk(*GATE, role="builder")).out)["unmet"] == []
    ok(repo.lk("done", "--phase", PHASE, role="builder", env=key_env(keys, "builder")))
    status = json.loads(ok(repo.lk("status", "--json")).out)["phases"][0]
    assert status["state"] == "done" and status["problems"] == []
    assert json.loads(ok(repo.lk("check", "--json")).out)["ok"] is True
    # the same DONE, re-committed without a signature, counts as none
    repo.git("reset", "-q", "--soft", "HEAD~1")
    repo.git(
        *as_("builder"),
        "commit",
        "-q",
        "-m",
        "status(px): ## DONE\n\nLoopkit-Phase: px\nLoopkit-Action: done\n",
    )
    status = json.loads(ok(repo.lk("status", "--json")).out)["phases"][0]
    assert status["state"] != "done" and "unsigned-record" in [p["code"] for p in status["problems"]]


def test_an_unsigned_spec_commit_does_not_count(tmp_path: Path, keys: dict[str, Path]) -> None:
    """orchestrator signs: a spec update committed unsigned (with every trailer) is reported and
    the gate goes on using the version the signed opening named."""
    repo = open_claim(tmp_path, keys, signed=("orchestrator",))
    spec = repo.ws / "phases" / "px.toml"
    spec.write_text(SPEC.replace('expect = ["200"]', 'expect = ["201"]'), "utf-8")
    blob = repo.git("hash-object", str(spec)).strip()
    repo.git("add", str(spec))
    message = f"status(px): update spec\n\nLoopkit-Phase: px\nLoopkit-Action: spec\nLoopkit-Spec: {blob}\n"
    repo.git(*as_("orchestrator"), "commit", "-q", "-m", message)
    check = json.loads(repo.lk("check", "--json").out)
    codes = [p["code"] for p in check["problems"]]
    assert "unsigned-record" in codes and "untrusted-spec" in codes, codes
    evidence = json.loads(ok(repo.lk("evidence", "--phase", PHASE, "--json")).out)
    assert "P1" in json.dumps(evidence)  # still the signed version's probe


# -- the demo ------------------------------------------------------------------------------------------
def test_demo_signed_ends_done_with_a_clean_check(tmp_path: Path) -> None:
    from conftest import git, run_loopkit

    target = tmp_path / "demo"
    result = run_loopkit("demo", "--signed", "--dir", str(target), cwd=tmp_path, env={"LOOPKIT_NOW": ""})
    assert result.code == 0, result.err
    assert "signing on" in result.out and "check → no problems" in result.out
    ws = target / "loop"
    status = json.loads(ok(run_loopkit("status", "--json", cwd=ws, env={"LOOPKIT_NOW": ""})).out)
    phase = status["phases"][0]
    assert phase["state"] == "done" and phase["problems"] == []
    check = run_loopkit("check", "--json", cwd=ws, env={"LOOPKIT_NOW": ""})
    assert check.code == 0 and json.loads(check.out)["ok"] is True, check.out
    assert 'signed = ["adversary", "builder", "orchestrator"]' in (ws / "loopkit.toml").read_text("utf-8")
    # every commit is signed, each by its author's key; no secret is in the repository
    allowed = ws / "allowed_signers"
    for line in git(
        target, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "--format=%G?%x00%GS%x00%ae"
    ).splitlines():
        status_letter, signer, author = line.split("\x00")
        assert status_letter == "G" and signer == author, line
    tracked = git(target, "ls-files").split()
    assert "loop/allowed_signers" in tracked
    for name in tracked:
        assert "PRIVATE KEY" not in (target / name).read_text("utf-8", errors="replace"), name
    assert git(target, "status", "--porcelain") == ""


def test_a_clones_log_and_diff_settings_change_no_answer(repo: Repo, keys: dict[str, Path]) -> None:
    """`log.showSignature` prints each signature's check inside the logs loopkit parses,
    `diff.noprefix` drops the a/ and b/ of their patches, `color.ui=always` colours them: the logs
    loopkit parses pin what they read."""
    ok(
        repo.lk(
            "verdict",
            "--phase",
            PHASE,
            "--milestone",
            "M1",
            "PASS",
            role="adversary",
            env=key_env(keys, "adversary"),
        )
    )
    asked = [("status", "--json"), ("check", "--json"), GATE]

    def answers() -> list[tuple[int, str]]:
        return [
            (r.code, r.out)
            for r in (repo.lk(*a, role="builder", env={"LOOPKIT_NO_CACHE": "1"}) for a in asked)
        ]

    before = answers()
    assert json.loads(before[0][1])["phases"][0]["milestones"][0]["verdict"]["result"] == "PASS"
    repo.git("config", "log.showSignature", "true")
    repo.git("config", "diff.noprefix", "true")
    repo.git("config", "color.ui", "always")
    repo.git("config", "log.decorate", "full")
    repo.git("config", "diff.relative", "true")
    repo.git("config", "gpg.ssh.allowedSignersFile", str(repo.ws / "allowed_signers"))
    assert "Good" in repo.git("log", "-1") or "signature" in repo.git("log", "-1").lower()
    assert answers() == before
