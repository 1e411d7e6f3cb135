"""Running git's plumbing directly: one subprocess per question, bytes in and out, every failure a
GitError (exit 5) with git's first line of complaint. GitPython's set-up costs more than most of
the questions loopkit asks, so the hot paths come through here."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

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


_Started = tuple["subprocess.Popen[bytes]", IO[bytes], IO[bytes]]
_AHEAD: dict[tuple[str, tuple[str, ...]], _Started] = {}


@contextlib.contextmanager
def ahead(root: Path, questions: Iterable[Sequence[str]]) -> Iterator[None]:
    """Start these questions now, each git writing its answer to a temporary file, so that git
    answers while Python parses; within the block, `run_bytes` of the same arguments (no env, no
    stdin) takes the started answer instead of running git again. What nobody asked for by the end
    of the block is killed and forgotten.

    Only for questions whose answer cannot change meanwhile (a log of a commit id, not of HEAD or
    of the work tree): the answer is then the one the later question would get, whenever it runs."""
    import tempfile  # lazy: only a cold status starts questions ahead

    started: list[tuple[str, tuple[str, ...]]] = []
    try:
        for args in questions:
            key = (str(root), tuple(args))
            if key in _AHEAD:
                continue
            # the files outlive this loop: _collect closes them, with the answer or the kill
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
            try:
                proc = subprocess.Popen(
                    ["git", *args], cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=git_env()
                )
            except OSError:
                out.close()
                err.close()
                continue
            _AHEAD[key] = (proc, out, err)
            started.append(key)
        yield
    finally:
        for key in started:
            if (left := _AHEAD.pop(key, None)) is not None:
                left[0].kill()
                _collect(left)


def _collect(started: _Started) -> tuple[int, bytes, bytes]:
    """The exit code and output of a question started ahead, once its git has ended."""
    proc, out, err = started
    code = proc.wait()
    with out, err:
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def run_bytes(
    root: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
) -> tuple[int, bytes, bytes]:
    if _AHEAD and env is None and stdin is None and (got := _AHEAD.pop((str(root), tuple(args)), None)):
        code, out, err = _collect(got)
        if check and code != 0:
            raise GitError(explain(args, err.decode("utf-8", "replace"), code))
        return code, out, err
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
