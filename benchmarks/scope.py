"""Issue 22: phases worked in parallel in one repository, each with its own code (`src/<phase>/`).

Builds the status workspace of benchmarks/status.py (`build_status`: specs, code commits between
phases, probe runs, full loops through the CLI) twice, without and with phase-level `paths`, and
counts what `status` reports stale: evidence of required probes and current PASSes, each with the
paths that made it so, and how many of those are another phase's commits. With `--old DIR` (a
`git archive` of loopkit before scope: `git archive 7548ce1 loopkit | tar -x -C DIR`), the same
count by that loopkit on the workspace without phase paths, as the issue saw it.

    .venv/bin/python benchmarks/scope.py --phases 200 [--old /tmp/oldlk]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LOOPKIT, PY, isolate, log
from status import build_status


def status_counts(ws: Path, *, old: Path | None = None) -> tuple[dict[str, int], float]:
    """What `status --json` calls stale, counted, and how long it took (cache cold)."""
    env = {**os.environ, "LOOPKIT_NO_CACHE": "1"}
    argv = [LOOPKIT or "loopkit", "status", "--json"]
    if old is not None:
        env["PYTHONPATH"] = str(old)
        argv = [PY, "-m", "loopkit", "status", "--json"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    doc = json.loads(done.stdout)
    counts = {"stale evidence": 0, "stale-evidence problems": 0, "stale-verdict problems": 0}
    for phase in doc["phases"]:
        counts["stale evidence"] += sum(len(m["evidence"]["stale"]) for m in phase["milestones"])
        for problem in phase["problems"]:
            if problem["code"] in ("stale-evidence", "stale-verdict"):
                counts[f"{problem['code']} problems"] += 1
    return counts, elapsed


def attribution(ws: Path) -> dict[str, int]:
    """Every stale record and PASS, by whose commits made it stale: the phase's own code, another
    phase's, or code not in history (the books read in-process, the reasons as `state` gives them)."""
    from loopkit.services.book import load
    from loopkit.services.context import Context

    ctx = Context(cwd=ws, environ={**os.environ, "LOOPKIT_NO_CACHE": "1"})
    found = {"own": 0, "another phase's": 0, "not in history": 0}

    def count(phase: str, paths: tuple[str, ...], lost: bool) -> None:
        if lost or not paths:
            found["not in history"] += 1
        elif all(p.startswith(f"src/{phase}/") for p in paths):
            found["own"] += 1
        else:
            found["another phase's"] += 1

    for phase in ctx.workspace.phases():
        book = load(ctx, phase)
        for m in book.spec.milestones if book.spec else ():
            view = book.evidence(m.id)
            for probe in view.stale:
                count(phase, view.why[probe].paths, view.why[probe].lost)
        for _, stale in book.stale_passes().values():
            count(phase, stale.paths, stale.lost)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", type=int, default=200)
    parser.add_argument("--full", type=int, default=20, help="phases played through the CLI")
    parser.add_argument("--old", type=Path, help="a copy of loopkit before scope, to count as it did")
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temporary folder")
    args = parser.parse_args()
    tmp = args.dir.resolve() if args.dir else Path(tempfile.mkdtemp(prefix="loopkit-scope-"))
    tmp.mkdir(parents=True, exist_ok=True)
    isolate(tmp)
    rows: list[tuple[str, Any]] = []
    for scoped in (False, True):
        root = tmp / ("scoped" if scoped else "unscoped")
        started = time.perf_counter()
        build_status(root, phases=args.phases, total=0, full=args.full, rounds=1, seed=5, scoped=scoped)
        log(f"built {root.name} ({args.phases} phases) in {time.perf_counter() - started:.0f} s")
        ws = root / "docs"
        label = "phase paths" if scoped else "milestone paths on M1 only"
        if args.old is not None and not scoped:
            counts, elapsed = status_counts(ws, old=args.old)
            rows.append((f"before scope (old loopkit), {label}", {**counts, "status s": round(elapsed, 2)}))
        counts, elapsed = status_counts(ws)
        rows.append((f"with scope, {label}", {**counts, "status s": round(elapsed, 2)}))
        rows.append((f"  stale, by whose commits ({label})", attribution(ws)))
    print(f"{args.phases} phases, {args.full} through the CLI; workspaces in {tmp}")
    for what, data in rows:
        print(f"{what}: " + ", ".join(f"{k} {v}" for k, v in data.items()))


if __name__ == "__main__":
    main()
