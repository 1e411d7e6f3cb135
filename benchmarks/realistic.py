"""Scenario P6: `status --json` on a realistic 200-phase workspace (tests/fastbooks.py: claims,
verdicts, evidence, inboxes, in every state) vs B0, warm (the cache as the last run left it) and
cold (all of .git/loopkit deleted before every run: the history cache, the status memo, the
journal and inbox memos; nothing there is a source of truth)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import LOOPKIT, PY, Row, bench_pair, compare, log, settle


def bench_realistic(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    phases = cfg["realistic_phases"]
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    from fastbooks import build

    ws = build(tmp / "realistic", phases)
    commits = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=ws, capture_output=True, text=True, check=True
    ).stdout.strip()
    log(f"  realistic workspace: {phases} phases, {commits} commits")
    settle()  # else every "warm" run is within the racy window of the build: none is remembered
    cache = ws.parent / ".git" / "loopkit"  # every disposable memo loopkit keeps
    argv = [LOOPKIT, "status", "--json"]
    bare_argv = [PY, str(bare)]

    def cold(cwd: Path) -> None:
        if cwd == ws:
            shutil.rmtree(cache, ignore_errors=True)

    warm, bare_w = bench_pair((argv, ws, {}), (bare_argv, tmp, {}), n)
    rows.append(
        compare(
            "P6",
            f"status --json, realistic {phases} phases ({commits} commits), warm cache / B0",
            warm,
            bare_w,
            goal="status-real",
        )
    )
    check_t, bare_k = bench_pair(([LOOPKIT, "check", "--json"], ws, {}), (bare_argv, tmp, {}), n, ok=(0, 1))
    rows.append(
        compare(
            "P6",
            f"check --json, realistic {phases} phases, warm cache / B0",
            check_t,
            bare_k,
            goal="check-real",
        )
    )
    cold_t, bare_c = bench_pair((argv, ws, {}), (bare_argv, tmp, {}), max(3, n // 2), before=cold)
    rows.append(
        compare("P6", "  same, cold (.git/loopkit deleted before each run) / B0", cold_t, bare_c, "<=", 8.0)
    )

    # issue 11: the report of the same workspace, warm (the view model's cache as status left it):
    # under 2 s and under 5 MB
    page = tmp / "realistic-report.html"
    report_argv = [LOOPKIT, "report", "--out", str(page)]
    report_t, bare_r = bench_pair((report_argv, ws, {}), (bare_argv, tmp, {}), max(3, n // 2))
    rows.append(
        Row(
            "R",
            f"report --out, realistic {phases} phases, warm (goal under 2 s)",
            f"{report_t.median:.2f} s (cpu {report_t.cpu_median:.2f})",
            f"{bare_r.median * 1000:.0f} ms",
            None,
            None,
            None,
        )
    )
    cold_r, _ = bench_pair((report_argv, ws, {}), (bare_argv, tmp, {}), 3, before=cold)
    rows.append(
        Row(
            "R",
            "  same, cold (.git/loopkit deleted before each run)",
            f"{cold_r.median:.2f} s (cpu {cold_r.cpu_median:.2f})",
            f"{bare_r.median * 1000:.0f} ms",
            None,
            None,
            None,
        )
    )
    weight = f"{page.stat().st_size / 1e6:.2f} MB"
    rows.append(Row("R", "  the page's weight (goal under 5 MB)", weight, "", None, None, None))
