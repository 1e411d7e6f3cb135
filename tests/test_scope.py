"""Scope (SPEC section 1; claim gate and DONE gate condition 2 of section 3): a milestone's evidence,
claim and verdict are about its `paths`, else its phase's, else all the code. Builders on disjoint
scopes in one repository never make each other's evidence or verdicts stale.

Real git in temporary folders, the installed `loopkit` (tests/conftest.py)."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, Result, git, make_repo, run_loopkit
from remotes import git_daemon

from loopkit.config import phase_from
from loopkit.errors import BadInput


def spec(phase: str, *, paths: list[str] | None = None, milestones: dict[str, list[str] | None]) -> str:
    """A phase spec whose milestones each need one probe that passes (`true`)."""
    out = [f'phase = "{phase}"', f'title = "{phase}"']
    if paths is not None:
        out.append(f"paths = {json.dumps(paths)}")
    for mid, own in milestones.items():
        out += ["", "[[milestones]]", f'id = "{mid}"', f'title = "{mid}"']
        if own is not None:
            out.append(f"paths = {json.dumps(own)}")
        out += ["", "  [[milestones.probes]]", '  id = "P1"', '  title = "it holds"', '  run = "true"']
    return "\n".join(out) + "\n"


def ok(result: Result) -> Result:
    assert result.code == 0, (result.code, result.out, result.err)
    return result


def lk_json(repo: Repo, *args: str, role: str = "builder", code: int = 0) -> Any:
    result = repo.lk(*args, "--json", role=role)
    assert result.code == code, (result.code, result.out, result.err)
    return result.json


def open_phases(repo: Repo, specs: dict[str, str]) -> Repo:
    for phase, text in specs.items():
        repo.write(f"docs/phases/{phase}.toml", text)
    for rel in ("a/x.py", "b/y.py", "c/z.py"):
        repo.write(rel, f"# {rel}\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "plan and code")
    for phase in specs:
        ok(repo.lk("phase", "new", phase, role="orchestrator"))
    return repo


@pytest.fixture
def two(tmp_path: Path) -> Repo:
    """Two phases with disjoint scopes: pa's is a/, pb's is b/ (phase-level `paths`)."""
    repo = make_repo(tmp_path, workspace="docs")
    return open_phases(
        repo,
        {
            "pa": spec("pa", paths=["a/**"], milestones={"M1": None}),
            "pb": spec("pb", paths=["b/**"], milestones={"M1": None}),
        },
    )


def stale(repo: Repo, phase: str, mid: str = "M1") -> tuple[list[str], dict[str, list[str]]]:
    doc = lk_json(repo, "evidence", "--phase", phase)
    m = next(m for m in doc["milestones"] if m["id"] == mid)
    return m["stale"], m["stale_paths"]


def passed(repo: Repo, phase: str, mid: str = "M1") -> None:
    """Probe, claim, PASS, and the builder's inbox consumed: the gate needs nothing else."""
    ok(repo.lk("probe", "run", "--phase", phase, "--milestone", mid, role="builder"))
    ok(repo.lk("claim", "--phase", phase, "--milestone", mid, role="builder"))
    ok(repo.lk("verdict", "PASS", "--phase", phase, "--milestone", mid, role="adversary"))
    ok(repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder"))


def gate(repo: Repo, phase: str) -> dict[str, Any]:
    result = repo.lk("gate", "--phase", phase, "--json", role="builder")
    assert result.code in (0, 3), result.err
    doc: dict[str, Any] = result.json
    return doc


def codes(doc: dict[str, Any]) -> list[str]:
    return [u["code"] for u in doc.get("unmet", [])]


# -- the scope of a milestone ------------------------------------------------------------------------
def test_the_milestones_paths_win_else_the_phases_else_all_the_code() -> None:
    text = spec(
        "px", paths=["runner/**", "nix/modules/proxy.nix"], milestones={"M1": ["runner/warm.py"], "M2": None}
    )
    parsed = phase_from(__import__("tomllib").loads(text), "phases/px.toml", expected="px")
    assert parsed.scope("M1") == ("runner/warm.py",)
    assert parsed.scope("M2") == ("runner/**", "nix/modules/proxy.nix")
    assert parsed.scoped
    bare = phase_from(__import__("tomllib").loads(spec("px", milestones={"M1": None})), "p", expected="px")
    assert bare.scope("M1") == () and not bare.scoped  # all the code, and the strict rule


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ('"a/**"', "phases/px.toml: paths must be a list of strings"),
        ('["a/**", 3]', "phases/px.toml: paths must be a list of strings"),
        ('["!a/**"]', "negated patterns are not supported"),
        ('["../a"]', "is not a path inside the repository"),
        ('[""]', "is empty"),
    ],
)
def test_phase_paths_are_read_strictly(paths: str, expected: str) -> None:
    import tomllib

    text = f'phase = "px"\npaths = {paths}\n'
    with pytest.raises(BadInput) as raised:
        phase_from(tomllib.loads(text), "phases/px.toml", expected="px")
    assert expected in raised.value.message


