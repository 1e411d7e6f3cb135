"""Scenario P5/P5c: `probe exec -- true`, without and with its commit, vs B0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import new_repo, simple_phase
from harness import LOOPKIT, PY, Row, bench_pair, compare, settle
from journal_add import check_journal


def bench_probe_exec(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    repo = tmp / "probe"
    ws = new_repo(repo, when=t0)
    simple_phase(ws, repo, when=t0 + timedelta(minutes=5))
    settle()  # as a probe some time after the phase was opened
    role = {"LOOPKIT_ROLE": "builder"}
    base = [LOOPKIT, "probe", "exec", "--phase", "p", "--milestone", "M1", "--id", "X1"]
    bare_argv = [PY, str(bare)]
    # with its commit first: the --no-commit runs leave the journal changed in the work tree
    committed, bare_t = bench_pair(([*base, "--", "true"], ws, role), (bare_argv, tmp, {}), n)
    nocommit, bare_t2 = bench_pair(([*base, "--no-commit", "--", "true"], ws, role), (bare_argv, tmp, {}), n)
    rows.append(
        compare("P5", "probe exec --no-commit -- true vs bare typer app", nocommit, bare_t2, goal="probe-nc")
    )
    rows.append(
        compare("P5c", "probe exec -- true (with commit) vs bare typer app", committed, bare_t, goal="probe")
    )
    check_journal(ws, "4")
