"""The builder attacking its own gate (issues 24 and 25): each row is one attack, a script of plain
git commands (and loopkit run as another role) in the builder's clone, which holds only the
builder's key. A workspace signs the adversary's records (`[rules] signed = ["adversary"]`), with a
real ed25519 key per role from ssh-keygen and `allowed_signers` in the orchestrator's first commit.

For each row: `gate` exits as the row says (3: refused), `done` refuses when the gate does, and
`check` reports the row's codes and never the ones it must not (a record that counts as none is
never `removed-record`). A new attack is one row."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Repo, make_repo
from test_signed_records import (
    EMAIL,
    ROLES,
    as_,
    copy_repo,
    key_env,
    make_keys,
    ok,
    set_signed,
    signer_line,
    signing,
)

pytestmark = [
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
    pytest.mark.slow,
]

PHASE = "px"
SPEC = """\
phase = "px"
title = "Attacked"

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
# the milestone's scope narrowed to a file the new code does not touch
NARROWED = SPEC.replace('title = "Answers 200"\n', 'title = "Answers 200"\npaths = ["README.md"]\n')
Keys = dict[str, Path]


# -- the workspace before each attack ---------------------------------------------------------------
def opened(base: Path, keys: Keys) -> Repo:
    """The orchestrator's signed first commit (loopkit.toml signing the adversary, allowed_signers,
    the spec), the phase opened, and the builder's evidence for M1."""
    repo = make_repo(base)
    set_signed(repo, ("adversary",))
    repo.write("phases/px.toml", SPEC)
    repo.write("allowed_signers", "".join(signer_line(keys, r) for r in ROLES))
    repo.git("add", "-A")
    repo.git(*as_("orchestrator"), *signing(keys["orchestrator"]), "commit", "-q", "-S", "-m", "set-up")
    ok(repo.lk("phase", "new", PHASE, role="orchestrator"))
    ok(repo.lk("probe", "run", "--phase", PHASE, role="builder"))
    return repo


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, Repo]:
    """ "opened" (nothing claimed), "claimed" (M1 claimed), "passed" (a genuine signed PASS)."""
    found = {"opened": opened(tmp_path_factory.mktemp("opened"), keys)}
    claimed = copy_repo(found["opened"], tmp_path_factory.mktemp("claimed"))
    ok(claimed.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder"))
    found["claimed"] = claimed
    passed = copy_repo(claimed, tmp_path_factory.mktemp("passed"))
    genuine_pass(passed, keys)
    found["passed"] = passed
    return found


# -- what an attacker types --------------------------------------------------------------------------
def status_file(repo: Repo) -> Path:
    return repo.ws / f"STATUS-{PHASE}.md"


def add_record(repo: Repo, line: str, path: Path | None = None) -> None:
    """A record line at the end of M1's records (after its last `- **` line, else its heading)."""
    path = path or status_file(repo)
    lines = path.read_text("utf-8").splitlines(keepends=True)
    at = max((i for i, text in enumerate(lines) if text.startswith("- **")), default=None)
    if at is None:
        at = next(i for i, text in enumerate(lines) if text.startswith("## M1"))
    lines.insert(at + 1, line + "\n")
    path.write_text("".join(lines), "utf-8")


def claim_line(repo: Repo) -> str | None:
    text = status_file(repo).read_text("utf-8")
    return next((t for t in text.splitlines() if t.startswith("- **CLAIM**")), None)


def hand_pass(repo: Repo, *git_options: str, author: str = "adversary", path: Path | None = None) -> str:
    """A PASS line in loopkit's format, bound to the latest claim by commit and id (to HEAD when
    there is none), committed by plain git with every trailer `loopkit verdict` writes."""
    claim = repo.git("log", "-1", "--format=%H", "--grep=^Loopkit-Action: claim$").strip()
    claim = claim or repo.git("rev-parse", "HEAD").strip()
    found = re.search(r"· id (\S+)", claim_line(repo) or "")
    path = path or status_file(repo)
    add_record(
        repo,
        f"- **PASS** M1 @2026-06-13T13:50Z by adversary · claim {claim}"
        + (f" · claim-id {found[1]}" if found else ""),
        path,
    )
    message = (
        "review(px): M1 PASS @13:50Z\n\nLoopkit-Phase: px\nLoopkit-Action: verdict\nLoopkit-Role: adversary\n"
        f"Loopkit-Milestone: M1\nLoopkit-Verdict: PASS\nLoopkit-Claim: {claim}\n"
    )
    repo.git("add", str(path))
    repo.git(*as_(author), *git_options, "commit", "-q", "-m", message)
    return repo.git("rev-parse", "HEAD").strip()


def genuine_pass(repo: Repo, keys: Keys) -> None:
    """The adversary's own `loopkit verdict PASS`, signed with its key; the builder reads its inbox."""
    env = key_env(keys, "adversary")
    ok(repo.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary", env=env))
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))