def test_a_bad_phase_paths_is_exit_4_for_the_command_that_needs_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.write("phases/px.toml", 'phase = "px"\npaths = "a/**"\n')
    result = repo.lk("phase", "new", "px", role="orchestrator")
    assert result.code == 4 and "phases/px.toml: paths must be a list of strings" in result.err, result.err


# -- evidence and claims -------------------------------------------------------------------------------
def test_a_commit_in_another_phases_scope_leaves_evidence_fresh_and_the_gate_open(two: Repo) -> None:
    ok(two.lk("probe", "run", "--phase", "pa", role="builder"))
    two.commit_code("b/y.py", "# pb's builder at work\n", "pb: work")
    assert stale(two, "pa") == ([], {})
    passed(two, "pa")  # the claim is accepted: its evidence is fresh
    two.commit_code("b/y.py", "# more of pb\n", "pb: more")
    assert gate(two, "pa")["ok"] is True
    check = lk_json(two, "check", role="orchestrator", code=0)
    assert check["ok"] is True, check
    status = lk_json(two, "status", role="orchestrator")
    pa = next(p for p in status["phases"] if p["phase"] == "pa")
    assert pa["state"] == "ready" and pa["problems"] == [], pa


def test_a_commit_in_the_milestones_own_scope_stales_evidence_and_verdict_naming_it(two: Repo) -> None:
    ok(two.lk("probe", "run", "--phase", "pa", role="builder"))
    two.commit_code("a/x.py", "# changed\n", "pa: work")
    assert stale(two, "pa") == (["P1"], {"P1": ["a/x.py"]})
    refused = two.lk("claim", "--phase", "pa", "--milestone", "M1", role="builder")
    assert refused.code == 3 and "a/x.py" in refused.err, refused.err
    shown = two.lk("evidence", "--phase", "pa", role="builder")
    assert "stale P1 (a/x.py)" in shown.out, shown.out
    why = lk_json(two, "next", "--phase", "pa")["actions"][0]["why"]
    assert why == "P1: stale (code changed since: a/x.py)", why
    status = lk_json(two, "status", role="orchestrator")
    pa = next(p for p in status["phases"] if p["phase"] == "pa")
    assert any("a/x.py" in p["message"] for p in pa["problems"] if p["code"] == "stale-evidence"), pa

    passed(two, "pa")
    two.commit_code("a/x.py", "# changed again\n", "pa: after the PASS")
    unmet = gate(two, "pa")["unmet"]
    assert [u["code"] for u in unmet] == ["stale-verdict"], unmet
    assert "its scope changed" in unmet[0]["message"] and "a/x.py" in unmet[0]["message"]
    check = lk_json(two, "check", role="orchestrator", code=1)
    assert [p["code"] for p in check["problems"]] == ["stale-verdict"], check
    assert "a/x.py" in check["problems"][0]["message"]
    action = lk_json(two, "next", "--phase", "pa")["actions"][0]
    assert action["action"] == "probe" and "a/x.py" in action["why"], action
    report = two.lk("report", "--phase", "pa", "--out", "-")
    assert report.code == 0 and "a/x.py" in report.out


