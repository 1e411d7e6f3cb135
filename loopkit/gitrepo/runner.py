"""Running git's plumbing directly: one subprocess per question, bytes in and out, every failure a
GitError (exit 5) with git's first line of complaint. GitPython's set-up costs more than most of
the questions loopkit asks, so the hot paths come through here."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from loopkit.errors import GitError

ZERO = "0" * 40
# the diff options blame (history.py) and the replay (provenance.py) share, so the two agree
PINNED = ["-c", "diff.algorithm=myers", "-c", "diff.indentHeuristic=true", "-c", "core.quotePath=false"]


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs in: the caller's, never a pager or a prompt, plus `extra`.

    Replace refs are off for every question loopkit asks: `git replace <forged> <genuine>` would
    otherwise make blame, log and show read a genuine commit's author, trailers and signature in
    place of the forged one's (SPEC sections 3 and 10: identities come from the commit objects)."""
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C", "GIT_NO_REPLACE_OBJECTS": "1"})
    # a question never takes the index lock (`git status` refreshes the index under it): a killed
    # loopkit's git child would otherwise hold it after loopkit is gone, and a person's git fail
    env["GIT_OPTIONAL_LOCKS"] = "0"
    if extra:
        env.update(extra)
    return env


def run_bytes(
    root: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
) -> tuple[int, bytes, bytes]:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=dict(env) if env is not None else git_env(),
            check=False,
        )
    except OSError as exc:
        raise GitError(f"git could not be run: {exc.strerror or exc}") from None
    if check and proc.returncode != 0:
        raise GitError(explain(args, proc.stderr.decode("utf-8", "replace"), proc.returncode))
    return proc.returncode, proc.stdout, proc.stderr


def run(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | bytes | None = None,
) -> str:
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    _, out, _ = run_bytes(root, args, env=env, stdin=data)
    return out.decode("utf-8", "replace")


def explain(args: Sequence[str], stderr: str, status: int) -> str:
    """One line: which git command failed and git's first words about why."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
    detail = detail or (lines[0] if lines else f"exit {status}")
    verb = next((a for a in args if not a.startswith("-") and "=" not in a), args[0] if args else "git")
    return f"git {verb} failed: {detail.removeprefix('fatal: ').removeprefix('error: ')}"
