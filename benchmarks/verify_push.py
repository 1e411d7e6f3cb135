#!/usr/bin/env python3
"""How long `loopkit verify` takes to judge a push (SPEC 11, issue 23): a 10-commit push on the
realistic 200-phase workspace (tests/fastbooks.py) against B0 (a bare typer app), and a push of
1,000 commits or more (that workspace's whole history).

    .venv/bin/python benchmarks/verify_push.py                  # 200 phases, 10 and ~1,000 commits
    .venv/bin/python benchmarks/verify_push.py --phases 220 --runs 5

The ten commits are genuine (`loopkit journal add` as the builder). The long range is judged as a
new branch would be, from the first commit; fastbooks writes its books by shortcut (a verdict
takes the claim's message out of the inbox without an archive, a few phases hold typed PASSes),
so that range has violations: judging it is the same work. Wall-clock medians of `--runs` runs,
in an isolated HOME. It prints figures; it never fails on a timing."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import LOOPKIT, PY, bench_pair, isolate, write_bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phases", type=int, default=215)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fastbooks import build

    with tempfile.TemporaryDirectory(prefix="loopkit-verify-push-") as name:
        tmp = Path(name)
        env = isolate(tmp)
        ws = build(tmp / "realistic", args.phases)
        for n in range(10):
            subprocess.run(
                [LOOPKIT, "journal", "add", "--phase", "keycloak-199", "--title", f"note {n}", "--body", "x"],
                cwd=ws,
                env={**env, "LOOPKIT_ROLE": "builder"},
                check=True,
                capture_output=True,
            )
        root = subprocess.run(
            ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ws, capture_output=True, text=True, check=True
        ).stdout.strip()
        bare, _ = write_bare(tmp)
        b0 = ([PY, str(bare)], tmp, {})
        for label, rng in (("10-commit push", "HEAD~10..HEAD"), ("whole history", f"{root}..HEAD")):
            argv = [LOOPKIT, "verify", rng, "--json"]
            out = subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True)
            if out.returncode == 1:  # violations found (the shortcut books): timed all the same
                argv = ["sh", "-c", f'"{LOOPKIT}" verify {rng} --json >/dev/null; test $? -le 1']
            doc = json.loads(out.stdout)
            mine, base = bench_pair((argv, ws, {}), b0, args.runs)
            print(
                f"{label}: verify {rng} --json: {doc['commits']} commits, "
                f"{len(doc['violations'])} violations; "
                f"median {mine.median:.3f} s, B0 {base.median:.3f} s, ratio {mine.median / base.median:.2f}"
            )


if __name__ == "__main__":
    main()