def edit_config(repo: Repo, old: str, new: str) -> None:
    path = repo.ws / "loopkit.toml"
    text = path.read_text("utf-8")
    assert old in text, text
    path.write_text(text.replace(old, new, 1), "utf-8")


def commit_as_builder(repo: Repo, message: str, *paths: str) -> None:
    repo.git("add", *(paths or ("-A",)))
    repo.git(*as_("builder"), "commit", "-q", "-m", message)


def as_adversary_without_its_key(repo: Repo, keys: Keys, key: str | None = None) -> None:
    """The builder runs `loopkit verdict` as the adversary, with no key or its own; where loopkit
    refuses, it types the PASS and commits it by hand instead."""
    env = {"LOOPKIT_SIGNING_KEY": str(keys[key])} if key else {"LOOPKIT_SIGNING_KEY": ""}
    result = repo.lk("verdict", "--phase", PHASE, "--milestone", "M1", "PASS", role="adversary", env=env)
    if result.code != 0:
        hand_pass(repo, *((*signing(keys[key]), "-c", "commit.gpgsign=true") if key else ()))
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))


# -- the attacks --------------------------------------------------------------------------------------
def signing_off_committed(repo: Repo, keys: Keys) -> None:
    """Issue 25 attack 1: `[rules] signed = []` committed by the builder, then a PASS as the adversary."""
    edit_config(repo, 'signed = ["adversary"]', "signed = []")
    commit_as_builder(repo, "signing off", "loopkit.toml")
    as_adversary_without_its_key(repo, keys)


def signing_off_uncommitted(repo: Repo, keys: Keys) -> None:
    """Attack 1, left uncommitted in the builder's own clone."""
    edit_config(repo, 'signed = ["adversary"]', "signed = []")
    as_adversary_without_its_key(repo, keys)


def adversary_given_the_builders_email(repo: Repo, keys: Keys) -> None:
    """Issue 25 attack 2: `[roles.adversary] email` = the builder's, and "adversary" verdicts signed
    with the builder's own key (allowed_signers untouched: it allows that key for that email)."""
    edit_config(repo, 'email = "adversary@loopkit.invalid"', f'email = "{EMAIL["builder"]}"')
    commit_as_builder(repo, "roles", "loopkit.toml")
    as_adversary_without_its_key(repo, keys, key="builder")


def files_pointed_elsewhere(repo: Repo, keys: Keys) -> None:
    """`[files] status` pointed by the builder at a copy of STATUS, where a PASS is added by hand."""
    copy = repo.ws / "FORGED-px.md"
    copy.write_text(status_file(repo).read_text("utf-8"), "utf-8")
    edit_config(repo, 'status = "STATUS-{phase}.md"', 'status = "FORGED-{phase}.md"')
    commit_as_builder(repo, "files", "loopkit.toml", copy.name)
    hand_pass(repo, path=copy)
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))


