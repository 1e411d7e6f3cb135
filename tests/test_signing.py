"""SSH signing and the pinned verifier, with real keys from ssh-keygen and real git repositories.

The cases of issue 9's "Done when" at the layer of `gitrepo.signing` and `signed.decide`: a genuine
signed commit counts; an unsigned one with the adversary's author, one signed by the builder's key,
one signed by the adversary's key but authored by the builder, and one that the clone's own config
says is good (a fake `gpg.ssh.program`, a fake `gpg.program`, a replace ref) do not."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.config import load_config
from loopkit.errors import BadInput
from loopkit.gitrepo import signing
from loopkit.gitrepo.signing import (
    SigningError,
    SigningKey,
    check_key,
    commit_tree_sign_args,
    require_signing_key,
    signing_key,
    verify,
)
from loopkit.index import Index
from loopkit.signed import Signature, decide, explain

ROLES = ("builder", "adversary", "orchestrator")
EMAIL = {r: f"{r}@loopkit.invalid" for r in ROLES}

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


# -- helpers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Keys:
    folder: Path

    def private(self, role: str) -> Path:
        return self.folder / role

    def public(self, role: str) -> Path:
        return self.folder / f"{role}.pub"

    def line(self, role: str, principal: str | None = None) -> str:
        """An allowed_signers line: the principal (the role's email unless given), then the key."""
        kind, blob = self.public(role).read_text(encoding="utf-8").split()[:2]
        return f"{principal or EMAIL[role]} {kind} {blob}\n"

    def allowed(self, *roles: str) -> str:
        return "".join(self.line(r) for r in roles)


def make_keys(folder: Path) -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", role, "-f", str(folder / role)],
            check=True,
            capture_output=True,
        )
    return Keys(folder)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def git(root: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
    ).stdout


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    return root


