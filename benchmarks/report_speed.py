#!/usr/bin/env python3
"""How long `loopkit report` takes on a realistic 200-phase workspace, and how heavy the page is.

    .venv/bin/python benchmarks/report_speed.py            # 200 phases, 20 through the whole loop
    .venv/bin/python benchmarks/report_speed.py --quick    # 40 phases, 3 full loops: a smoke run

The workspace is the one `benchmarks/run.py` builds for `status` (its `build_status`, imported):
specs, every phase opened, hand-written journal text, recent probe runs, and the whole loop through
the CLI (evidence, claim, FAIL, fix, re-claim, PASS, DONE) in a sample. Timings are wall-clock
medians of N fresh `loopkit report` processes after one discarded warm-up. Goals: under 2 s and
under 5 MB. It prints figures and whether each goal is met; it never fails on a timing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness  # benchmarks/run.py: the workspace builder, the isolated environment, timing

MB = 1_000_000
GOAL_SECONDS = 2.0
GOAL_BYTES = 5 * MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 phases, 3 full loops, N=3")
    parser.add_argument("--phases", type=int, help="phases (default 200; 40 with --quick)")
    parser.add_argument("--journal-mb", type=float, default=20, help="MB of hand-written journal text")
    parser.add_argument("-n", type=int, help="timed runs (default 7; 3 with --quick)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if harness.LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")
    phases = args.phases or (40 if args.quick else 200)
    full = 3 if args.quick else 20
    n = args.n or (3 if args.quick else 7)
    tmp = Path(tempfile.mkdtemp(prefix="loopkit-report-bench-"))
    harness.isolate(tmp)
    try:
        root = tmp / "books"
        harness.log(f"building {phases} phases ({full} through the whole loop) in {root}")
        started = time.perf_counter()
        info = harness.build_status(
            root, phases=phases, total=int(args.journal_mb * MB), full=full, rounds=2, seed=5
        )
        harness.log(f"built in {time.perf_counter() - started:.0f} s: {info}")
        out = tmp / "loopkit-report.html"
        argv = [harness.LOOPKIT, "report", "--out", str(out)]
        timing = harness.bench(argv, cwd=root / "docs", n=n)
        status = harness.bench([harness.LOOPKIT, "status", "--json"], cwd=root / "docs", n=n)
        size = out.stat().st_size
        median = statistics.median(timing.runs)
        journals = info["journal_bytes"] / MB
        print(f"loopkit report, {phases} phases ({full} full loops, {journals:.0f} MB journals)")
        print(f"machine: {harness.machine()}")
        print(
            f"report: median {median:.2f} s of N={n} "
            f"(min {min(timing.runs):.2f}, max {max(timing.runs):.2f}), "
            f"cpu {timing.cpu_median:.2f} s, peak RSS {timing.maxrss_kb / 1000:.0f} MB; "
            f"goal < {GOAL_SECONDS:g} s: {'met' if median < GOAL_SECONDS else 'NOT met'}"
        )
        print(
            f"page: {size / MB:.2f} MB ({size} bytes); goal < {GOAL_BYTES / MB:g} MB: "
            f"{'met' if size < GOAL_BYTES else 'NOT met'}"
        )
        print(f"status --json on the same workspace: median {statistics.median(status.runs):.2f} s")
    finally:
        if args.keep:
            harness.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