def claim_id_replay(repo: Repo, keys: Keys) -> None:
    """Issue 25 attack 3: after a genuine signed PASS, new code, then a CLAIM line reusing the passed
    claim's id at the new code, with the claim trailers (the builder needs no key to claim)."""
    repo.commit_code("src/app.py", "print('never reviewed')\n", "new code")
    ok(repo.lk("probe", "run", "--phase", PHASE, role="builder"))  # fresh evidence: the new code id
    evidence = json.loads(ok(repo.lk("evidence", "--phase", PHASE, "--json")).out)
    code = evidence["milestones"][0]["latest"]["P1"]["code"]
    head = repo.git("rev-parse", "HEAD").strip()
    old = claim_line(repo) or ""
    line = re.sub(r"· head [0-9a-f]+", f"· head {head}", old)
    line = re.sub(r"· code [0-9a-f]+", f"· code {code}", line).replace("13:44:00Z", "13:55:00Z")
    assert line != old and "· id " in line
    add_record(repo, line)
    message = (
        "status(px): claim M1\n\nLoopkit-Phase: px\nLoopkit-Action: claim\nLoopkit-Role: builder\n"
        f"Loopkit-Milestone: M1\nLoopkit-Claim: {head}\n"
    )
    commit_as_builder(repo, message, status_file(repo).name)


def pass_without_a_claim(repo: Repo, keys: Keys) -> None:
    """Issue 25 attack 4: a PASS by hand (here even with the adversary's key) on a milestone never
    claimed."""
    hand_pass(repo, *signing(keys["adversary"]), "-c", "commit.gpgsign=true")


def spec_scoped_away(repo: Repo, keys: Keys) -> None:
    """After a genuine PASS, new code, then the spec's `paths` narrowed by the builder so that the
    new code is outside the milestone's scope."""
    repo.commit_code("src/app.py", "print('never reviewed')\n", "new code")
    spec = repo.ws / "phases" / "px.toml"
    spec.write_text(NARROWED, "utf-8")
    commit_as_builder(repo, "narrow the scope", "phases/px.toml")


def open_phase_given_to_the_builder(repo: Repo, keys: Keys) -> None:
    """After a genuine PASS, new code; `[rules] open_phase` given to the builder, which then commits
    a spec that scopes the milestone away from the new code with `loopkit phase update`."""
    repo.commit_code("src/app.py", "print('never reviewed')\n", "new code")
    edit_config(repo, 'open_phase = ["orchestrator"]', 'open_phase = ["orchestrator", "builder"]')
    commit_as_builder(repo, "let the builder open phases", "loopkit.toml")
    spec = repo.ws / "phases" / "px.toml"
    spec.write_text(NARROWED, "utf-8")
    repo.lk("phase", "update", PHASE, role="builder")  # refused (exit 3) once open_phase is trusted


def allowed_signers_rewritten(repo: Repo, keys: Keys) -> None:
    """The builder lists its key for the adversary in allowed_signers, commits it signed with its
    own key, and signs a PASS with it."""
    path = repo.root / "allowed_signers"
    path.write_text(signer_line(keys, "builder", EMAIL["adversary"]) + path.read_text("utf-8"), "utf-8")
    repo.git("add", "allowed_signers")
    repo.git(*as_("builder"), *signing(keys["builder"]), "commit", "-q", "-S", "-m", "keys")
    as_adversary_without_its_key(repo, keys, key="builder")


def forgery_reverted_then_genuine_pass(repo: Repo, keys: Keys) -> None:
    """Issue 24 item 2: an unsigned PASS with the adversary's author and trailers, `git revert`ed,
    then the adversary's genuine signed PASS: the phase is not blocked."""
    forged = hand_pass(repo)
    repo.git("revert", "--no-edit", forged)
    genuine_pass(repo, keys)


def bad_signature_then_genuine_pass(repo: Repo, keys: Keys) -> None:
    """A PASS signed with the builder's key (bad-signature), then the adversary's genuine PASS: the
    bad one counts as none, neither satisfying nor blocking."""
    hand_pass(repo, *signing(keys["builder"]), "-c", "commit.gpgsign=true")
    genuine_pass(repo, keys)


