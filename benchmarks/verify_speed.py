#!/usr/bin/env python3
"""How long `loopkit.gitrepo.signing.verify` takes on N signed commits, cold and cached.

    .venv/bin/python benchmarks/verify_speed.py            # 200 commits (a PASS per phase of the
                                                           # realistic 200-phase workspace)
    .venv/bin/python benchmarks/verify_speed.py --commits 50 --runs 3

Everything happens in one temporary folder with its own HOME and git configuration; the keys come
from `ssh-keygen -t ed25519 -N ''`. Cold: no cache file (deleted before each run), one git process
that runs ssh-keygen for every commit. Cached: the answers read back from
`.git/loopkit/signatures.json` (authenticated; no git process). Figures are wall-clock medians of
`--runs` runs. It prints figures; it never fails on a timing."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from loopkit.gitrepo.signing import SigningKey, commit_tree_sign_args, verify

EMAIL = "adversary@loopkit.invalid"


def _git(root: Path, *args: str, env: dict[str, str], stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True, input=stdin
    ).stdout


def build(base: Path, commits: int) -> tuple[Path, list[str], str, dict[str, str]]:
    home = base / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LOOPKIT_"))},
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "adversary",
        "GIT_AUTHOR_EMAIL": EMAIL,
        "GIT_COMMITTER_NAME": "adversary",
        "GIT_COMMITTER_EMAIL": EMAIL,
    }
    key = base / "adversary"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, env=env)
    kind, blob = (base / "adversary.pub").read_text(encoding="utf-8").split()[:2]
    allowed = f"{EMAIL} {kind} {blob}\n"
    root = base / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main", env=env)
    tree = _git(root, "write-tree", env=env).strip()
    sign = commit_tree_sign_args(SigningKey(str(key), "benchmark"), env)
    shas: list[str] = []
    for i in range(commits):
        parents = ["-p", shas[-1]] if shas else []
        shas.append(
            _git(root, *sign, "commit-tree", "-S", *parents, "-m", f"PASS {i}", tree, env=env).strip()
        )
    _git(root, "update-ref", "HEAD", shas[-1], env=env)
    return root, shas, allowed, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopkit-verify-bench-") as tmp:
        started = time.perf_counter()
        root, shas, allowed, env = build(Path(tmp), args.commits)
        print(f"built {args.commits} signed commits in {time.perf_counter() - started:.1f} s")
        cache = root / ".git" / "loopkit" / "signatures.json"
        cold: list[float] = []
        cached: list[float] = []
        for _ in range(args.runs):
            cache.unlink(missing_ok=True)
            t0 = time.perf_counter()
            answers = verify(root, shas, allowed, environ=env)
            cold.append(time.perf_counter() - t0)
            assert all(s.status == "good" and s.principal == EMAIL for s in answers.values()), "not all good"
            t0 = time.perf_counter()
            again = verify(root, shas, allowed, environ=env)
            cached.append(time.perf_counter() - t0)
            assert again == answers, "cached answers differ"
        c, h = statistics.median(cold), statistics.median(cached)
        print(
            f"verify {args.commits} signed commits, cold (one git, ssh-keygen per commit): {c * 1000:.0f} ms"
        )
        print(
            f"verify {args.commits} signed commits, cached:                                {h * 1000:.1f} ms"
        )
        print(f"cache file: {cache.stat().st_size} bytes; cold/cached = {c / h:.0f}x; runs = {args.runs}")


if __name__ == "__main__":
    main()
