"""The remote refuses what loopkit would refuse (SPEC section 11, issue 23).

A real bare repository whose `hooks/pre-receive` is the two-line script docs/remote.md shows,
running the installed loopkit; a clone pushing to it with plain `git push` (over a file remote, and
once over `git daemon`). Genuine work up to DONE is accepted; each forgery, one row per violation
code, is rejected with its code after `remote:` on the pusher's stderr, and the remote's branch does
not move. `verify --json` has SPEC's shape."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LOOPKIT, NOW, Result, git, run_loopkit
from remotes import git_daemon

ROLES = ("builder", "adversary", "orchestrator")
EMAIL = {r: f"{r}@loopkit.invalid" for r in ROLES}
SPEC = """\
phase = "px"
title = "Hooked"

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
HOOK = f"#!/bin/sh\nexec {LOOPKIT} hook pre-receive\n"
TOKEN = "ghp_" + "A1b2C3d4" * 4 + "Ee12"
STAMP = NOW[:16] + "Z"


def lk(clone: Path, *args: str, role: str, env: dict[str, str] | None = None) -> Result:
    result = run_loopkit(*args, cwd=clone, role=role, env=env)
    assert result.code == 0, (args, result.out, result.err)
    return result


def push(clone: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "origin", "HEAD:main"], cwd=clone, capture_output=True, text=True, env=os.environ
    )


def pushed(clone: Path) -> None:
    proc = push(clone)
    assert proc.returncode == 0, proc.stderr


