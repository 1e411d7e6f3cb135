"""What every command checks of its clone on opening the workspace, cheaply (a stat and one small
read, no git unless there is something to do): whether a killed sync left a step to finish, and
whether the clone's own config has the merge driver (SPEC section 7). `services/sync.py::on_open`
does the work when one of them asks for it. `ensure_driver` is the one writer of the driver's
config (`init`, `sync` and that first command)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

from loopkit.errors import GitError

SYNC_INTENT = "loopkit/sync.json"  # in the clone's git dir: a sync's step under way (remote.py)


def needs_care(repo_root: Path | None) -> bool:
    """True when a sync's step is pending or the clone's config file names no merge driver."""
    if repo_root is None:
        return False
    from loopkit.workspace import _git_dir

    git_dir = _git_dir(repo_root)
    if git_dir is None:
        return False
    return sync_pending(git_dir) or not driver_configured(repo_root, git_dir, ask_git=False)


def sync_pending(git_dir: Path) -> bool:
    return (git_dir / SYNC_INTENT).exists()


def driver_configured(repo_root: Path, git_dir: Path, *, ask_git: bool = True) -> bool:
    """Whether git would find merge.loopkit.driver: the clone's config file says so at a glance;
    else (with `ask_git`) git is asked, for a driver set in a global or included config."""
    common = git_dir
    with contextlib.suppress(OSError):  # a linked worktree: the config is in the common dir
        common = (git_dir / (git_dir / "commondir").read_text("utf-8").strip()).resolve()
    with contextlib.suppress(OSError):
        text = (common / "config").read_text("utf-8", errors="replace")
        if '[merge "loopkit"]' in text and "driver" in text:
            return True
    if not ask_git:
        return False
    return bool(_git(repo_root, "config", "--get", "merge.loopkit.driver", check=False))


def ensure_driver(repo_root: Path, command: str) -> bool:
    """merge.loopkit.* in this clone's own config; True when it had to be written."""
    if _git(repo_root, "config", "--get", "merge.loopkit.driver", check=False) == command:
        return False
    _git(repo_root, "config", "--local", "merge.loopkit.name", "loopkit: records merged by identity")
    _git(repo_root, "config", "--local", "merge.loopkit.driver", command)
    return True


def _git(repo_root: Path, *args: str, check: bool = True) -> str | None:
    """One git config question or write, without GitPython (every command may ask it)."""
    done = subprocess.run(["git", *args], cwd=repo_root, capture_output=True, check=False)
    if done.returncode:
        if not check:
            return None
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {done.returncode}"]
        raise GitError(f"git {args[0]} failed: {detail[0]}")
    return done.stdout.decode("utf-8", "replace").strip()
