"""The trust chain of allowed_signers (SPEC section 10), with real keys and real history."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_signing import EMAIL, Keys, commit, git, init_repo, make_keys

from loopkit.errors import BadInput
from loopkit.gitrepo.signers import TrustedSigners, signers_path, trusted_signers
from loopkit.gitrepo.signing import verify
from loopkit.signed import decide

ORCH = EMAIL["orchestrator"]
ADV = EMAIL["adversary"]
BUILDER = EMAIL["builder"]

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def repo(tmp_path: Path, keys: Keys) -> Path:
    """A repository whose first allowed_signers lists the three roles' keys (committed by a person:
    the first version is trusted as it stands)."""
    root = init_repo(tmp_path / "repo")
    commit(
        root, {"README.md": "# project\n", "allowed_signers": keys.allowed(*EMAIL)}, author="person@x.invalid"
    )
    return root


def chain(root: Path, path: str = "allowed_signers", **kw: object) -> TrustedSigners:
    env = kw.pop("environ", None) or {**os.environ}
    return trusted_signers(root, path=path, orchestrator_email=ORCH, environ=env, **kw)  # type: ignore[arg-type]


def counts(root: Path, sha: str, text: str) -> str:
    return decide(
        signed_roles=("adversary",),
        role="adversary",
        signature=verify(root, [sha], text)[sha],
        role_email=ADV,
    )


def test_the_first_version_is_trusted_as_it_stands(repo: Path, keys: Keys) -> None:
    found = chain(repo)
    assert found.text == keys.allowed(*EMAIL)
    assert found.source == "history" and found.problems == ()
    assert found.commit == git(repo, "rev-parse", "HEAD").strip()


def test_no_allowed_signers_trusts_nothing(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "empty")
    assert chain(root) == TrustedSigners("", "none", None)  # no commit at all
    commit(root, {"README.md": "x\n"}, author="p@x.invalid")
    assert chain(root) == TrustedSigners("", "none", None)


def test_an_orchestrator_signed_change_is_trusted(repo: Path, keys: Keys) -> None:
    new = keys.allowed(*EMAIL) + keys.line("builder", "extra@loopkit.invalid")
    sha = commit(repo, {"allowed_signers": new}, author=ORCH, key=keys.private("orchestrator"))
    found = chain(repo)
    assert (found.text, found.commit, found.problems) == (new, sha, ())


def test_the_builder_adding_its_key_as_the_adversary_is_untrusted(repo: Path, keys: Keys) -> None:
    """Issue 9: the builder lists its own key for the adversary's email, in a commit it signs
    itself (authored as itself, or claiming to be the orchestrator): the old version is kept and
    a PASS the builder then signs does not count."""
    trusted = keys.allowed(*EMAIL)
    # the forged line first: for a key listed twice, git names the principal of its first line
    forged = keys.line("builder", ADV) + trusted
    attempts = [
        commit(repo, {"allowed_signers": forged}, author=BUILDER, key=keys.private("builder")),
        commit(repo, {"allowed_signers": forged + "\n"}, author=ORCH, key=keys.private("builder")),
        commit(repo, {"allowed_signers": forged + "\n\n"}, author=ORCH),  # unsigned
        commit(repo, {"allowed_signers": forged + "#\n"}, author=BUILDER, key=keys.private("orchestrator")),
    ]
    found = chain(repo)
    assert found.text == trusted
    assert [p.commit for p in found.problems] == attempts
    assert {p.code for p in found.problems} == {"untrusted-signers"}
    reasons = [p.message for p in found.problems]
    assert "authored by builder@" in reasons[0]
    assert "not for orchestrator@" in reasons[1]
    assert "not signed" in reasons[2]
    assert "authored by builder@" in reasons[3]
    pass_ = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=keys.private("builder"))
    assert counts(repo, pass_, found.text) == "bad-signature"
    assert counts(repo, pass_, forged) == "counts"  # what the forged file would have allowed


def test_a_key_added_by_an_untrusted_change_cannot_sign_the_next(
    repo: Path, keys: Keys, tmp_path: Path
) -> None:
    rogue = make_keys(tmp_path / "rogue")
    with_rogue = keys.allowed(*EMAIL) + rogue.line("orchestrator")
    commit(repo, {"allowed_signers": with_rogue}, author=BUILDER, key=keys.private("builder"))
    later = with_rogue + rogue.line("adversary")
    commit(repo, {"allowed_signers": later}, author=ORCH, key=rogue.private("orchestrator"))
    found = chain(repo)
    assert found.text == keys.allowed(*EMAIL)
    assert len(found.problems) == 2


def test_the_chain_follows_each_trusted_version(repo: Path, keys: Keys, tmp_path: Path) -> None:
    """A new orchestrator key, added by the old one, signs the next change; the old key, removed
    by then, no longer can."""
    fresh = make_keys(tmp_path / "fresh")
    step1 = keys.allowed(*EMAIL) + fresh.line("orchestrator")
    commit(repo, {"allowed_signers": step1}, author=ORCH, key=keys.private("orchestrator"))
    step2 = keys.allowed("builder", "adversary") + fresh.line("orchestrator")
    s2 = commit(repo, {"allowed_signers": step2}, author=ORCH, key=fresh.private("orchestrator"))
    step3 = step2 + keys.line("builder", "x@loopkit.invalid")
    s3 = commit(repo, {"allowed_signers": step3}, author=ORCH, key=keys.private("orchestrator"))
    found = chain(repo)
    assert found.text == step2 and found.commit == s2
    assert [p.commit for p in found.problems] == [s3]


def test_a_deletion_counts_only_when_the_orchestrator_signs_it(repo: Path, keys: Keys) -> None:
    commit(repo, {"allowed_signers": None}, author=BUILDER, key=keys.private("builder"))
    found = chain(repo)
    assert found.text == keys.allowed(*EMAIL)
    # the file is gone from the work tree too, as committed: no extra problem for that
    [problem] = found.problems
    assert "deletion" in problem.message and "work tree" not in problem.message
    commit(repo, {"allowed_signers": keys.allowed(*EMAIL)}, author=ORCH, key=keys.private("orchestrator"))
    sha = commit(repo, {"allowed_signers": None}, author=ORCH, key=keys.private("orchestrator"))
    found = chain(repo)
    assert found.text == "" and found.commit == sha


def test_an_uncommitted_change_does_not_count_and_is_reported(repo: Path, keys: Keys) -> None:
    (repo / "allowed_signers").write_text(keys.allowed(*EMAIL) + keys.line("builder", ADV), encoding="utf-8")
    found = chain(repo)
    assert found.text == keys.allowed(*EMAIL)
    assert [(p.code, p.commit) for p in found.problems] == [("untrusted-signers", None)]
    assert "not committed" in found.problems[0].message
    (repo / "allowed_signers").unlink()
    assert "deleted in the work tree" in chain(repo).problems[0].message


def test_a_change_merged_from_a_side_branch_needs_the_merge_signed(repo: Path, keys: Keys) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    commit(
        repo,
        {"allowed_signers": keys.allowed(*EMAIL) + keys.line("builder", ADV)},
        author=ORCH,
        key=keys.private("orchestrator"),
    )
    git(repo, "checkout", "-q", "main")
    commit(repo, {"other": "1\n"}, author=BUILDER)
    who = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": BUILDER,
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": BUILDER,
    }
    git(repo, "merge", "-q", "--no-edit", "side", env=who)
    found = chain(repo)
    assert found.text == keys.allowed(*EMAIL)
    assert found.problems and "authored by builder@" in found.problems[0].message


def test_workspace_in_a_folder(tmp_path: Path, keys: Keys) -> None:
    root = init_repo(tmp_path / "nested")
    path = signers_path("docs")
    assert path == "docs/allowed_signers" and signers_path("") == "allowed_signers"
    commit(root, {path: keys.allowed(*EMAIL), "allowed_signers": "ignored\n"}, author="p@x.invalid")
    commit(root, {path: keys.allowed("builder")}, author=BUILDER, key=keys.private("builder"))
    found = chain(root, path=path)
    assert found.text == keys.allowed(*EMAIL) and len(found.problems) == 1


def test_the_environment_replaces_file_and_chain(repo: Path, keys: Keys, tmp_path: Path) -> None:
    commit(repo, {"allowed_signers": "junk\n"}, author=BUILDER)
    outside = tmp_path / "outside"
    outside.write_text(keys.allowed("adversary"), encoding="utf-8")
    found = chain(repo, environ={**os.environ, "LOOPKIT_ALLOWED_SIGNERS": str(outside)})
    assert found == TrustedSigners(keys.allowed("adversary"), "environment", None)
    with pytest.raises(BadInput, match="LOOPKIT_ALLOWED_SIGNERS"):
        chain(repo, environ={**os.environ, "LOOPKIT_ALLOWED_SIGNERS": str(tmp_path / "missing")})


def test_done_when_cases_end_to_end_at_this_layer(repo: Path, keys: Keys, tmp_path: Path) -> None:
    """Every case of issue 9's list, verified with the trusted text of the chain."""
    commit(
        repo,
        {"allowed_signers": keys.allowed(*EMAIL) + keys.line("builder", ADV)},
        author=BUILDER,
        key=keys.private("builder"),
    )
    text = chain(repo).text
    genuine = commit(repo, {"STATUS.md": "- PASS 1\n"}, author=ADV, key=keys.private("adversary"))
    unsigned = commit(repo, {"STATUS.md": "- PASS 2\n"}, author=ADV)
    by_builder = commit(repo, {"STATUS.md": "- PASS 3\n"}, author=ADV, key=keys.private("builder"))
    wrong_author = commit(repo, {"STATUS.md": "- PASS 4\n"}, author=BUILDER, key=keys.private("adversary"))
    fake = tmp_path / "fake-ssh"
    fake.write_text('#!/bin/sh\necho "adversary@loopkit.invalid"\necho Good\nexit 0\n', encoding="utf-8")
    fake.chmod(0o755)
    git(repo, "config", "gpg.ssh.program", str(fake))
    assert {sha: counts(repo, sha, text) for sha in (genuine, unsigned, by_builder, wrong_author)} == {
        genuine: "counts",
        unsigned: "unsigned-record",
        by_builder: "bad-signature",
        wrong_author: "bad-signature",
    }