def by_hand(
    clone: Path,
    subject: str,
    *,
    author: str | None = None,
    trailers: dict[str, str] | None = None,
    sign: Path | None = None,
) -> str:
    """A plain `git commit` of every change, as a person (or typed as a role, trailers and all)."""
    git(clone, "add", "-A")
    message = subject + ("\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items()) if trailers else "")
    who = ("-c", f"user.name={author}", "-c", f"user.email={EMAIL[author]}") if author else ()
    signing = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={sign}") if sign else ()
    git(clone, *who, *signing, "commit", "-q", *(["-S"] if sign else []), "-m", message)
    return git(clone, "rev-parse", "HEAD").strip()


def remote_tip(bare: Path) -> str:
    return git(bare, "rev-parse", "refs/heads/main").strip()


def make_keys(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", role, "-f", str(folder / role)],
            check=True,
            capture_output=True,
        )
    return {role: folder / role for role in ROLES}


def signer_line(keys: dict[str, Path], role: str) -> str:
    kind, blob = Path(f"{keys[role]}.pub").read_text(encoding="utf-8").split()[:2]
    return f"{EMAIL[role]} {kind} {blob}\n"


def build(base: Path, *, signed: bool, url: str | None = None) -> tuple[Path, Path, dict[str, Path]]:
    """A hooked bare remote and a clone whose phase px is open, evidenced and claimed, all pushed."""
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK, encoding="utf-8")
    hook.chmod(0o755)
    clone = base / "clone"
    git(base, "clone", "-q", url or str(bare), str(clone))
    (clone / "src").mkdir()
    (clone / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
    lk(clone, "init", role="orchestrator")
    (clone / "phases" / "px.toml").write_text(SPEC, encoding="utf-8")
    keys = make_keys(base / "keys") if signed else {}
    if signed:
        config = clone / "loopkit.toml"
        text = config.read_text("utf-8").replace("signed = []", 'signed = ["adversary"]', 1)
        config.write_text(text, "utf-8")
        lines = signer_line(keys, "adversary") + signer_line(keys, "orchestrator")
    else:
        lines = "# the keys loopkit trusts (docs/signing.md)\n"
    (clone / "allowed_signers").write_text(lines, encoding="utf-8")
    by_hand(clone, "project and loopkit workspace")
    pushed(clone)
    lk(clone, "phase", "new", "px", role="orchestrator")
    lk(clone, "probe", "run", "--phase", "px", role="builder")
    lk(clone, "claim", "--phase", "px", "--milestone", "M1", role="builder")
    pushed(clone)
    return bare, clone, keys


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hooked")
    build(base, signed=False)
    return base


@pytest.fixture(scope="module")
def signed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ssh-keygen") is None:
        pytest.fail("ssh-keygen is needed to test signed records")
    base = tmp_path_factory.mktemp("hooked-signed")
    build(base, signed=True)
    return base


def copy(template: Path, to: Path) -> tuple[Path, Path]:
    shutil.copytree(template, to, symlinks=True)
    git(to / "clone", "remote", "set-url", "origin", str(to / "remote.git"))
    return to / "remote.git", to / "clone"


def status_text(clone: Path) -> str:
    return (clone / "STATUS-px.md").read_text(encoding="utf-8")


def claim_line(clone: Path) -> str:
    return next(line for line in status_text(clone).splitlines() if line.startswith("- **CLAIM** M1"))


def after_claim(clone: Path, line: str) -> None:
    claim = claim_line(clone)
    path = clone / "STATUS-px.md"
    path.write_text(status_text(clone).replace(claim, f"{claim}\n{line}", 1), encoding="utf-8")


def append(clone: Path, name: str, text: str) -> None:
    path = clone / name
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def claim_commit(clone: Path) -> str:
    return git(clone, "log", "-1", "--format=%H", "--grep=^Loopkit-Action: claim$").strip()


# -- each forgery: what the forger does in the clone --------------------------------------------------
def forged_verdict(clone: Path, keys: dict[str, Path]) -> None:
    after_claim(clone, f"- **PASS** M1 @{STAMP} by adversary · claim {claim_commit(clone)} — looks fine")
    by_hand(clone, "review(px): M1 PASS")


def forged_claim(clone: Path, keys: dict[str, Path]) -> None:
    after_claim(clone, f"- **CLAIM** M1 @{STAMP} by builder — trust me")
    by_hand(clone, "status(px): claim M1")


def forged_done(clone: Path, keys: dict[str, Path]) -> None:
    append(clone, "STATUS-px.md", f"\n## DONE\n\n- **DONE** @{STAMP} by builder — M1 PASS\n")
    by_hand(clone, "status(px): ## DONE — M1 PASS")


def forged_evidence(clone: Path, keys: dict[str, Path]) -> None:
    journal = (clone / "JOURNAL-px.md").read_text(encoding="utf-8")
    record = next(line for line in journal.splitlines() if line.startswith("<!-- loopkit:probe "))
    append(clone, "JOURNAL-px.md", f"\n{record}\n")
    by_hand(clone, "journal(px): P1 passes again")


def removed_record(clone: Path, keys: dict[str, Path]) -> None:
    path = clone / "STATUS-px.md"
    path.write_text(status_text(clone).replace(claim_line(clone) + "\n", "", 1), encoding="utf-8")
    by_hand(clone, "status(px): tidy up")


def untrusted_spec(clone: Path, keys: dict[str, Path]) -> None:
    path = clone / "phases" / "px.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('expect = ["200"]', 'expect = ["200", "500"]'))
    by_hand(clone, "spec: 500 is fine too")


def untrusted_signers(clone: Path, keys: dict[str, Path]) -> None:
    append(clone, "allowed_signers", "adversary@loopkit.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake\n")
    by_hand(clone, "my key for the adversary")


def untrusted_config(clone: Path, keys: dict[str, Path]) -> None:
    path = clone / "loopkit.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(EMAIL["adversary"], EMAIL["builder"], 1))
    by_hand(clone, "config: I review myself")


def duplicate_claim(clone: Path, keys: dict[str, Path]) -> None:
    after_claim(clone, claim_line(clone))  # typed as the builder, trailers and all: only the id is reused
    trailers = {
        "Loopkit-Phase": "px",
        "Loopkit-Action": "claim",
        "Loopkit-Role": "builder",
        "Loopkit-Milestone": "M1",
    }
    by_hand(clone, "status(px): claim M1", author="builder", trailers=trailers)


def done_without_gate(clone: Path, keys: dict[str, Path]) -> None:
    append(clone, "STATUS-px.md", f"\n## DONE\n\n- **DONE** @{STAMP} by builder — M1 PASS\n")
    trailers = {"Loopkit-Phase": "px", "Loopkit-Action": "done", "Loopkit-Role": "builder"}
    by_hand(clone, "status(px): ## DONE — M1 PASS", author="builder", trailers=trailers)


def lost_message(clone: Path, keys: dict[str, Path]) -> None:
    path = clone / "ADVERSARY-INBOX.md"
    assert "<!-- loopkit:message " in path.read_text(encoding="utf-8")  # the claim's message is pending
    path.write_text("# ADVERSARY-INBOX\n", encoding="utf-8")
    by_hand(clone, "inbox: read it")


def secret(clone: Path, keys: dict[str, Path]) -> None:
    append(clone, "JOURNAL-px.md", f"\nDeploy with token {TOKEN} for now.\n")
    by_hand(clone, "journal(px): notes")


def _signed_pass(clone: Path, key: Path | None) -> None:
    after_claim(clone, f"- **PASS** M1 @{STAMP} by adversary · claim {claim_commit(clone)} — signed?")
    trailers = {
        "Loopkit-Phase": "px",
        "Loopkit-Action": "verdict",
        "Loopkit-Role": "adversary",
        "Loopkit-Milestone": "M1",
        "Loopkit-Verdict": "PASS",
    }
    by_hand(clone, "review(px): M1 PASS", author="adversary", trailers=trailers, sign=key)


def unsigned_record(clone: Path, keys: dict[str, Path]) -> None:
    _signed_pass(clone, None)


def bad_signature(clone: Path, keys: dict[str, Path]) -> None:
    _signed_pass(clone, keys["builder"])  # the adversary's name and trailers, the builder's key


Forgery = Callable[[Path, dict[str, Path]], None]
ROWS: list[tuple[str, Forgery, bool]] = [
    ("forged-verdict", forged_verdict, False),
    ("forged-claim", forged_claim, False),
    ("forged-done", forged_done, False),
    ("forged-evidence", forged_evidence, False),
    ("removed-record", removed_record, False),
    ("untrusted-spec", untrusted_spec, False),
    ("untrusted-signers", untrusted_signers, False),
    ("untrusted-config", untrusted_config, False),
    ("duplicate-claim", duplicate_claim, False),
    ("done-without-gate", done_without_gate, False),
    ("lost-message", lost_message, False),
    ("secret", secret, False),
    ("unsigned-record", unsigned_record, True),
    ("bad-signature", bad_signature, True),
]


@pytest.mark.parametrize(("code", "forge", "signed"), ROWS, ids=[r[0] for r in ROWS])
def test_each_forgery_is_rejected_with_its_code_and_the_branch_unmoved(
    request: pytest.FixtureRequest, tmp_path: Path, code: str, forge: Forgery, signed: bool
) -> None:
    template = request.getfixturevalue("signed_template" if signed else "template")
    bare, clone = copy(template, tmp_path / "copy")
    keys = {r: template / "keys" / r for r in ROLES} if signed else {}
    before = remote_tip(bare)
    forge(clone, keys)
    proc = push(clone)
    assert proc.returncode != 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("remote:")]
    assert any(f"{code}:" in line for line in said), proc.stderr
    assert remote_tip(bare) == before
    # verify in the clone says the same of the same commits, in SPEC's shape
    result = run_loopkit("verify", f"{before}..HEAD", "--json", cwd=clone)
    assert result.code == 1, result.err
    data = result.json
    assert list(data) == ["schema_version", "ok", "range", "commits", "violations"]
    assert data["ok"] is False and data["commits"] == 1
    assert data["range"] == f"{before}..{git(clone, 'rev-parse', 'HEAD').strip()}"
    assert code in {v["code"] for v in data["violations"]}
    for violation in data["violations"]:
        assert list(violation) == ["code", "commit", "phase", "milestone", "file", "line", "message"]
        assert violation["commit"] == data["range"].split("..")[1]
    assert TOKEN not in result.out + proc.stderr  # a secret is named, never repeated


