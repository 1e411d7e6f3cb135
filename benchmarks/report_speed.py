#!/usr/bin/env python3
"""How long `loopkit report` takes on a realistic 200-phase workspace, and how heavy the page is.

    .venv/bin/python benchmarks/report_speed.py            # 200 phases, 20 through the whole loop
    .venv/bin/python benchmarks/report_speed.py --quick    # 20 phases, 3 full loops, 1 MB: a smoke run
    .venv/bin/python benchmarks/run.py --only 9 [--quick]  # the same, as section 9 of the table

The workspace is the one `benchmarks/run.py` builds for `status` (status.build_status): specs,
every phase opened, hand-written journal text, recent probe runs, and the whole loop through the
CLI (evidence, claim, FAIL, fix, re-claim, PASS, DONE) in a sample. Timings are wall-clock
medians of N fresh `loopkit report` processes after one discarded warm-up (harness.bench). Goals:
under 2 s and under 5 MB. It prints figures and whether each goal is met; it never fails on a
timing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import FULL, LOOPKIT, MB, QUICK, Row, bench, isolate, log, machine, print_table
from status import build_status

GOAL_SECONDS = 2.0
GOAL_BYTES = 5 * MB


def bench_report(tmp: Path, cfg: dict[str, Any], rows: list[Row]) -> None:
    """Section 9: build the status workspace under `tmp` (a fifth of section 5's journal text),
    time `report` and `status --json` on it, and add the report's time and page size to `rows`
    against their goals."""
    phases, full, n = cfg["status_phases"], cfg["status_full"], cfg["cmd_n"]
    journal_bytes = cfg["status_bytes"] // 5
    root = tmp / "report-books"
    log(f"  building {phases} phases ({full} through the whole loop) in {root}")
    started = time.perf_counter()
    info = build_status(root, phases=phases, total=journal_bytes, full=full, rounds=2, seed=5)
    log(f"  built in {time.perf_counter() - started:.0f} s: {info}")
    page = tmp / "loopkit-report.html"
    timing = bench([LOOPKIT or "loopkit", "report", "--out", str(page)], cwd=root / "docs", n=n)
    status = bench([LOOPKIT or "loopkit", "status", "--json"], cwd=root / "docs", n=n)
    size = page.stat().st_size
    what = f"{phases} phases, {full} full loops, {info['journal_bytes'] / MB:.0f} MB journals"
    rows.append(
        Row(
            "9",
            f"report --out, {what} (goal under {GOAL_SECONDS:g} s)",
            f"{timing.median:.2f} s (cpu {timing.cpu_median:.2f}, peak RSS {timing.maxrss_kb / 1000:.0f} MB)",
            f"status --json {status.median:.2f} s",
            timing.median / GOAL_SECONDS,
            "<=",
            1.0,
        )
    )
    rows.append(
        Row("9", f"report page size (goal under {GOAL_BYTES / MB:g} MB)", f"{size / MB:.2f} MB", "",
            size / GOAL_BYTES, "<=", 1.0)
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 phases, 3 full loops, N=3")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")
    tmp = Path(tempfile.mkdtemp(prefix="loopkit-report-bench-"))
    isolate(tmp)
    rows: list[Row] = []
    try:
        bench_report(tmp, QUICK if args.quick else FULL, rows)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"loopkit report ({'--quick' if args.quick else 'full'}): {machine()}")
    print_table(rows)


if __name__ == "__main__":
    main()
