"""What every command checks of its clone on opening the workspace, cheaply (a stat and one small
read, no git unless there is something to do): whether a killed sync left a step to finish, and
whether the clone's own config has the merge driver (SPEC section 7). `services/sync.py::on_open`
does the work when one of them asks for it."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

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
    found = subprocess.run(
        ["git", "config", "--get", "merge.loopkit.driver"], cwd=repo_root, capture_output=True, check=False
    )
    return found.returncode == 0 and bool(found.stdout.strip())