def _loop_to_done(clone: Path, keys: dict[str, Path], each: Callable[[], None]) -> None:
    env = {"LOOPKIT_SIGNING_KEY": str(keys["adversary"])} if keys else None
    lk(
        clone,
        "verdict",
        "--phase",
        "px",
        "--milestone",
        "M1",
        "PASS",
        "--note",
        "checked",
        role="adversary",
        env=env,
    )
    each()
    lk(clone, "inbox", "consume", "--to", "builder", "--all", role="builder")
    each()
    lk(
        clone,
        "journal",
        "add",
        "--phase",
        "px",
        "--title",
        "Verdict received",
        "--body",
        "M1 passed.",
        role="builder",
    )
    each()
    lk(clone, "done", "--phase", "px", "--summary", "answers 200", role="builder")
    each()


@pytest.mark.parametrize(
    "signed", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["unsigned", "signed"]
)
def test_genuine_work_up_to_done_is_accepted(
    request: pytest.FixtureRequest, tmp_path: Path, signed: bool
) -> None:
    template = request.getfixturevalue("signed_template" if signed else "template")
    bare, clone = copy(template, tmp_path / "copy")
    keys = {r: template / "keys" / r for r in ROLES} if signed else {}
    _loop_to_done(clone, keys, lambda: pushed(clone))
    assert remote_tip(bare) == git(clone, "rev-parse", "HEAD").strip()
    assert "## DONE" in git(bare, "show", "main:STATUS-px.md")


