#!/usr/bin/env python3
"""Scenario 1 of benchmarks/run.py alone: `loopkit journal parse` against markdown-it-py's own parse.

    .venv/bin/python benchmarks/parse_speed.py                 # 1 MB and 4 MB, every shape
    .venv/bin/python benchmarks/parse_speed.py --mb 0.2 0.8 -n 3 --shape "long lists"

For each shape of journal (benchmarks/parse.py): both whole processes timed alternately (the
figure of issue 24, target <= 1.25x), and loopkit's in-process time per MB at the big size over
the small one (linear growth stays near 1). It also times the reader from the end over the big
corpus-style journal. It runs the work tree's loopkit (run.py copies it first) and never fails on
a timing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LOOPKIT, MB, Row, machine, print_table
from parse import bench_parse, corpus_style, shapes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, nargs=2, default=[1.0, 4.0], help="small and big size in MB")
    parser.add_argument("-n", type=int, default=5, help="runs per timing; medians are printed (default 5)")
    parser.add_argument("--shape", action="append", choices=sorted(shapes()), help="only these shapes")
    args = parser.parse_args()
    if LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")

    from loopkit.markdown.journal import probe_records_from_end
    from loopkit.workspace import read_mapped

    small, big = (int(mb * MB) for mb in args.mb)
    cfg = {"parse_sizes": [small, big], "parse_n": args.n, "cmd_n": args.n, "shapes": args.shape}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        bench_parse(Path(folder), cfg, rows)
        path = Path(folder) / "JOURNAL-reverse.md"
        path.write_text(corpus_style(big), encoding="utf-8")
        started = time.perf_counter()
        list(probe_records_from_end(read_mapped(path)))
        reverse = time.perf_counter() - started
    print(machine())
    print_table(rows)
    print(f"reader from the end, every record of the {args.mb[1]:g} MB corpus-style journal: {reverse:.3f} s")


if __name__ == "__main__":
    main()