def commit(
    root: Path,
    files: dict[str, str | None],
    *,
    author: str,
    key: Path | SigningKey | None = None,
    message: str = "change",
    env: dict[str, str] | None = None,
) -> str:
    """Commit `files` (None deletes) on HEAD as the loopkit committer does: commit-tree, signed
    with `commit_tree_sign_args` when a key is given, then update-ref."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            git(root, "rm", "-q", "--cached", "--", rel)
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        git(root, "add", "--", rel)
    tree = git(root, "write-tree").strip()
    parent = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True, text=True
    )
    parents = ["-p", parent.stdout.strip()] if parent.returncode == 0 else []
    who = {
        "GIT_AUTHOR_NAME": author.split("@")[0],
        "GIT_AUTHOR_EMAIL": author,
        "GIT_COMMITTER_NAME": author.split("@")[0],
        "GIT_COMMITTER_EMAIL": author,
        **(env or {}),
    }
    sign: list[str] = []
    if key is not None:
        signing_key_ = key if isinstance(key, SigningKey) else SigningKey(str(key), "test")
        sign = commit_tree_sign_args(signing_key_)
    args = [*sign, "commit-tree", *(["-S"] if key is not None else []), *parents, "-m", message, tree]
    sha = git(root, *args, env=who).strip()
    git(root, "update-ref", "HEAD", sha)
    return sha


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "repo")
    commit(root, {"README.md": "# project\n"}, author="person@example.invalid")
    return root


# -- decide: the pure rule ---------------------------------------------------------------------------
ADV = EMAIL["adversary"]


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        (Signature("good", ADV, ADV), "counts"),
        (Signature("good", f"{EMAIL['builder']},{ADV}", ADV), "counts"),  # a line with two principals
        (None, "unsigned-record"),
        (Signature("none", None, ADV), "unsigned-record"),
        (Signature("bad", None, ADV), "bad-signature"),
        (Signature("good", EMAIL["builder"], ADV), "bad-signature"),  # the builder's key
        (Signature("good", ADV, EMAIL["builder"]), "bad-signature"),  # authored by the builder
        (Signature("good", "*@loopkit.invalid", ADV), "bad-signature"),  # a wildcard is no role
        (Signature("good", ADV.upper(), ADV), "bad-signature"),  # exact, as loopkit writes both
        (Signature("good", None, ADV), "bad-signature"),
    ],
)
def test_decide_for_a_signed_role(signature: Signature | None, expected: str) -> None:
    verdict = decide(signed_roles=("adversary",), role="adversary", signature=signature, role_email=ADV)
    assert verdict == expected
    line = explain(verdict, role="adversary", signature=signature, role_email=ADV)
    assert line and "\n" not in line


@pytest.mark.parametrize("signature", [None, Signature("none", None, ADV), Signature("bad", None, "x@y")])
def test_decide_for_a_role_not_signed_always_counts(signature: Signature | None) -> None:
    assert (
        decide(signed_roles=("builder",), role="adversary", signature=signature, role_email=ADV) == "counts"
    )
    assert decide(signed_roles=(), role="adversary", signature=signature, role_email=ADV) == "counts"


def test_explain_names_the_reason() -> None:
    builder_key = Signature("good", EMAIL["builder"], ADV)
    assert "builder@" in explain("bad-signature", role="adversary", signature=builder_key, role_email=ADV)
    wrong_author = Signature("good", ADV, EMAIL["builder"])
    assert "authored by builder@" in explain(
        "bad-signature", role="adversary", signature=wrong_author, role_email=ADV
    )
    assert "not signed" in explain("unsigned-record", role="adversary", signature=None, role_email=ADV)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("G", "good"),
        ("N", "none"),
        ("U", "bad"),
        ("B", "bad"),
        ("E", "bad"),
        ("X", "bad"),
        ("Y", "bad"),
        ("R", "bad"),
    ],
)
def test_every_git_status_letter_maps(code: str, status: str) -> None:
    assert signing._status(code) == status


# -- config ---------------------------------------------------------------------------------------------
def test_rules_signed_is_read(tmp_path: Path) -> None:
    path = tmp_path / "loopkit.toml"
    path.write_text('[rules]\nsigned = ["adversary", "builder", "adversary"]\n', encoding="utf-8")
    assert load_config(path).signed == ("adversary", "builder")
    path.write_text("[rules]\n", encoding="utf-8")
    assert load_config(path).signed == ()


def test_rules_signed_refuses_an_unknown_role(tmp_path: Path) -> None:
    path = tmp_path / "loopkit.toml"
    path.write_text('[rules]\nsigned = ["reviewer"]\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"rules\.signed"):
        load_config(path)


# -- the key ------------------------------------------------------------------------------------------
def test_no_key_is_none_and_required_says_how_to_set_one(repo: Path) -> None:
    assert signing_key(repo, {**os.environ}) is None
    with pytest.raises(SigningError) as caught:
        require_signing_key(repo, {**os.environ}, role="adversary")
    assert caught.value.exit_code == 4
    assert isinstance(caught.value, BadInput)
    for words in ("LOOPKIT_SIGNING_KEY", "user.signingkey", "gpg.format ssh"):
        assert words in caught.value.message


def test_environment_key_beats_the_clones_config(repo: Path, keys: Keys) -> None:
    git(repo, "config", "user.signingkey", str(keys.private("builder")))
    assert signing_key(repo, {**os.environ}) == SigningKey(str(keys.private("builder")), "user.signingkey")
    env = {**os.environ, "LOOPKIT_SIGNING_KEY": str(keys.private("adversary"))}
    assert signing_key(repo, env) == SigningKey(str(keys.private("adversary")), "LOOPKIT_SIGNING_KEY")


def test_config_key_relative_to_the_repository_and_home(repo: Path, keys: Keys) -> None:
    shutil.copy(keys.private("adversary"), repo / ".key")
    git(repo, "config", "user.signingkey", ".key")
    key = signing_key(repo, {**os.environ})
    assert key is not None and Path(key.value) == (repo / ".key").resolve()
    home = Path(os.environ["HOME"])
    shutil.copy(keys.private("adversary"), home / "id_test")
    git(repo, "config", "user.signingkey", "~/id_test")
    key = signing_key(repo, {**os.environ})
    assert key is not None and Path(key.value) == (home / "id_test").resolve()


def test_a_key_that_is_not_a_file_is_exit_4(repo: Path) -> None:
    git(repo, "config", "user.signingkey", "0xDEADBEEF")  # a GPG key id: not ours
    with pytest.raises(SigningError, match="not a key file"):
        signing_key(repo, {**os.environ})
    with pytest.raises(SigningError, match="LOOPKIT_SIGNING_KEY"):
        signing_key(repo, {**os.environ, "LOOPKIT_SIGNING_KEY": str(repo / "missing")})


def test_literal_public_key_becomes_key_literal(repo: Path, keys: Keys) -> None:
    text = keys.public("adversary").read_text(encoding="utf-8").strip()
    key = signing_key(repo, {**os.environ, "LOOPKIT_SIGNING_KEY": text})
    assert key is not None and key.is_literal and key.value == f"key::{text}"


def test_a_clones_odd_gpg_program_is_not_run_to_find_the_key(repo: Path, keys: Keys, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    fake = tmp_path / "fake"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    git(repo, "config", "gpg.program", str(fake))
    git(repo, "config", "gpg.ssh.program", str(fake))
    git(repo, "config", "user.signingkey", str(keys.private("adversary")))
    key = require_signing_key(repo, {**os.environ}, role="adversary")
    sha = commit(repo, {"a": "1\n"}, author=ADV, key=key)
    assert not marker.exists()  # signing pinned ssh-keygen too
    assert verify(repo, [sha], keys.allowed("adversary"))[sha].status == "good"


def test_check_key_refuses_a_public_key_without_its_private_half(tmp_path: Path, keys: Keys) -> None:
    lone = tmp_path / "lone.pub"
    shutil.copy(keys.public("adversary"), lone)
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    with pytest.raises(SigningError) as caught:
        check_key(SigningKey(str(lone), "LOOPKIT_SIGNING_KEY"), env)
    assert "ssh-add" in caught.value.message and "LOOPKIT_SIGNING_KEY" in caught.value.message
    check_key(SigningKey(str(keys.private("adversary")), "LOOPKIT_SIGNING_KEY"), env)  # a good one passes


# -- signing and verifying ----------------------------------------------------------------------------
def test_signed_commit_verifies_good_and_counts(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=keys.private("adversary"))
    assert "-----BEGIN SSH SIGNATURE-----" in git(repo, "cat-file", "commit", sha)
    sig = verify(repo, [sha], keys.allowed("builder", "adversary", "orchestrator"))[sha]
    assert sig == Signature("good", ADV, ADV)
    assert decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV) == "counts"


def test_unsigned_commit_with_the_adversarys_author_is_none(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV)
    sig = verify(repo, [sha], keys.allowed("adversary"))[sha]
    assert sig == Signature("none", None, ADV)
    assert (
        decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV)
        == "unsigned-record"
    )


def test_signed_by_the_builders_key(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=keys.private("builder"))
    # the builder's key listed for the builder: good, but its principal is the builder
    listed = verify(repo, [sha], keys.allowed("builder", "adversary"))[sha]
    assert listed == Signature("good", EMAIL["builder"], ADV)
    # not listed at all: git says U, which is bad
    unlisted = verify(repo, [sha], keys.allowed("adversary"))[sha]
    assert unlisted == Signature("bad", None, ADV)
    for sig in (listed, unlisted):
        assert (
            decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV)
            == "bad-signature"
        )


def test_signed_by_the_adversarys_key_but_authored_by_the_builder(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=EMAIL["builder"], key=keys.private("adversary"))
    sig = verify(repo, [sha], keys.allowed("builder", "adversary"))[sha]
    assert sig == Signature("good", ADV, EMAIL["builder"])  # git's G alone would accept it
    assert (
        decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV)
        == "bad-signature"
    )


def test_a_tampered_commit_is_bad(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- FAIL\n"}, author=ADV, key=keys.private("adversary"), message="FAIL")
    body = git(repo, "cat-file", "commit", sha).replace("\nFAIL\n", "\nPASS\n")
    forged = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=body).strip()
    assert verify(repo, [forged], keys.allowed("adversary"))[forged] == Signature("bad", None, ADV)


def test_mailmap_does_not_change_the_author(repo: Path, keys: Keys) -> None:
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=EMAIL["builder"], key=keys.private("adversary"))
    commit(
        repo, {".mailmap": f"adversary <{ADV}> builder <{EMAIL['builder']}>\n"}, author="p@example.invalid"
    )
    assert verify(repo, [sha], keys.allowed("adversary"))[sha].author_email == EMAIL["builder"]


FAKE_SSH = """#!/bin/sh
# answers "good" for anyone, as a clone's own gpg.ssh.program could
case "$*" in
  *find-principals*) echo "adversary@loopkit.invalid" ;;
  *) echo 'Good "git" signature for adversary@loopkit.invalid with ED25519 key SHA256:fake' ;;