def test_a_genuine_push_of_many_commits_at_once_and_a_new_branch(template: Path, tmp_path: Path) -> None:
    _bare, clone = copy(template, tmp_path / "copy")
    _loop_to_done(clone, {}, lambda: None)
    result = run_loopkit("verify", "--json", cwd=clone)  # default: what HEAD has that origin/main lacks
    assert result.code == 0, result.out
    assert result.json["ok"] is True and result.json["commits"] == 4 and result.json["violations"] == []
    proc = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/done"], cwd=clone, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    pushed(clone)
    proc = subprocess.run(
        ["git", "push", "origin", ":refs/heads/done"], cwd=clone, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr  # a deleted branch passes


def test_a_forgery_on_a_new_branch_is_judged_from_its_merge_base(template: Path, tmp_path: Path) -> None:
    bare, clone = copy(template, tmp_path / "copy")
    forged_done(clone, {})
    proc = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/side"], cwd=clone, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "remote: loopkit: side: forged-done:" in proc.stderr
    assert git(bare, "branch", "--list", "side") == ""


def test_a_merge_is_judged_by_what_neither_parent_had(template: Path, tmp_path: Path) -> None:
    _bare, clone = copy(template, tmp_path / "copy")
    base = git(clone, "rev-parse", "HEAD").strip()
    lk(clone, "journal", "add", "--phase", "px", "--title", "one side", "--body", "a", role="builder")
    git(clone, "checkout", "-q", "-b", "other", base)
    lk(clone, "journal", "add", "--phase", "px", "--title", "other side", "--body", "b", role="adversary")
    git(clone, "checkout", "-q", "main")
    git(clone, "merge", "-q", "--no-ff", "--no-edit", "other")
    result = run_loopkit("verify", f"{base}..HEAD", cwd=clone)
    assert result.code == 0, result.err  # the sides' genuine lines: nothing new in the merge
    git(clone, "reset", "-q", "--hard", "HEAD^")
    git(clone, "merge", "-q", "--no-ff", "--no-commit", "other")
    after_claim(clone, f"- **PASS** M1 @{STAMP} by adversary · claim {claim_commit(clone)} — merged in")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "--no-edit")
    result = run_loopkit("verify", f"{base}..HEAD", "--json", cwd=clone)
    assert result.code == 1
    merge = git(clone, "rev-parse", "HEAD").strip()
    assert [(v["code"], v["commit"]) for v in result.json["violations"]] == [("forged-verdict", merge)]