@dataclass(frozen=True)
class Attack:
    script: Callable[[Repo, Keys], None]
    base: str  # "opened", "claimed" or "passed"
    gate: int  # the gate's exit: 3 refused, 0 only for the rows that must not block the phase
    reported: tuple[str, ...]  # codes check must report
    never: tuple[str, ...] = ("removed-record",)  # codes check must not report


ATTACKS = {
    "signing-off-committed": Attack(
        signing_off_committed, "claimed", 3, ("untrusted-config", "unsigned-record")
    ),
    "signing-off-uncommitted": Attack(
        signing_off_uncommitted, "claimed", 3, ("untrusted-config", "unsigned-record")
    ),
    "role-given-the-builders-email": Attack(
        adversary_given_the_builders_email, "claimed", 3, ("untrusted-config", "bad-signature")
    ),
    "files-pointed-elsewhere": Attack(files_pointed_elsewhere, "claimed", 3, ("untrusted-config",)),
    "claim-id-replay": Attack(claim_id_replay, "passed", 3, ("duplicate-claim", "stale-verdict")),
    "pass-without-a-claim": Attack(pass_without_a_claim, "opened", 3, ()),
    "spec-scoped-away": Attack(
        spec_scoped_away, "passed", 3, ("untrusted-spec", "stale-verdict"), ("removed-record", "bad-spec")
    ),
    "open-phase-given-to-the-builder": Attack(
        open_phase_given_to_the_builder,
        "passed",
        3,
        ("untrusted-config", "untrusted-spec", "stale-verdict"),
        ("removed-record", "bad-spec"),
    ),
    "allowed-signers-rewritten": Attack(
        allowed_signers_rewritten, "claimed", 3, ("untrusted-signers", "bad-signature")
    ),
    "forgery-reverted-then-genuine-pass": Attack(
        forgery_reverted_then_genuine_pass, "claimed", 0, (), ("removed-record", "unsigned-record")
    ),
    "bad-signature-then-genuine-pass": Attack(
        bad_signature_then_genuine_pass, "claimed", 0, ("bad-signature",), ("removed-record",)
    ),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack(name: str, bases: dict[str, Repo], keys: Keys, tmp_path: Path) -> None:
    attack = ATTACKS[name]
    repo = copy_repo(bases[attack.base], tmp_path)
    attack.script(repo, keys)
    gate = repo.lk("gate", "--phase", PHASE, "--json", role="builder")
    assert gate.code == attack.gate, (gate.code, gate.out, gate.err)
    check = repo.lk("check", "--json")
    codes = {p["code"] for p in json.loads(check.out)["problems"]}
    assert set(attack.reported) <= codes, (codes, check.out)
    assert not set(attack.never) & codes, (codes, check.out)
    assert check.code == (1 if codes else 0), check.out
    head = repo.git("rev-parse", "HEAD")
    done = repo.lk("done", "--phase", PHASE, "--json", role="builder")
    if attack.gate:
        assert done.code == 3, (done.code, done.out, done.err)
        assert repo.git("rev-parse", "HEAD") == head and "## DONE" not in status_file(repo).read_text("utf-8")
    else:
        assert done.code == 0, (done.code, done.out, done.err)
        assert "## DONE" in status_file(repo).read_text("utf-8")


def test_every_base_is_what_its_rows_assume(bases: dict[str, Repo]) -> None:
    """Without an attack: nothing claimed, a claim open, a genuine PASS that opens the gate."""
    states = {
        name: json.loads(ok(repo.lk("status", "--json")).out)["phases"][0]["state"]
        for name, repo in bases.items()
    }
    assert states == {"opened": "in-progress", "claimed": "awaiting-review", "passed": "ready"}, states
    assert ok(bases["passed"].lk("gate", "--phase", PHASE, role="builder")).code == 0