esac
exit 0
"""

FAKE_GPG = """#!/bin/sh
cat >/dev/null
echo "[GNUPG:] NEWSIG"
echo "[GNUPG:] GOODSIG 0123456789ABCDEF adversary@loopkit.invalid"
echo "[GNUPG:] VALIDSIG 0123456789ABCDEF0123456789ABCDEF01234567 2026-01-01 0 4 0 1 8 00 0123456789ABCDEF0123456789ABCDEF01234567"
echo "[GNUPG:] TRUST_ULTIMATE 0 pgp"
exit 0
"""

FAKE_PGP_SIGNER = """#!/bin/sh
cat >/dev/null
echo "[GNUPG:] SIG_CREATED " >&2
printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nAAAA\\n-----END PGP SIGNATURE-----\\n'
"""


def _script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def _unpinned(repo: Path, sha: str) -> str:
    """What a plain `git log` in this clone says: the attack works there."""
    return git(repo, "log", "--no-show-signature", "--no-walk", "--format=%G?%x00%GS", sha).strip()


def test_a_fake_ssh_program_in_the_clones_config_is_not_used(repo: Path, keys: Keys, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.write_text(keys.allowed("adversary"), encoding="utf-8")
    unsigned = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV)
    builder_signed = commit(repo, {"STATUS.md": "- PASS 2\n"}, author=ADV, key=keys.private("builder"))
    git(repo, "config", "gpg.ssh.program", str(_script(tmp_path, "fake-ssh", FAKE_SSH)))
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    git(repo, "config", "log.showSignature", "true")
    assert _unpinned(repo, builder_signed) == f"G\x00{ADV}"  # the fake fools git itself
    found = verify(repo, [unsigned, builder_signed], keys.allowed("adversary"))
    assert found[unsigned].status == "none"
    assert found[builder_signed] == Signature("bad", None, ADV)


def test_a_fake_gpg_program_and_a_pgp_signature_are_not_trusted(
    repo: Path, keys: Keys, tmp_path: Path
) -> None:
    signer = _script(tmp_path, "fake-sign", FAKE_PGP_SIGNER)
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV)
    # re-make it with an armoured "PGP" signature, as a builder could
    tree = git(repo, "rev-parse", f"{sha}^{{tree}}").strip()
    who = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": ADV,
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": ADV,
    }
    pgp = git(
        repo,
        *("-c", "gpg.format=openpgp", "-c", f"gpg.program={signer}", "-c", "user.signingkey=ABC"),
        *("commit-tree", "-S", "-p", f"{sha}^", "-m", "pgp", tree),
        env=who,
    ).strip()
    git(repo, "config", "gpg.program", str(_script(tmp_path, "fake-gpg", FAKE_GPG)))
    git(repo, "config", "gpg.format", "openpgp")
    assert _unpinned(repo, pgp) == f"G\x00{ADV}"  # pinning gpg.ssh.program alone would not help
    sig = verify(repo, [pgp], keys.allowed("adversary"))[pgp]
    assert sig.status != "good" and sig.principal is None
    assert decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV) != "counts"


def test_a_replace_ref_cannot_stand_a_signed_commit_in(repo: Path, keys: Keys) -> None:
    genuine = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=keys.private("adversary"))
    typed = commit(repo, {"STATUS.md": "- PASS forged\n"}, author=EMAIL["builder"])
    git(repo, "replace", typed, genuine)
    assert git(repo, "log", "--no-walk", "--format=%ae", typed).strip() == ADV  # git is fooled
    env = {
        **os.environ,
        "GIT_REPLACE_REF_BASE": "refs/replace/",
        "GIT_CONFIG_PARAMETERS": "'core.useReplaceRefs'='true'",
    }
    sig = verify(repo, [typed], keys.allowed("adversary"), environ=env)[typed]
    assert sig == Signature("none", None, EMAIL["builder"])


def test_one_git_process_for_many_commits_and_unknown_ones_left_out(
    repo: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = [
        commit(repo, {"f": f"{i}\n"}, author=ADV, key=keys.private("adversary") if i % 2 else None)
        for i in range(5)
    ]
    calls: list[list[str]] = []
    real = signing.run_pinned

    def counting(root: Path, args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(args)
        return real(root, args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(signing, "run_pinned", counting)
    missing = "0" * 39 + "1"
    found = verify(repo, [*reversed(shas), missing, shas[0]], keys.allowed("adversary"))
    assert list(found) == list(reversed(shas))
    assert [found[s].status for s in shas] == ["none", "good", "none", "good", "none"]
    assert sum("log" in a for a in calls) == 1
    with pytest.raises(ValueError, match="full commit id"):
        verify(repo, ["--all"], keys.allowed("adversary"))


# -- an agent-held key -------------------------------------------------------------------------------
@pytest.fixture
def agent(tmp_path: Path) -> Iterator[dict[str, str]]:
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("needs ssh-agent")
    sock = tmp_path / "agent.sock"
    proc = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], check=True, capture_output=True, text=True)
    pid = int(proc.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        yield {**os.environ, "SSH_AUTH_SOCK": str(sock)}
    finally:
        os.kill(pid, signal.SIGTERM)


def test_a_public_key_whose_private_half_an_agent_holds(
    repo: Path, keys: Keys, agent: dict[str, str], tmp_path: Path
) -> None:
    held = tmp_path / "held"
    shutil.copy(keys.private("adversary"), held)
    held.chmod(0o600)
    subprocess.run(["ssh-add", "-q", str(held)], check=True, env=agent, capture_output=True)
    held.unlink()  # only the agent has it now
    pub = tmp_path / "held.pub"
    shutil.copy(keys.public("adversary"), pub)
    env = {**agent, "LOOPKIT_SIGNING_KEY": str(pub)}
    key = require_signing_key(repo, env, role="adversary")
    check_key(key, env)
    sha = commit(
        repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=key, env={"SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]}
    )
    assert verify(repo, [sha], keys.allowed("adversary"))[sha] == Signature("good", ADV, ADV)
    # the same key as a key:: literal in the clone's config
    git(repo, "config", "user.signingkey", "key::" + pub.read_text(encoding="utf-8").strip())
    literal = require_signing_key(repo, agent, role="adversary")
    assert literal.is_literal
    check_key(literal, agent)
    sha2 = commit(
        repo,
        {"STATUS.md": "- PASS 2\n"},
        author=ADV,
        key=literal,
        env={"SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]},
    )
    assert verify(repo, [sha2], keys.allowed("adversary"))[sha2] == Signature("good", ADV, ADV)
    # without the agent the same key cannot sign: exit 4, saying so
    no_agent = {k: v for k, v in env.items() if k != "SSH_AUTH_SOCK"}
    with pytest.raises(SigningError, match="ssh-add"):
        check_key(key, no_agent)


# -- the index's signatures ------------------------------------------------------------------------
def _memory(repo: Path) -> Index:
    return Index.open(repo, repo / ".git", os.environ)


def _cache_file(repo: Path) -> Path:
    return repo / ".git" / "loopkit" / "index" / "signatures.json"


def test_cached_answers_need_no_git_and_deleting_the_cache_changes_nothing(
    repo: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = [
        commit(repo, {"f": "1\n"}, author=ADV, key=keys.private("adversary")),
        commit(repo, {"f": "2\n"}, author=ADV),
    ]
    text = keys.allowed("adversary")
    cold = verify(repo, shas, text, memory=_memory(repo))
    assert _cache_file(repo).is_file()

    def no_git(*args: object, **kw: object) -> object:
        raise AssertionError("a cached answer ran the verifier")

    with monkeypatch.context() as patch:
        patch.setattr(signing, "_run_verify", no_git)
        assert verify(repo, shas, text, memory=_memory(repo)) == cold
    _cache_file(repo).unlink()
    assert verify(repo, shas, text, memory=_memory(repo)) == cold
    # another allowed-signers text is another key: the builder's text does not allow the adversary
    assert verify(repo, shas, keys.allowed("builder"), memory=_memory(repo))[shas[0]].status == "bad"
    assert verify(repo, shas, text, memory=_memory(repo)) == cold


def test_a_planted_cache_entry_is_ignored(repo: Path, keys: Keys) -> None:
    typed = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV)
    text = keys.allowed("adversary")
    assert verify(repo, [typed], text, memory=_memory(repo))[typed].status == "none"
    path = _cache_file(repo)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["entries"]["signers"][signing.signers_digest(text)][typed] = [
        "good",
        ADV,
        ADV,
    ]  # without the MAC key
    path.write_text(json.dumps(data), encoding="utf-8")
    assert verify(repo, [typed], text, memory=_memory(repo))[typed].status == "none"
    path.write_text("{not json", encoding="utf-8")
    assert verify(repo, [typed], text, memory=_memory(repo))[typed].status == "none"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> tuple[Path, list[str]]:
    """Commits of every kind: good, unsigned, builder-signed, adversary key with builder author."""
    root = init_repo(tmp_path_factory.mktemp("mixed") / "repo")
    shas = []
    for i, (author, key) in enumerate(
        [
            (ADV, keys.private("adversary")),
            (ADV, None),
            (ADV, keys.private("builder")),
            (EMAIL["builder"], keys.private("adversary")),
            (EMAIL["orchestrator"], keys.private("orchestrator")),
            (ADV, keys.private("adversary")),
        ]
    ):
        shas.append(commit(root, {"f": f"{i}\n"}, author=author, key=key))
    return root, shas


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cached_and_uncached_answers_agree(
    data: st.DataObject, mixed: tuple[Path, list[str]], keys: Keys
) -> None:
    """The fast path pinned to the slow path: any cache state, any order and repetition of
    commits, any of a few allowed-signers texts, the cached answer is the uncached one."""
    root, shas = mixed
    texts = [
        keys.allowed("adversary"),
        keys.allowed("builder", "adversary", "orchestrator"),
        "",
        keys.allowed("builder"),
    ]
    text = data.draw(st.sampled_from(texts), label="allowed signers")
    if data.draw(st.booleans(), label="start with no cache"):
        _cache_file(root).unlink(missing_ok=True)
    warm = data.draw(st.lists(st.sampled_from(shas), max_size=4), label="already cached")
    verify(root, warm, text, memory=_memory(root))
    asked = data.draw(st.lists(st.sampled_from(shas), min_size=1, max_size=8), label="asked")
    assert verify(root, asked, text, memory=_memory(root)) == verify(root, asked, text)


def test_a_key_on_two_lines_is_named_by_its_first(repo: Path, keys: Keys) -> None:
    """git names one principal: the first line listing the key. A key shared by two roles is
    therefore judged as the first role only (a refusal, never an acceptance); one key per role."""
    sha = commit(repo, {"STATUS.md": "- PASS\n"}, author=ADV, key=keys.private("adversary"))
    twice = keys.line("adversary", EMAIL["builder"]) + keys.line("adversary")
    assert verify(repo, [sha], twice)[sha] == Signature("good", EMAIL["builder"], ADV)
    both = keys.line("adversary", f"{EMAIL['builder']},{ADV}")  # one line, two principals: the same
    sig = verify(repo, [sha], both)[sha]
    assert sig == Signature("good", EMAIL["builder"], ADV)
    assert (
        decide(signed_roles=("adversary",), role="adversary", signature=sig, role_email=ADV)
        == "bad-signature"
    )