def test_hand_written_text_is_never_a_violation(template: Path, tmp_path: Path) -> None:
    _bare, clone = copy(template, tmp_path / "copy")
    claim = claim_line(clone)
    append(
        clone,
        "STATUS-px.md",
        f"\nA note typed by hand, quoting a record:\n\n```\n{claim}\n- **PASS** M1\n```\n",
    )
    append(clone, "JOURNAL-px.md", "\n## 2026-06-13T14:00Z — Notes\n\ncurl → 200 ✓ looked fine.\n")
    by_hand(clone, "notes")
    pushed(clone)


def test_usage_errors_are_one_line(template: Path, tmp_path: Path) -> None:
    _, clone = copy(template, tmp_path / "copy")
    for args in (["verify", "nonsense"], ["verify", "nope..HEAD"]):
        result = run_loopkit(*args, cwd=clone)
        assert result.code == 2, result.err
        assert len(result.err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_hook_over_git_daemon(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with git_daemon(served) as url:
        bare, clone, _ = build(served, signed=False, url=f"{url}/remote.git")
        before = remote_tip(bare)
        forged_verdict(clone, {})
        proc = push(clone)
        assert proc.returncode != 0
        assert any(
            line.startswith("remote:") and "forged-verdict:" in line for line in proc.stderr.splitlines()
        )
        assert remote_tip(bare) == before
        git(clone, "reset", "-q", "--hard", "HEAD^")
        _loop_to_done(clone, {}, lambda: pushed(clone))
        assert remote_tip(bare) == git(clone, "rev-parse", "HEAD").strip()


def test_verify_json_of_an_honest_range(template: Path, tmp_path: Path) -> None:
    _, clone = copy(template, tmp_path / "copy")
    first = git(clone, "rev-list", "--max-parents=0", "HEAD").strip()
    result = run_loopkit("verify", f"{first}..HEAD", "--json", cwd=clone)
    assert result.code == 0, result.out
    data = json.loads(result.out)
    assert data == {
        "schema_version": 1,
        "ok": True,
        "range": f"{first}..{git(clone, 'rev-parse', 'HEAD').strip()}",
        "commits": int(git(clone, "rev-list", "--count", f"{first}..HEAD")),
        "violations": [],
    }


def test_verify_from_inside_a_nested_workspace(tmp_path: Path) -> None:
    """Pathspecs are the repository's, wherever verify runs (a range judged from docs/ once saw nothing)."""
    from conftest import make_repo

    repo = make_repo(tmp_path, workspace="docs")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "workspace")
    base = git(repo.root, "rev-parse", "HEAD").strip()
    status = f"# STATUS — phase px\n\n## M1 — one\n\n## DONE\n\n- **DONE** @{STAMP} by builder — M1 PASS\n"
    (repo.ws / "STATUS-px.md").write_text(status, encoding="utf-8")
    by_hand(repo.root, "status(px): ## DONE")
    for cwd in (repo.ws, repo.root):
        result = run_loopkit("verify", f"{base}..HEAD", "--json", cwd=cwd)
        assert result.code == 1, result.out
        found = result.json["violations"]
        assert [(v["code"], v["file"], v["line"]) for v in found] == [("forged-done", "STATUS-px.md", 7)]


@pytest.mark.slow
def test_three_clones_syncing_through_a_hooked_remote_are_never_refused(tmp_path: Path) -> None:
    """test_sync's play, concurrent steps, rebases and merges by `sync`, against a hooked remote:
    every genuine push goes through (a refused one would make its `--sync` exit 5)."""
    from test_sync import assert_converged, finish, make_clones, play

    bare, clones = make_clones(tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK, encoding="utf-8")
    hook.chmod(0o755)
    play(clones)
    assert_converged(clones)
    finish(clones)
    first = git(bare, "rev-list", "--max-parents=0", "main").strip()
    result = run_loopkit("verify", f"{first}..main", "--json", cwd=bare)
    assert result.code == 0, result.out


def test_a_merge_that_takes_one_side_whole_cannot_drop_the_other_sides_records(
    template: Path, tmp_path: Path
) -> None:
    _, clone = copy(template, tmp_path / "copy")
    base = git(clone, "rev-parse", "HEAD").strip()
    before_claim = git(clone, "rev-parse", f"{claim_commit(clone)}^").strip()
    git(clone, "checkout", "-q", "-b", "old", before_claim)
    lk(
        clone,
        "journal",
        "add",
        "--phase",
        "px",
        "--title",
        "an old line of work",
        "--body",
        "b",
        role="builder",
    )
    git(clone, "checkout", "-q", "main")
    git(clone, "merge", "-q", "--no-ff", "--no-commit", "old")
    git(clone, "checkout", "old", "--", "STATUS-px.md")  # the claim is gone, and no line says so
    git(clone, "commit", "-q", "--no-edit")
    merge = git(clone, "rev-parse", "HEAD").strip()
    result = run_loopkit("verify", f"{base}..HEAD", "--json", cwd=clone)
    assert result.code == 1, result.out
    assert [(v["code"], v["commit"]) for v in result.json["violations"]] == [("removed-record", merge)]


@pytest.mark.slow
def test_signed_clones_rebasing_by_sync_and_by_hand_through_a_hooked_remote(
    signed_world: tuple[dict[str, Path], dict[str, Path]], tmp_path: Path
) -> None:
    """test_sync_signed's play (signing on for the builder and the adversary; a rebase by `sync`,
    one by hand that re-signs) with the hook on the remote: no genuine push is refused."""
    from test_sync_signed import test_signed_records_survive_rebases_by_sync_and_by_hand as play_signed

    bare = tmp_path / "remote.git"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK, encoding="utf-8")
    hook.chmod(0o755)
    play_signed(signed_world)
    first = git(bare, "rev-list", "--max-parents=0", "main").strip()
    result = run_loopkit("verify", f"{first}..main", "--json", cwd=bare)
    assert result.code == 0, result.out


