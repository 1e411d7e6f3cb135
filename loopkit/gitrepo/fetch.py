"""Fetch the shared remote and fast-forward to it: the read half of a sync.

`inbox wait --sync` needs to see what other clones pushed, nothing more; it must never rebase,
merge or push behind a person's back. So this only fast-forwards, and says why when it cannot.
(`loopkit sync`, section 7, is the full integration; this is the part a waiter can do safely.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopkit.errors import GitError

if TYPE_CHECKING:
    from loopkit.gitrepo import Repo

# git must never ask for a password on the terminal: an agent has no one to type it
_QUIET = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}


def upstream(repo: Repo, *, remote: str | None = None) -> tuple[str, str, str]:
    """(remote, branch on the remote, remote-tracking ref) for the current branch."""
    branch = repo.run("symbolic-ref", "--short", "-q", "HEAD").strip()
    if not branch:
        raise GitError("HEAD is detached: check out a branch to sync")
    if remote is None:
        try:
            tracking = repo.run("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}").strip()
        except GitError:
            tracking = ""
        if tracking and "/" in tracking:
            configured = repo.run("config", "--get", f"branch.{branch}.remote").strip()
            merge = repo.run("config", "--get", f"branch.{branch}.merge").strip()
            name = merge.removeprefix("refs/heads/") or branch
            return configured, name, f"refs/remotes/{configured}/{name}"
        remote = "origin"
    return remote, branch, f"refs/remotes/{remote}/{branch}"


def fetch_fast_forward(repo: Repo, env: dict[str, str], *, remote: str | None = None) -> dict[str, Any]:
    """`git fetch` the current branch's upstream, then fast-forward HEAD (and the work tree) to it.

    Returns `{"remote", "branch", "fetched", "integrated": "none|fast-forward", "head"}`, where
    `fetched` counts the commits that came in. A branch that has diverged from the remote, or
    local changes in the way, is GitError (exit 5) naming `loopkit sync`; nothing is changed then.
    """
    name, branch, tracking = upstream(repo, remote=remote)
    remotes = repo.run("remote").split()
    if name not in remotes:
        raise GitError(f"no remote {name!r} in this clone (git remote add {name} URL)")
    git_env = {**env, **_QUIET}
    repo.run("fetch", "--quiet", "--no-tags", name, f"+refs/heads/{branch}:{tracking}", env=git_env)
    head = repo.run("rev-parse", "--verify", "-q", "HEAD").strip()
    theirs = repo.run("rev-parse", "--verify", "-q", tracking).strip()
    if head == theirs:
        return _result(name, branch, 0, "none", head)
    behind = int(repo.run("rev-list", "--count", f"HEAD..{tracking}").strip() or 0)
    ahead = int(repo.run("rev-list", "--count", f"{tracking}..HEAD").strip() or 0)
    if behind == 0:
        return _result(name, branch, 0, "none", head)
    if ahead:
        raise GitError(
            f"{branch} has {ahead} commit(s) that {name}/{branch} lacks and lacks {behind} of its: "
            "cannot fast-forward; run `loopkit sync`"
        )
    try:
        repo.run("merge", "--ff-only", "--quiet", tracking, env=git_env)
    except GitError as exc:
        raise GitError(f"cannot fast-forward to {name}/{branch}: {exc.message}") from None
    new_head = repo.run("rev-parse", "--verify", "-q", "HEAD").strip()
    return _result(name, branch, behind, "fast-forward", new_head)


def _result(remote: str, branch: str, fetched: int, integrated: str, head: str) -> dict[str, Any]:
    return {"remote": remote, "branch": branch, "fetched": fetched, "integrated": integrated, "head": head}
