"""loopkit.toml's trust chain (SPEC section 2, issue 25): `[roles]`, `[rules]` and `[files]` count as
the first committed version has them, and a later change only when the orchestrator (of the version
trusted before it) committed it, signed where that version signs a role. Real git, in-process
calls of the function every command opens its workspace with."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, make_repo

from loopkit.errors import BadInput
from loopkit.services.context import read_workspace

ORCH = ("-c", "user.name=orchestrator", "-c", "user.email=orchestrator@loopkit.invalid")
BUILDER = ("-c", "user.name=builder", "-c", "user.email=builder@loopkit.invalid")


def config_of(repo: Repo, **env: str) -> tuple[object, list[str]]:
    ws = read_workspace(repo.ws, {**os.environ, **env})
    return ws.config, [p.message for p in ws.config_problems]


def edit(repo: Repo, old: str, new: str) -> None:
    path = repo.ws / "loopkit.toml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def commit(repo: Repo, who: tuple[str, ...], message: str = "config") -> None:
    repo.git("add", "loopkit.toml")
    repo.git(*who, "commit", "-q", "-m", message)


def test_a_loopkit_toml_never_committed_is_the_work_trees(repo: Repo) -> None:
    edit(repo, "signed = []", 'signed = ["adversary"]')
    config, problems = config_of(repo)
    assert config.signed == ("adversary",) and problems == []  # type: ignore[attr-defined]


def test_only_the_orchestrators_changes_count(repo: Repo) -> None:
    edit(repo, "signed = []", 'signed = ["adversary"]')
    commit(repo, (), "the first version, by anyone")
    # the builder turns signing off and gives the adversary its email: neither counts
    edit(repo, 'signed = ["adversary"]', "signed = []")
    edit(repo, 'email = "adversary@loopkit.invalid"', 'email = "builder@loopkit.invalid"')
    edit(repo, "timeout = 30", "timeout = 7")  # [probe] is the work tree's
    config, problems = config_of(repo)
    assert config.signed == ("adversary",)  # type: ignore[attr-defined]
    assert config.identities["adversary"].email == "adversary@loopkit.invalid"  # type: ignore[attr-defined]
    assert config.probe_timeout == 7  # type: ignore[attr-defined]
    assert len(problems) == 1 and "roles.adversary.email, rules.signed" in problems[0], problems
    assert "not committed" in problems[0]
    commit(repo, BUILDER)
    config, problems = config_of(repo)
    assert config.signed == ("adversary",) and len(problems) == 1, problems  # type: ignore[attr-defined]
    assert "authored by builder@loopkit.invalid" in problems[0]
    # undone: nothing to report any more
    repo.git("checkout", "HEAD~1", "--", "loopkit.toml")
    commit(repo, BUILDER)
    assert config_of(repo)[1] == []
    # a change of another table, by anyone, is no problem
    edit(repo, "timeout = 30", "timeout = 9")
    commit(repo, BUILDER)
    assert config_of(repo)[1] == []


def test_a_change_when_no_role_signs_needs_the_orchestrators_email(repo: Repo) -> None:
    commit(repo, (), "first")
    edit(repo, 'open_phase = ["orchestrator"]', 'open_phase = ["orchestrator", "builder"]')
    commit(repo, ORCH)
    config, problems = config_of(repo)
    assert config.open_phase == ("orchestrator", "builder") and problems == []  # type: ignore[attr-defined]


def test_the_cache_carries_over_and_changes_no_answer(repo: Repo) -> None:
    commit(repo, (), "first")
    assert config_of(repo) == config_of(repo, LOOPKIT_NO_CACHE="1")
    assert (repo.root / ".git" / "loopkit" / "index" / "trust.json").is_file()
    repo.commit_code("src/app.py", "v2\n")  # HEAD moves, the file does not: carried over
    assert config_of(repo) == config_of(repo, LOOPKIT_NO_CACHE="1")
    edit(repo, "signed = []", 'signed = ["builder"]')
    commit(repo, BUILDER)  # the file changed: read again
    cached = config_of(repo)
    assert cached == config_of(repo, LOOPKIT_NO_CACHE="1") and len(cached[1]) == 1
    repo.git("reset", "-q", "--hard", "HEAD~2")  # a rewrite: read again
    assert config_of(repo) == config_of(repo, LOOPKIT_NO_CACHE="1") == (cached[0].__class__(), [])


def test_a_trusted_version_that_cannot_be_read_is_exit_4_naming_it(repo: Repo) -> None:
    (repo.ws / "loopkit.toml").write_text("[rules]\nsigned = 3\n", "utf-8")
    commit(repo, (), "broken")
    (repo.ws / "loopkit.toml").write_text("[rules]\nsigned = []\n", "utf-8")
    commit(repo, BUILDER)
    with pytest.raises(BadInput, match=r"loopkit.toml \(as [0-9a-f]{12} has it\): rules: signed must be"):
        config_of(repo)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_where_a_role_signs_the_orchestrators_change_must_be_signed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    keys = tmp_path / "keys"
    keys.mkdir()
    for role in ("orchestrator", "builder"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", role, "-f", str(keys / role)], check=True
        )
    public = (keys / "orchestrator.pub").read_text("utf-8").split()[:2]
    (repo.ws / "allowed_signers").write_text(f"orchestrator@loopkit.invalid {' '.join(public)}\n", "utf-8")
    edit(repo, "signed = []", 'signed = ["adversary"]')
    repo.git("add", "allowed_signers")
    commit(repo, ORCH, "first")
    edit(repo, 'signed = ["adversary"]', "signed = []")
    commit(repo, ORCH, "unsigned")  # the orchestrator's email, but no signature
    config, problems = config_of(repo)
    assert config.signed == ("adversary",) and "not signed" in problems[0], problems  # type: ignore[attr-defined]
    repo.git("reset", "-q", "--soft", "HEAD~1")
    for role, expected in (("builder", ("adversary",)), ("orchestrator", ())):
        sign = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={keys / role}")
        repo.git(*ORCH, *sign, "commit", "-q", "-S", "-m", f"signed by the {role}'s key")
        config, problems = config_of(repo)
        assert config.signed == expected, (role, problems)  # type: ignore[attr-defined]
        if role == "builder":
            repo.git("reset", "-q", "--soft", "HEAD~1")