def test_uncommitted_changes_outside_the_scope_leave_a_record_fresh(two: Repo) -> None:
    two.write("b/y.py", "# pb's builder, not committed yet\n")
    run = lk_json(two, "probe", "run", "--phase", "pa")
    record = run["records"][0]
    # the record says what was dirty (SPEC section 4), and the claim gate reads it against the scope
    assert record["dirty"] is True and record["dirty_paths"] == ["b/y.py"], record
    assert stale(two, "pa") == ([], {})
    passed(two, "pa")
    assert gate(two, "pa")["ok"] is True  # nor does the dirty file shut pa's gate
    two.write("a/x.py", "# pa's own file, not committed\n")
    assert codes(gate(two, "pa")) == ["dirty"]
    run = lk_json(two, "probe", "run", "--phase", "pa")
    assert run["records"][0]["dirty_paths"] == ["a/x.py", "b/y.py"]
    assert stale(two, "pa") == (["P1"], {"P1": ["a/x.py"]})
    probe = two.lk("probe", "run", "--phase", "pb", role="builder")
    assert "b/y.py" in probe.err and "a/x.py" not in probe.err  # the warning names pb's own


def test_phase_paths_and_milestone_paths(tmp_path: Path) -> None:
    """M1 has the phase's scope (a/), M2 its own (c/): each goes stale by its own files only."""
    repo = open_phases(
        make_repo(tmp_path, workspace="docs"),
        {"px": spec("px", paths=["a/**"], milestones={"M1": None, "M2": ["c/*.py"]})},
    )
    ok(repo.lk("probe", "run", "--phase", "px", role="builder"))
    repo.commit_code("c/z.py", "# M2's\n")
    assert stale(repo, "px", "M1") == ([], {}) and stale(repo, "px", "M2") == (["P1"], {"P1": ["c/z.py"]})
    ok(repo.lk("probe", "run", "--phase", "px", role="builder"))
    repo.commit_code("a/x.py", "# M1's\n")
    assert stale(repo, "px", "M1") == (["P1"], {"P1": ["a/x.py"]}) and stale(repo, "px", "M2") == ([], {})
    repo.commit_code("b/y.py", "# no one's\n")
    ok(repo.lk("probe", "run", "--phase", "px", role="builder"))
    passed(repo, "px", "M1")
    passed(repo, "px", "M2")
    assert gate(repo, "px")["ok"] is True
    repo.commit_code("c/z.py", "# M2's again\n")
    unmet = gate(repo, "px")["unmet"]
    # every current PASS against its own scope: M2's went stale, M1's (older) did not
    assert [(u["code"], u["milestone"]) for u in unmet] == [("stale-verdict", "M2")], unmet


def test_without_paths_the_strict_rule_as_before(tmp_path: Path) -> None:
    repo = open_phases(
        make_repo(tmp_path, workspace="docs"), {"px": spec("px", milestones={"M1": None, "M2": None})}
    )
    ok(repo.lk("probe", "run", "--phase", "px", role="builder"))
    passed(repo, "px", "M1")
    repo.commit_code("b/y.py", "# anywhere in the code\n")
    # any code change stales every record; the words are those a spec without paths always had
    assert stale(repo, "px", "M2")[0] == ["P1"]
    why = lk_json(repo, "next", "--phase", "px")["actions"][0]["why"]
    assert why == "P1: stale (code changed since)", why
    refused = repo.lk("claim", "--phase", "px", "--milestone", "M2", role="builder")
    assert refused.code == 3 and "stale (code changed since it was recorded); run it again" in refused.err
    ok(repo.lk("probe", "run", "--phase", "px", "--milestone", "M2", role="builder"))
    passed(repo, "px", "M2")
    # M1's PASS names older code, but only the newest PASS must match the code now
    assert gate(repo, "px")["ok"] is True
    repo.commit_code("a/x.py", "# again\n")
    unmet = gate(repo, "px")["unmet"]
    assert [(u["code"], u["milestone"]) for u in unmet] == [("stale-verdict", "M2")], unmet
    assert "code changed since the claim" in unmet[0]["message"] and "a/x.py" in unmet[0]["message"]
    repo.write("c/z.py", "# dirty\n")
    assert "uncommitted changes outside the workspace: c/z.py" in [
        u["message"] for u in gate(repo, "px")["unmet"]
    ]


