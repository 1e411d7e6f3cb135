#!/usr/bin/env python3
"""Many builders, one remote (issue 22): B builders on B phases with disjoint scopes, one adversary
and one orchestrator, each in its own clone of one bare repository served by `git daemon` on
127.0.0.1, every loopkit command with `--sync`, all builders at once.

The orchestrator opens B phases (phase-level `paths = ["src/<phase>/**"]`, one milestone, one
probe `true`). Each builder then takes S steps in its own clone: journal entries and code commits
in its own `src/<phase>/` (plain git, then `loopkit sync --json`), then `probe run` and `claim`.
The adversary polls (`inbox wait --sync`, `next --sync --json`) and records `verdict PASS` on
every open claim; each builder waits for its verdict, consumes it and records `done`.

Reported: time from the start of the builders to every phase DONE, pushes retried (the
`retries` of `sync --json` and the "integrating again" lines `--sync` prints on stderr), p50/p95
of a `--sync` write, and every command that exited 5 (there must be none).

    .venv/bin/python benchmarks/builders.py            # 8 builders x 20 steps
    .venv/bin/python benchmarks/builders.py --quick    # 3 builders x 6 steps
    .venv/bin/python benchmarks/run.py --only 8 [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # remotes.py: the git daemon

from harness import LOOPKIT, isolate, log, snapshot
from remotes import git_daemon

SIZES = {"full": (8, 20), "quick": (3, 6)}
RETRY_LINE = re.compile(r"integrating again \(retry \d+\)")
WRITES = {"journal", "probe", "claim", "verdict", "done", "inbox consume", "phase"}  # `sync` itself apart


@dataclass
class Call:
    who: str
    what: str
    code: int
    seconds: float
    retries: int
    err: str


@dataclass
class Book:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def spec(phase: str) -> str:
    return (
        f'phase = "{phase}"\ntitle = "{phase}"\npaths = ["src/{phase}/**"]\n\n'
        '[[milestones]]\nid = "M1"\ntitle = "it holds"\n\n'
        '  [[milestones.probes]]\n  id = "P1"\n  title = "it holds"\n  run = "true"\n'
    )


def lk(book: Book, who: str, clone: Path, role: str, *args: str, ok: tuple[int, ...] = (0,)) -> Call:
    """One loopkit command with --sync in `clone`, timed and recorded."""
    env = {**os.environ, "LOOPKIT_ROLE": role}
    started = time.perf_counter()
    done = subprocess.run(
        [LOOPKIT or "loopkit", *args, *(() if args[0] == "sync" else ("--sync",))],
        cwd=clone / "docs",
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    what = " ".join(args[:2]) if args[0] == "inbox" else args[0]
    retries = len(RETRY_LINE.findall(done.stderr))
    if args[0] == "sync" and done.returncode == 0:
        retries = int(json.loads(done.stdout).get("retries", 0))
    call = Call(who, what, done.returncode, elapsed, retries, done.stderr.strip()[-300:])
    book.add(call)
    if done.returncode not in ok:
        last = call.err.splitlines()[-1] if call.err else ""
        log(f"  {who}: loopkit {' '.join(args[:2])} exited {done.returncode}: {last}")
    return call


def builder(book: Book, clone: Path, phase: str, steps: int) -> None:
    name = f"builder {phase}"
    code = clone / "src" / phase / "main.py"
    for step in range(steps - 2):
        if step % 2 == 0:
            lk(book, name, clone, "builder", "journal", "add", "--phase", phase,
               "--title", f"step {step}", "--body", f"{phase} step {step}: what I did and why")  # fmt: skip
        else:
            code.parent.mkdir(parents=True, exist_ok=True)
            with code.open("a", encoding="utf-8") as handle:
                handle.write(f"# {phase} step {step}\n")
            git(clone, "add", str(code.relative_to(clone)))
            git(clone, "commit", "-q", "-m", f"{phase}: step {step}")
            lk(book, name, clone, "builder", "sync", "--json")
    lk(book, name, clone, "builder", "probe", "run", "--phase", phase, "--milestone", "M1")
    lk(book, name, clone, "builder", "claim", "--phase", phase, "--milestone", "M1")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        lk(book, name, clone, "builder", "inbox", "wait", "--to", "builder", "--phase", phase,
           "--interval", "1", "--timeout", "60", ok=(0, 124))  # fmt: skip
        lk(book, name, clone, "builder", "inbox", "consume", "--to", "builder", "--phase", phase, "--all")
        gate = lk(book, name, clone, "builder", "gate", "--phase", phase, "--json", ok=(0, 3))
        if gate.code == 0:
            break
    lk(book, name, clone, "builder", "done", "--phase", phase)


def adversary(book: Book, clone: Path, phases: int, stop: threading.Event) -> None:
    passed: set[str] = set()
    while len(passed) < phases and not stop.is_set():
        env = {**os.environ, "LOOPKIT_ROLE": "adversary"}
        started = time.perf_counter()
        done = subprocess.run(
            [LOOPKIT or "loopkit", "next", "--json", "--sync"],
            cwd=clone / "docs", env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        book.add(
            Call("adversary", "next", done.returncode, time.perf_counter() - started,
                 len(RETRY_LINE.findall(done.stderr)), done.stderr.strip()[-300:])
        )  # fmt: skip
        if done.returncode:
            log(f"  adversary: loopkit next --sync exited {done.returncode}: {done.stderr.strip()[-300:]}")
            time.sleep(1)
            continue
        actions = json.loads(done.stdout)["actions"]
        reviews = [a for a in actions if a["action"] == "review"]
        for action in reviews:
            phase, mid = action["phase"], action["milestone"]
            call = lk(
                book, "adversary", clone, "adversary", "verdict", "--phase", phase, "--milestone", mid, "PASS"
            )
            if call.code == 0:
                passed.add(action["phase"])
        if any(a["action"] == "consume" for a in actions):
            lk(book, "adversary", clone, "adversary", "inbox", "consume", "--to", "adversary", "--all")
        if not reviews:
            lk(book, "adversary", clone, "adversary", "inbox", "wait", "--to", "adversary",
               "--interval", "1", "--timeout", "20", ok=(0, 124))  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_builders(tmp: Path, *, builders: int, steps: int) -> dict[str, Any]:
    """Build the remote and the clones under `tmp`, run everyone at once, return the figures."""
    base = tmp / "served"
    base.mkdir(parents=True)
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    subprocess.run([LOOPKIT or "loopkit", "init", "docs"], cwd=seed, check=True, capture_output=True)
    phases = [f"p{n}" for n in range(builders)]
    for phase in phases:
        (seed / "docs" / "phases" / f"{phase}.toml").write_text(spec(phase), encoding="utf-8")
        (seed / "src" / phase).mkdir(parents=True)
        (seed / "src" / phase / "main.py").write_text(f"# {phase}\n", encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "plan: phases and their code")
    git(seed, "push", "-q", str(bare), "main")
    book = Book()
    with git_daemon(base) as served:
        url = f"{served}/remote.git"
        clones: dict[str, Path] = {}
        for name in ["orchestrator", "adversary", *phases]:
            clones[name] = tmp / name
            git(tmp, "clone", "-q", url, str(clones[name]))
            git(clones[name], "config", "user.name", name)
            git(clones[name], "config", "user.email", f"{name}@example.invalid")
        for phase in phases:
            lk(book, "orchestrator", clones["orchestrator"], "orchestrator", "phase", "new", phase)
        for phase in phases:  # each builder sees its phase opened before it starts
            lk(book, f"builder {phase}", clones[phase], "builder", "sync", "--json")
        setup = len(book.calls)
        log(f"  {builders} phases open; {builders} builders x {steps} steps start now")
        stop = threading.Event()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=builders + 1) as pool:
            review = pool.submit(adversary, book, clones["adversary"], builders, stop)
            work = [pool.submit(builder, book, clones[p], p, steps) for p in phases]
            for future in work:
                future.result()
            all_done = time.perf_counter() - started
            stop.set()
            review.result()
        for name, clone in clones.items():
            role = (
                "orchestrator"
                if name == "orchestrator"
                else "adversary"
                if name == "adversary"
                else "builder"
            )
            lk(book, name, clone, role, "sync", "--json")
        status = json.loads(
            subprocess.run(
                [LOOPKIT or "loopkit", "status", "--json"], cwd=clones["orchestrator"] / "docs",
                capture_output=True, text=True, env={**os.environ, "LOOPKIT_ROLE": "orchestrator"},
            ).stdout
        )  # fmt: skip
        heads = {git(c, "rev-parse", "HEAD").strip() for c in clones.values()}
        probes = {
            p: (clones[p] / "docs" / f"JOURNAL-{p}.md").read_text("utf-8").count("<!-- loopkit:probe ")
            for p in phases
        }
    run = book.calls[setup:]
    writes = [c.seconds for c in run if c.what in WRITES and c.code == 0]
    exit5 = [c for c in book.calls if c.code == 5]
    return {
        "builders": builders,
        "steps": steps,
        "time to all DONE s": round(all_done, 1),
        "commands": len(run),
        "--sync writes": len(writes),
        "write p50 s": round(statistics.median(writes), 2) if writes else None,
        "write p95 s": round(percentile(writes, 0.95), 2) if writes else None,
        "pushes retried": sum(c.retries for c in book.calls),
        "exit 5": len(exit5),
        "exit 5 commands": sorted(
            {f"{c.who}: {c.what}: {c.err.splitlines()[-1] if c.err else ''}" for c in exit5}
        )[:5],
        "other failures": len([c for c in book.calls if c.code not in (0, 3, 5, 124)]),
        "phases done": sum(1 for p in status.get("phases", []) if p["state"] == "done"),
        "probe runs per phase": sorted(set(probes.values())),
        "clones converged": len(heads) == 1,
    }


def report(figures: dict[str, Any]) -> None:
    print(f"many builders, one remote: {figures['builders']} builders x {figures['steps']} steps, "
          "1 adversary, 1 orchestrator, every command --sync, one git daemon on 127.0.0.1")  # fmt: skip
    for key, value in figures.items():
        if key not in ("builders", "steps"):
            print(f"  {key}: {value}")


def run_builders(tmp: Path, quick: bool) -> None:
    """Scenario 8 of benchmarks/run.py (its figures printed as they come; not in the ratio table)."""
    builders, steps = SIZES["quick" if quick else "full"]
    where = tmp / "builders"
    where.mkdir()
    report(bench_builders(where, builders=builders, steps=steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 builders x 6 steps")
    parser.add_argument("--builders", type=int, help="how many builders (phases)")
    parser.add_argument("--steps", type=int, help="steps per builder (at least 4)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")
    builders, steps = SIZES["quick" if args.quick else "full"]
    builders, steps = args.builders or builders, max(4, args.steps or steps)
    tmp = Path(tempfile.mkdtemp(prefix="loopkit-builders-"))
    isolate(tmp)
    log(f"loopkit code: {snapshot(tmp)}")  # edits to the work tree during the run change nothing
    try:
        report(bench_builders(tmp, builders=builders, steps=steps))
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
