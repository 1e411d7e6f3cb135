#!/usr/bin/env python3
"""How fast `loopkit mcp` answers `initialize`, and that no other command pays for the SDK.

Run with the interpreter loopkit (and the `mcp` extra) is installed in:

    .venv/bin/python benchmarks/mcp_start.py              # N=7
    .venv/bin/python benchmarks/mcp_start.py -n 3 --baseline main

It prints figures and whether each target is met; it never fails on a timing.

- `mcp initialize`: wall-clock from spawning `loopkit mcp` to reading the answer to a raw
  JSON-RPC `initialize` written on its stdin (no SDK client in this process, so the client's own
  import time is not counted). Target: < 2 s (SPEC section 8).
- `--help`, `status`, `inbox list`: fresh processes in a small workspace, medians of N after one
  discarded warm-up, as a ratio to a bare typer app's `--help` (the floor any typer CLI pays).
  Each is also run under `python -X importtime` to show that no `mcp` module is imported.
- `--baseline REF`: the same three commands from `git archive REF` (loopkit before this branch),
  put first on PYTHONPATH, so "no slower than before the extra existed" is a measured ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
HERE = Path(__file__).resolve().parent.parent
LOOPKIT = (
    str(Path(PY).parent / "loopkit") if (Path(PY).parent / "loopkit").exists() else shutil.which("loopkit")
)
TARGET_INIT = 2.0

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "mcp_start benchmark", "version": "0"},
    },
}

BARE_TYPER = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello(name: str = "x") -> None:
    "Say hello."
app()
"""


def median_time(argv: list[str], *, n: int, cwd: Path, env: dict[str, str]) -> float:
    times = []
    for i in range(n + 1):
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
        if i:  # the first run warms the disk cache and compiles bytecode
            times.append(elapsed)
    return statistics.median(times)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def initialize_time(*, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Spawn `loopkit mcp`, write `initialize`, time until its answer's line arrives.

    Returns (wall seconds to the answer, CPU seconds the whole server process used: start,
    answer, and exit at end of input). CPU time says what wall time would be on an idle machine.
    """
    assert LOOPKIT is not None
    cpu = children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [LOOPKIT, "mcp"],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    answer = json.loads(line)
    if answer.get("id") != 1 or "result" not in answer:
        raise SystemExit(f"unexpected answer to initialize: {line[:300]!r}")
    return elapsed, children_cpu() - cpu


def imports_mcp(argv: list[str], *, cwd: Path, env: dict[str, str]) -> bool:
    proc = subprocess.run([PY, "-X", "importtime", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return any(m == "mcp" or m.startswith(("mcp.", "mcp_types")) for m in names)


def workspace(base: Path, env: dict[str, str]) -> Path:
    root = base / "repo"
    root.mkdir()
    run = lambda *a: subprocess.run(a, cwd=root, env=env, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q", "-b", "main")
    (root / "app.txt").write_text("app\n", encoding="utf-8")
    run("git", "add", ".")
    run("git", "commit", "-q", "-m", "init")
    assert LOOPKIT is not None
    run(LOOPKIT, "init")
    (root / "phases" / "px.toml").write_text(
        'phase = "px"\ntitle = "bench"\n\n[[milestones]]\nid = "M1"\ntitle = "one"\n', encoding="utf-8"
    )
    run("git", "add", ".")
    run("git", "commit", "-q", "-m", "workspace")
    run(LOOPKIT, "--role", "orchestrator", "phase", "new", "px")
    run(
        LOOPKIT, "--role", "orchestrator", "inbox", "send", "--to", "builder", "--phase", "px", "--body", "hi"
    )
    return root


def baseline_tree(ref: str, base: Path) -> Path:
    dest = base / f"baseline-{ref.replace('/', '_')}"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(HERE), "archive", ref, "loopkit", "templates", "phases"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=7, help="runs per figure (default 7)")
    parser.add_argument("--baseline", metavar="REF", help="also time loopkit as of this git ref")
    args = parser.parse_args()
    if LOOPKIT is None:
        raise SystemExit("the loopkit command is not installed next to this interpreter")

    with tempfile.TemporaryDirectory(prefix="loopkit-mcp-bench-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPKIT_", "GIT_"))}
        env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", LOOPKIT_ROLE="builder")
        ws = workspace(base, env)
        bare = base / "bare_typer.py"
        bare.write_text(BARE_TYPER, encoding="utf-8")

        commit = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        print(f"loopkit at {commit}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; N={args.n}")

        runs = [initialize_time(cwd=ws, env=env) for _ in range(args.n + 1)][1:]
        inits = [wall for wall, _ in runs]
        init = statistics.median(inits)
        cpu = statistics.median(c for _, c in runs)
        verdict = "met" if init < TARGET_INIT else "NOT met"
        print(
            f"mcp initialize answered: median {init:.3f} s (min {min(inits):.3f}, max {max(inits):.3f}); "
            f"target < {TARGET_INIT:g} s: {verdict}; server CPU per start {cpu:.3f} s"
        )

        floor = median_time([PY, str(bare), "--help"], n=args.n, cwd=ws, env=env)
        print(f"bare typer app --help: {floor:.3f} s (the floor)")
        commands = {"--help": ["--help"], "status": ["status"], "inbox list": ["inbox", "list"]}
        current: dict[str, float] = {}
        for name, argv in commands.items():
            current[name] = median_time([LOOPKIT, *argv], n=args.n, cwd=ws, env=env)
            mcp = imports_mcp(["-m", "loopkit", *argv], cwd=ws, env=env)
            print(
                f"loopkit {name:<11} {current[name]:.3f} s  ({current[name] / floor:.2f}x bare typer)"
                f"  imports mcp: {'YES' if mcp else 'no'}"
            )

        if args.baseline:
            tree = baseline_tree(args.baseline, base)
            old_env = {**env, "PYTHONPATH": str(tree)}
            print(f"baseline {args.baseline} (git archive, first on PYTHONPATH):")
            for name, argv in commands.items():
                old = median_time([PY, "-m", "loopkit", *argv], n=args.n, cwd=ws, env=old_env)
                now = median_time([PY, "-m", "loopkit", *argv], n=args.n, cwd=ws, env=env)
                print(f"  loopkit {name:<11} before {old:.3f} s, now {now:.3f} s: {now / old:.2f}x")


if __name__ == "__main__":
    main()
