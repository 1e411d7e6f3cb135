#!/usr/bin/env python3
"""loopkit benchmarks: build realistic workspaces in a temporary folder, time loopkit, print figures.

Run with the interpreter loopkit is installed in:

    .venv/bin/python benchmarks/run.py            # full sizes (building takes minutes)
    .venv/bin/python benchmarks/run.py --quick    # small sizes: a smoke run

It prints figures and whether each target is met, then issue 21's speed goals as one table (each
goal's figure, the goal, met or missed; --quick marks it as a smoke run at small sizes); it never
fails on a timing. It is not part of
the test suite. Command timings are wall-clock medians of N runs (N=7, --quick 3) after one
discarded warm-up run; each command is a fresh process, run the way users and agents run it
(`loopkit …` as a subprocess, the console script of this interpreter). In-process parse timings
are medians of N runs (N=5; --quick 3). Peak RSS is measured apart from the timings,
through a small launcher process: resource.getrusage(RUSAGE_CHILDREN).ru_maxrss after it ran the
command (Linux counts the parent's resident set at fork into a child's ru_maxrss, so a child of
this script, which holds a 10 MB journal's tokens, would report this script's size instead).

The loopkit code under test is copied into the temporary folder at start and put first on
PYTHONPATH, so edits made to the work tree during a long run cannot change what is measured; the
commit (and whether loopkit/ or templates/ had uncommitted changes) is printed with the results.

Layout: harness.py (timing, B0, ratios, the table), corpus.py (texts and small repositories), and
one module per scenario: parse, journal_add (P3, P3n), help, probe_exec (P5, P5c), status (P4b,
warm and cold), realistic (P6: status warm and cold, check warm), inbox (P7), builders (8: many
builders, one remote), report_speed (9: report's time and page size). `.ci/run` runs `--quick` so
none rots.

Only the standard library and loopkit's own dependencies are used. Everything happens under one
temporary folder (kept with --keep, or placed with --dir) with its own HOME and git configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import run_builders
from harness import (
    FULL,
    LOOPKIT,
    QUICK,
    Row,
    isolate,
    log,
    machine,
    print_goals,
    print_table,
    snapshot,
    write_bare,
)
from help import bench_help
from inbox import bench_inbox
from journal_add import bench_journal_add
from parse import bench_parse
from probe_exec import bench_probe_exec
from realistic import bench_realistic
from report_speed import bench_report
from status import bench_status, build_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and N=3: a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--dir", help="build under this folder (must not exist) instead of a temporary one")
    parser.add_argument(
        "--only", default="1,2,3,4,5,6,7,8,9", help="comma-separated benchmark numbers (default all)"
    )
    parser.add_argument("--live", action="store_true", help="run the work tree's loopkit, not a copy")
    parser.add_argument("--build-status", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--phases", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--full", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.build_status:  # a child: build one status workspace, write its facts beside it
        root = Path(args.build_status)
        info = build_status(
            root, phases=args.phases, total=args.bytes, full=args.full, rounds=args.rounds, seed=args.seed
        )
        Path(str(root) + ".json").write_text(json.dumps(info), encoding="utf-8")
        return

    if LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")
    cfg = QUICK if args.quick else FULL
    only = {part.strip() for part in args.only.split(",")}
    if args.dir:
        tmp = Path(args.dir).resolve()
        tmp.mkdir(parents=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="loopkit-bench-"))
    isolate(tmp)
    code_state = "the live work tree (--live)" if args.live else snapshot(tmp)
    load_start = tuple(round(x, 2) for x in os.getloadavg())
    log(f"machine: {machine()}; load average {load_start}")
    log(f"working in {tmp}")
    rows: list[Row] = []
    bare, bare_like = write_bare(tmp)
    timings = {}
    try:
        for number, label, call in (
            ("1", "journal parse against markdown-it-py", lambda: bench_parse(tmp, cfg, rows)),
            ("2", "journal add on a big journal (P3, P3n)", lambda: bench_journal_add(tmp, cfg, rows, bare)),
            ("3", "--help", lambda: bench_help(tmp, cfg, rows, bare, bare_like)),
            ("4", "probe exec (P5, P5c)", lambda: bench_probe_exec(tmp, cfg, rows, bare)),
            ("5", "status on many phases (P4b)", lambda: bench_status(tmp, cfg, rows, bare)),
            ("6", "status on the realistic workspace (P6)", lambda: bench_realistic(tmp, cfg, rows, bare)),
            ("7", "inbox list (P7)", lambda: bench_inbox(tmp, cfg, rows, bare)),
            ("8", "many builders, one remote (issue 22)", lambda: run_builders(tmp, args.quick)),
            ("9", "report on many phases: time and page size", lambda: bench_report(tmp, cfg, rows)),
        ):
            if number not in only:
                continue
            log(f"[{number}] {label}")
            start = time.perf_counter()
            call()
            timings[number] = time.perf_counter() - start
            log(f"[{number}] done in {timings[number]:.0f} s")
    finally:
        if args.keep or args.dir:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"loopkit benchmarks ({'--quick' if args.quick else 'full'}): {machine()}")
    print(f"loopkit code: {code_state}")
    print(
        f"load average at start {load_start}, at end {tuple(round(x, 2) for x in os.getloadavg())} "
        "(other work on the machine shows as noise)"
    )
    print(
        f"command timings: wall-clock median of N={cfg['cmd_n']} runs after one discarded warm-up, "
        f"commands alternated with their baseline; in-process parse timings: median of "
        f"N={cfg['parse_n']} runs.\n"
        "ratio = loopkit's wall median / baseline's (targets are judged on it); cpu ratio = the same for "
        "user+system CPU of the process and its children (less sensitive to other load on the machine).\n"
        "Python bytecode is cached (PYTHONPYCACHEPREFIX in the temporary folder), "
        "as for an installed package."
    )
    print()
    print_table(rows)
    print()
    print_goals(rows, quick=args.quick)
    print()
    print("section times: " + ", ".join(f"[{k}] {v:.0f} s" for k, v in timings.items()))


if __name__ == "__main__":
    main()
