"""A pytest plugin (`-p cache_twin`): every `loopkit status`/`check`/`next` the tests run
is run three times, with the cache as the previous commands left it, with the cache deleted, and
with it turned off (LOOPKIT_NO_CACHE=1); the three must print the same bytes and exit alike.

tests/test_cache.py runs the suite's status and check tests under it, so each of their golden
files and assertions holds both ways (DESIGN: a cache is disposable).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WATCHED = {"status", "check", "next"}


def _cache_dir(cwd: Path) -> Path | None:
    done = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"], cwd=cwd, capture_output=True, text=True, check=False
    )
    return Path(done.stdout.strip()) / "loopkit" / "cache" if done.returncode == 0 else None


def twin(original: Any) -> Any:
    def run(*args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        first = original(*args, cwd=cwd, env=env, **kwargs)
        if not args or args[0] not in WATCHED or "--help" in args:
            return first
        folder = _cache_dir(cwd)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        cold = original(*args, cwd=cwd, env=env, **kwargs)
        off = original(*args, cwd=cwd, env={**(env or {}), "LOOPKIT_NO_CACHE": "1"}, **kwargs)
        for other, how in ((cold, "with the cache deleted"), (off, "with LOOPKIT_NO_CACHE=1")):
            assert (other.code, other.out, other.err) == (first.code, first.out, first.err), (
                f"loopkit {' '.join(args)} printed differently {how}"
            )
        return first

    run.twinned = True  # type: ignore[attr-defined]
    return run


@pytest.fixture(autouse=True)
def _twin_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    wrapped = twin(conftest.run_loopkit)
    monkeypatch.setattr(conftest, "run_loopkit", wrapped)
    module = request.node.module
    if module is not None and getattr(module, "run_loopkit", None) is not None:
        monkeypatch.setattr(module, "run_loopkit", wrapped)