def test_a_done_phase_is_never_reported_stale(two: Repo) -> None:
    passed(two, "pa")
    ok(two.lk("done", "--phase", "pa", role="builder"))
    two.commit_code("a/x.py", "# after DONE\n")
    two.write("a/x.py", "# and dirty\n")
    status = lk_json(two, "status", role="orchestrator")
    pa = next(p for p in status["phases"] if p["phase"] == "pa")
    assert pa["state"] == "done" and pa["problems"] == [], pa
    assert pa["milestones"][0]["evidence"]["stale"] == []
    assert stale(two, "pa") == ([], {})
    check = lk_json(two, "check", "--phase", "pa", role="orchestrator")
    assert check["ok"] is True, check
    report = two.lk("report", "--phase", "pa", "--out", "-")
    assert report.code == 0
    body = report.out.split("</style>", 1)[1]  # the stylesheet names every state there is
    assert "p-stale" not in body and "stale-" not in body and ">stale<" not in body


def test_a_status_asks_git_once_per_pair_of_code_ids(two: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many records at the same old code: one diff of the two code trees for all of them."""
    from loopkit.gitrepo import code as code_module
    from loopkit.services import view
    from loopkit.services.context import Context

    ok(two.lk("probe", "run", "--phase", "pa", role="builder"))
    ok(two.lk("probe", "run", "--phase", "pb", role="builder"))
    two.commit_code("c/z.py", "# no one's\n")
    asked: Counter[tuple[str, str]] = Counter()
    real = code_module.changed_paths

    def counted(root: Path, old: str, new: str) -> list[str] | None:
        asked[(old, new)] += 1
        return real(root, old, new)

    monkeypatch.setattr(code_module, "changed_paths", counted)
    monkeypatch.setenv("LOOPKIT_NO_CACHE", "1")
    view.read_status(Context(cwd=two.ws, environ={"LOOPKIT_NO_CACHE": "1"}), phase=None)
    assert len(asked) == 1 and set(asked.values()) == {1}, asked


# -- many builders, one remote ---------------------------------------------------------------------
def _lk(clone: Path, *args: str, role: str) -> Result:
    return run_loopkit(*args, "--sync", cwd=clone / "docs", role=role, timeout=300)


def _probes(clone: Path, phase: str) -> int:
    """How many evidence records the builder's journal of a phase holds."""
    text = (clone / "docs" / f"JOURNAL-{phase}.md").read_text("utf-8")
    return text.count("<!-- loopkit:probe ")


@pytest.mark.slow
def test_two_builders_on_disjoint_scopes_over_a_git_daemon(tmp_path: Path) -> None:
    base = tmp_path / "served"
    base.mkdir()
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    (tmp_path / "seed").mkdir()
    seed = make_repo(tmp_path / "seed", workspace="docs")
    for phase, folder in (("pa", "a"), ("pb", "b")):
        own = {mid: [f"{folder}/{mid.lower()}.py"] for mid in ("M1", "M2")}
        seed.write(f"docs/phases/{phase}.toml", spec(phase, paths=[f"{folder}/**"], milestones=own))
        for mid in ("m1", "m2"):
            seed.write(f"{folder}/{mid}.py", f"# {folder} {mid}\n")
    seed.git("add", "-A")
    seed.git("commit", "-q", "-m", "two scopes")
    seed.git("push", "-q", str(bare), "main")
    with git_daemon(base) as served:
        url = f"{served}/remote.git"
        roles = {"orchestrator": "orchestrator", "ba": "builder", "bb": "builder", "adversary": "adversary"}
        clones = {}
        for name in roles:
            clones[name] = tmp_path / name
            git(tmp_path, "clone", "-q", url, str(clones[name]))
            git(clones[name], "config", "user.name", name)
            git(clones[name], "config", "user.email", f"{name}@example.invalid")
        o, a = clones["orchestrator"], clones["adversary"]
        ok(_lk(o, "phase", "new", "pa", role="orchestrator"))
        ok(_lk(o, "phase", "new", "pb", role="orchestrator"))
        sent = 0

        def builder(name: str, phase: str, folder: str) -> list[Result]:
            """Each milestone: a code commit in its own scope, its probes, a claim."""
            clone = clones[name]
            out = []
            for mid in ("M1", "M2"):
                path = clone / folder / f"{mid.lower()}.py"
                path.write_text(path.read_text("utf-8") + f"# {mid}\n", encoding="utf-8")
                git(clone, "commit", "-q", "-am", f"{phase}: {mid}")
                out.append(_lk(clone, "probe", "run", "--phase", phase, "--milestone", mid, role="builder"))
                out.append(
                    _lk(
                        clone,
                        "journal",
                        "add",
                        "--phase",
                        phase,
                        "--title",
                        f"{mid} ready",
                        "--body",
                        "b",
                        role="builder",
                    )
                )
                out.append(_lk(clone, "claim", "--phase", phase, "--milestone", mid, role="builder"))
            return out

        with ThreadPoolExecutor(max_workers=3) as pool:
            work = [
                pool.submit(builder, "ba", "pa", "a"),
                pool.submit(builder, "bb", "pb", "b"),
                pool.submit(
                    lambda: [
                        _lk(
                            o,
                            "inbox",
                            "send",
                            "--to",
                            "adversary",
                            "--subject",
                            f"note {n}",
                            "--body",
                            "b",
                            role="orchestrator",
                        )
                        for n in range(3)
                    ]
                ),
            ]
            results = [r for f in work for r in f.result()]
        sent += 3
        for result in results:
            ok(result)  # no claim refused: the other builder's commits never staled its evidence
        # the adversary reviews both phases: every claim gets a PASS
        for phase in ("pa", "pb"):
            for mid in ("M1", "M2"):
                ok(_lk(a, "verdict", "PASS", "--phase", phase, "--milestone", mid, role="adversary"))
        ok(_lk(a, "inbox", "consume", "--to", "adversary", "--all", role="adversary"))
        for name, phase in (("ba", "pa"), ("bb", "pb")):
            ok(
                _lk(
                    clones[name],
                    "inbox",
                    "consume",
                    "--to",
                    "builder",
                    "--phase",
                    phase,
                    "--all",
                    role="builder",
                )
            )
        for name, phase in (("ba", "pa"), ("bb", "pb")):
            ok(_lk(clones[name], "done", "--phase", phase, role="builder"))
            # one probe run per milestone: no re-probe was ever needed
            assert _probes(clones[name], phase) == 2
        for name, role in roles.items():
            ok(run_loopkit("sync", cwd=clones[name] / "docs", role=role))
        seen = [
            run_loopkit("status", "--json", cwd=c / "docs", role="orchestrator").out for c in clones.values()
        ]
        assert all(s == seen[0] for s in seen), "every clone reads the same books"
        status = json.loads(seen[0])
        assert [(p["phase"], p["state"]) for p in status["phases"]] == [("pa", "done"), ("pb", "done")]
        heads = {git(c, "rev-parse", "HEAD") for c in clones.values()}
        assert len(heads) == 1
        # no message lost: the orchestrator's notes, each claim's and each verdict's message, every
        # one archived once and none pending, in every clone
        from test_sync import records

        counts = [records(c / "docs") for c in clones.values()]
        assert all(c == counts[0] for c in counts)
        assert not [k for k in counts[0] if k.startswith("pending:")], counts[0]
        archived = [k for k, n in counts[0].items() if k.startswith("archived:")]
        assert len(archived) == sent + 8 and all(counts[0][k] == 1 for k in archived), counts[0]
