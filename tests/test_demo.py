"""`loopkit demo`: the README's first command plays a whole loop on a fresh repository."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, run_loopkit


def test_demo_plays_a_whole_loop(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = run_loopkit(
        "demo", "--dir", str(target), cwd=tmp_path, env={"LOOPKIT_NOW": "", "COLUMNS": "100"}
    )
    assert result.code == 0, result.err
    out = result.out
    for step in (
        "claim M1 refused (exit 3)",
        "M1 FAIL",
        "M1 PASS",
        "M2 PASS",
        "gate → inbox-pending",
        "## DONE",
    ):
        assert step in out, step
    # the final status block is exactly what `loopkit status` prints (issue 24 item 11), not a layout
    # of the demo's own; ages read "now" for a minute, so the two readings agree
    shown = out.split("\n$ loopkit status\n", 1)[1].split("\n\n$ git log --oneline\n", 1)[0]
    printed = run_loopkit("status", cwd=target / "loop", env={"LOOPKIT_NOW": "", "COLUMNS": "100"})
    assert printed.code == 0, printed.err
    assert shown == printed.out.rstrip("\n")
    assert shown.splitlines()[0].split() == ["PHASE", "STATE", "MILESTONES", "WAITS", "ON", "ACTIVE", "NOTE"]
    subjects = git(target, "log", "--format=%s").splitlines()
    assert subjects[0] == "status(demo): ## DONE — M1+M2 PASS, version endpoint serves a release"
    assert any(s.startswith("review(demo): M1 FAIL @") for s in subjects)
    assert "evidence(demo): 2 probes, 2 PASS" in subjects  # one commit per run (issue 12)
    status = run_loopkit("status", "--json", cwd=target / "loop", env={"LOOPKIT_NOW": ""})
    assert status.code == 0
    phase = json.loads(status.out)["phases"][0]
    assert phase["state"] == "done"
    assert [m["state"] for m in phase["milestones"]] == ["passed", "passed"]
    assert phase["problems"] == []
    check = run_loopkit("check", "--json", cwd=target / "loop", env={"LOOPKIT_NOW": ""})
    assert check.code == 0, check.out
    assert git(target, "status", "--porcelain") == ""


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine\n", encoding="utf-8")
    result = run_loopkit("demo", "--dir", str(tmp_path), cwd=tmp_path)
    assert result.code == 4
    assert result.err.startswith("loopkit: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