@pytest.fixture
def signed_world(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    import test_sync_signed

    return test_sync_signed.world.__wrapped__(tmp_path)  # type: ignore[attr-defined,no-any-return]


def test_a_record_under_another_list_marker_is_still_judged(template: Path, tmp_path: Path) -> None:
    """STATUS reads any list item as a record: `* **PASS** …` counts as one for check, so for verify."""
    bare, clone = copy(template, tmp_path / "copy")
    before = remote_tip(bare)
    after_claim(clone, f"* **PASS** M1 @{STAMP} by adversary · claim {claim_commit(clone)} — ok")
    by_hand(clone, "review(px): M1 PASS")
    proc = push(clone)
    assert proc.returncode != 0 and "forged-verdict:" in proc.stderr, proc.stderr
    assert remote_tip(bare) == before


def test_a_forced_push_cannot_unwrite_a_record(template: Path, tmp_path: Path) -> None:
    bare, clone = copy(template, tmp_path / "copy")
    before = remote_tip(bare)
    git(clone, "reset", "-q", "--hard", f"{claim_commit(clone)}^")  # history without the claim
    (clone / "NOTES.md").write_text("rewritten\n", encoding="utf-8")
    by_hand(clone, "notes")
    proc = subprocess.run(
        ["git", "push", "-f", "origin", "HEAD:main"], cwd=clone, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "removed-record:" in proc.stderr, proc.stderr
    assert remote_tip(bare) == before


def test_reverting_an_unsigned_forgery_that_reached_the_remote_is_accepted(
    signed_template: Path, tmp_path: Path
) -> None:
    """A forged PASS typed as the adversary, trailers and all but unsigned, counts as none (SPEC 3,
    10): it reached the remote before the hook did; a push that reverts it is no `removed-record`,
    and a genuine signed PASS after it passes the DONE gate at the remote (issue 24 item 2)."""
    bare, clone = copy(signed_template, tmp_path / "copy")
    claim = claim_commit(clone)
    after_claim(clone, f"- **PASS** M1 @{STAMP} by adversary · claim {claim} — typed")
    trailers = {"Loopkit-Phase": "px", "Loopkit-Action": "verdict", "Loopkit-Milestone": "M1",
                "Loopkit-Verdict": "PASS", "Loopkit-Claim": claim}  # fmt: skip
    forgery = by_hand(clone, "review(px): M1 PASS", author="adversary", trailers=trailers)
    hook = bare / "hooks" / "pre-receive"
    hook.rename(bare / "hooks" / "off")  # the forgery lands before the hook is installed
    pushed(clone)
    (bare / "hooks" / "off").rename(hook)
    git(clone, "-c", "user.email=builder@loopkit.invalid", "revert", "--no-edit", forgery)
    pushed(clone)
    keys = {"LOOPKIT_SIGNING_KEY": str(signed_template / "keys" / "adversary")}
    lk(clone, "verdict", "PASS", "--phase", "px", "--milestone", "M1", role="adversary", env=keys)
    lk(clone, "inbox", "consume", "--to", "builder", "--all", role="builder")
    lk(clone, "done", "--phase", "px", role="builder")
    proc = push(clone)
    assert proc.returncode == 0, proc.stderr
    assert remote_tip(bare) == git(clone, "rev-parse", "HEAD").strip()


def test_a_done_over_an_unreplayed_pass_is_refused_with_replay_on(template: Path, tmp_path: Path) -> None:
    """SPEC 11, replayed verdicts: the DONE gate counts replayed PASSes only, at the remote too. A
    PASS typed as the adversary (trailers and all) is a genuine record, but no replay stands behind
    it, so `done` refuses; a DONE pushed by hand over it is rejected. The adversary's own run, then
    loopkit's PASS and DONE, is accepted."""
    bare, clone = copy(template, tmp_path / "copy")
    config = clone / "loopkit.toml"
    config.write_text(config.read_text("utf-8").replace("replay = false", "replay = true", 1), "utf-8")
    by_hand(clone, "config: PASSes need the adversary's own runs", author="orchestrator")
    pushed(clone)  # the orchestrator's change: its trust chain accepts it
    before = remote_tip(bare)
    _signed_pass(clone, None)  # genuine by provenance (nothing is signed), not replayed
    lk(clone, "inbox", "consume", "--to", "builder", "--all", role="builder")
    refused = run_loopkit("done", "--phase", "px", "--summary", "M1 PASS", cwd=clone, role="builder")
    assert refused.code == 3 and "unreplayed" in refused.err, refused.err
    done_without_gate(clone, {})
    proc = push(clone)
    assert proc.returncode != 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("remote:")]
    assert any("done-without-gate:" in line and "unreplayed" in line for line in said), proc.stderr
    assert remote_tip(bare) == before
    git(clone, "reset", "-q", "--hard", before)
    lk(clone, "probe", "run", "--phase", "px", role="adversary")
    lk(clone, "verdict", "--phase", "px", "--milestone", "M1", "PASS", role="adversary")
    lk(clone, "inbox", "consume", "--to", "builder", "--all", role="builder")
    lk(clone, "done", "--phase", "px", "--summary", "M1 PASS", role="builder")
    pushed(clone)
    assert "## DONE" in git(bare, "show", "main:STATUS-px.md")
