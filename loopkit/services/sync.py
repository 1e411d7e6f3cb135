"""sync, the merge driver, and `--sync` around other commands (SPEC section 7)."""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit.documents.sync import Merged, Synced
from loopkit.errors import GitError, LoopkitError
from loopkit.model import ROLES
from loopkit.model.config import Config, Identity
from loopkit.services.context import Context
from loopkit.workspace import CONFIG_NAME, MERGED, Workspace, book_kind

if TYPE_CHECKING:
    from loopkit.gitrepo.remote import Remote, Resign, SignedCommit

ATTEMPTS = 30  # pushes rejected because the remote moved, then exit 5 (SPEC section 7: a bound)
BACKOFF = (0.1, 2.0)  # seconds: the first wait's ceiling, the largest ceiling; doubling between
Progress = Callable[[str], None] | None


# -- which files are loopkit's --------------------------------------------------------------------
def kind_of(config: Config, rel: str) -> str | None:
    """The merge kind of a workspace file (path relative to the workspace folder), None if none."""
    kind = book_kind(config, rel)[0]
    return kind if kind in MERGED else None


def attributes(config: Config) -> str:
    """The workspace's .gitattributes: loopkit's files merge by record identity."""
    patterns = [config.status, *dict.fromkeys(config.journals.values()), config.inbox]
    globs = [re.sub(r"\{(phase|ROLE|role)\}", "*", p) for p in patterns]
    globs.append(config.archive.rstrip("/") + "/**")
    lines = [
        "# loopkit: its records merge by identity (`loopkit merge-driver`), never line by line;",
        "# every clone needs merge.loopkit.driver in its own config (`loopkit init` or `loopkit sync`).",
        *(f"/{glob} merge=loopkit" for glob in dict.fromkeys(globs)),
    ]
    return "\n".join(lines) + "\n"


def driver_command() -> str:
    """How git calls the driver: the console script next to this Python, else `python -m loopkit`."""
    script = Path(sys.executable).parent / "loopkit"
    head = shlex.quote(str(script)) if script.is_file() else f"{shlex.quote(sys.executable)} -m loopkit"
    return f"{head} merge-driver %O %A %B %P"


def install_driver(repo_root: Path) -> bool:
    """This clone's merge.loopkit.driver, pointing at this loopkit; True when it had to be written."""
    from loopkit.gitrepo.clone import ensure_driver

    return ensure_driver(repo_root, driver_command())


# -- what every command does on opening the workspace of a clone (SPEC section 7) ----------------
def on_open(ws: Workspace, warn: Callable[[str], None]) -> None:
    """A clone made with plain `git clone` gets the merge driver from its first loopkit command
    (said once: the next command finds it), so a plain `git pull` merges loopkit's files by
    identity too; a sync killed between two steps is finished or cleaned up. Called when
    `gitrepo.clone.needs_care` found one of them."""
    from loopkit.gitrepo import clone

    if ws.repo_root is None:
        return
    try:
        git_dir = ws.git_dir
    except LoopkitError:  # not a work tree git can use: the commands that need git say so
        return
    if clone.sync_pending(git_dir):
        from loopkit.gitrepo.remote import Remote

        with ws.lock():
            for line in Remote(ws.repo_root).recover():
                warn(line)
    if not clone.driver_configured(ws.repo_root, git_dir):
        with contextlib.suppress(LoopkitError):  # a config locked by another git: the next command
            if install_driver(ws.repo_root):
                warn(
                    "set merge.loopkit.driver in this clone's git config: loopkit's files now merge "
                    "by record identity in a plain git pull, rebase or merge too"
                )


# -- the merge driver -----------------------------------------------------------------------------
def merge_driver(*, base: str, ours: str, theirs: str, path: str, cwd: Path) -> Merged:
    """Merge BASE, OURS, THEIRS (git's temporary files) into OURS; `conflict` says whether markers
    were left. Takes no lock: git calls it in the middle of a merge that sync may be running."""
    from loopkit.records.merge import merge

    kind = _kind_for_path(cwd, path)
    data = [Path(cwd / name).read_bytes() if (cwd / name).exists() else b"" for name in (base, ours, theirs)]
    merged, conflict = merge(data[0], data[1], data[2], kind)
    (cwd / ours).write_bytes(merged)
    return Merged(path, kind, conflict)


def _kind_for_path(cwd: Path, path: str) -> str:
    from loopkit.config import load_config

    target = (cwd / path).resolve()
    for folder in target.parents:
        if (folder / CONFIG_NAME).is_file():
            try:
                config = load_config(folder / CONFIG_NAME)
            except LoopkitError:
                config = Config()
            return kind_of(config, target.relative_to(folder).as_posix()) or "text"
        if (folder / ".git").exists():
            break
    return kind_of(Config(), target.name) or "text"


# -- sync -----------------------------------------------------------------------------------------
def sync(ctx: Context, *, remote: str | None = None, progress: Progress = None) -> Synced:
    from loopkit.gitrepo.remote import Remote

    ws = ctx.workspace
    if ws.repo_root is None:
        raise GitError(f"not inside a git work tree: {ws.root}")
    repo = Remote(ws.repo_root, progress=progress)
    if install_driver(ws.repo_root) and progress is not None:
        progress("set merge.loopkit.driver in this clone's git config")
    with ws.lock():
        _finish_stopped(ctx, repo)
        branch = repo.branch()
        name, remote_branch = _target(ctx, repo, remote, branch)
        fetched = pushed = retries = 0
        integrated = "none"
        for attempt in range(ATTEMPTS):
            if attempt:
                retries += 1
                if progress is not None:
                    progress(
                        f"{name}/{remote_branch} moved while pushing: integrating again (retry {attempt})"
                    )
                _backoff(attempt)
            theirs = repo.fetch(name, remote_branch)
            head = repo.head()
            if theirs is not None and head is not None and not repo.is_ancestor(theirs, head):
                fetched += repo.count(f"{head}..{theirs}")
                integrated = _integrate(ctx, repo, theirs, head, f"{name}/{remote_branch}", branch)
            elif theirs is not None and head is None:
                repo.move_to(theirs, None)
                fetched += repo.count(theirs)
                integrated = "fast-forward"
            head = repo.head()
            if head is None:
                break
            ahead = repo.count(f"{theirs}..{head}" if theirs else head)
            if ahead == 0 or repo.push(name, remote_branch, head):
                pushed += ahead
                break
        else:
            raise GitError(f"{name} kept moving: not pushed after {ATTEMPTS} attempts; run sync again")
    return Synced(name, remote_branch, integrated, fetched, pushed, repo.head(), retries)


def _target(ctx: Context, repo: Remote, remote: str | None, branch: str) -> tuple[str, str]:
    """The remote and its branch to sync with: `remote`'s branch of this name, else the
    upstream, else `[git] remote`'s branch of this name."""
    upstream = repo.upstream(branch)
    if remote is not None:
        name, remote_branch = remote, branch
    elif upstream is not None:
        name, remote_branch = upstream
    else:
        name, remote_branch = ctx.workspace.config.git_remote, branch
    if not repo.has_remote(name):
        raise GitError(f"no remote {name!r} in this clone: add one with `git remote add {name} URL`")
    return name, remote_branch


def _integrate(ctx: Context, repo: Remote, theirs: str, head: str, where: str, branch: str) -> str:
    """Bring `theirs` (fetched from `where`) into `head`, which lacks it: a fast-forward, else a
    rebase, else a merge (a rebase would rewrite merges or drop signatures it cannot renew);
    which it was."""
    from loopkit.gitrepo.remote import Conflict

    if repo.is_ancestor(head, theirs):
        repo.move_to(theirs, head)
        return "fast-forward"
    spec = f"{theirs}..{head}"
    try:
        resign = None if repo.has_merges(spec) else _resign(ctx, repo.signed_commits(spec))
        if resign is None:
            identity, sign = _merge_as(ctx)
            message = f"Merge {where} into {branch} (loopkit sync)"
            new = repo.merge(theirs, message=message, identity=identity, sign=sign)
            integrated = "merge"
        else:
            new = repo.rebase(
                theirs,
                identity_of=lambda m: _role_identity(ctx.workspace.config, m),
                resign=resign if resign.ids else None,
            )
            integrated = "rebase"
        repo.move_to(new, head)
    except Conflict as exc:
        raise GitError(
            f"{exc.message}; nothing changed: resolve it by hand (docs/across-machines.md)"
        ) from None
    return integrated


def _backoff(attempt: int) -> None:
    """Before retry `attempt`: a random wait below a ceiling that doubles with each retry (full
    jitter), so clones whose pushes collided do not collide again in step."""
    import random
    import time

    first, largest = BACKOFF
    time.sleep(random.uniform(0, min(largest, first * 2 ** (attempt - 1))))


def _resign(ctx: Context, signed: list[SignedCommit]) -> Resign | None:
    """How a rebase keeps these signed commits signed (SPEC sections 7 and 10): a `Resign` naming
    them, with this clone's key (LOOPKIT_SIGNING_KEY, else its `user.signingkey`), when that key
    made every one of them and can sign now; an empty one when none is signed; None when some
    signature is not this clone's to renew, so that sync merges instead."""
    from loopkit.gitrepo.remote import Resign

    if not signed:
        return Resign(frozenset(), ())
    from loopkit.gitrepo.signing import (
        SigningError,
        check_key,
        commit_tree_sign_args,
        public_key_blob,
        signing_key,
    )

    root = ctx.workspace.repo_root
    assert root is not None
    try:
        key = signing_key(root, ctx.environ)
        if key is None:
            return None
        mine = public_key_blob(key, ctx.environ)
        if mine is None or any(commit.key != mine for commit in signed):
            return None
        check_key(key, ctx.environ)
        args = (*commit_tree_sign_args(key, ctx.environ), "-S")
    except (SigningError, GitError):
        return None
    return Resign(frozenset((c.author, c.message) for c in signed), args)


def _merge_as(ctx: Context) -> tuple[Identity | None, tuple[str, ...]]:
    """Who makes sync's merge, and how it is signed: the role, signed when it signs (SPEC section
    10); the clone's own identity, unsigned (None), without a role or without a key at hand. The
    merge carries no record, so a missing key never stops a sync: only record writers refuse."""
    from loopkit.gitrepo.signing import SigningError

    role = ctx.role
    if role is None:
        return None, ()
    try:
        return ctx.workspace.config.identities[role], tuple(ctx.sign_args())
    except SigningError:
        return None, ()


_ROLE_TRAILER = re.compile(r"^Loopkit-Role:\s*(\S+)\s*$", re.MULTILINE)


def _role_identity(config: Config, message: str) -> Identity | None:
    """The identity a loopkit commit is authored and committed as: its `Loopkit-Role` trailer's."""
    found = _ROLE_TRAILER.findall(message.rsplit("\n\n", 1)[-1])
    role = found[-1] if found else None
    return config.identities.get(role) if role in ROLES else None


def _finish_stopped(ctx: Context, repo: Any) -> None:
    """A plain `git pull`/`git rebase` that stopped on conflicts in loopkit's files only: finish it
    by the same merge by identity. Conflicts in any other file: refuse, change nothing."""
    from loopkit.records.merge import merge

    for _step in range(1000):
        kind = repo.in_progress()
        if kind is None:
            return
        files = repo.unmerged()
        kinds = {f: _repo_kind(ctx, f) for f in files}
        others = [f for f, k in kinds.items() if k is None]
        if others:
            raise GitError(
                f"a {kind} is stopped on conflicts outside loopkit's files ({', '.join(others)}): "
                "resolve them with git, then run sync"
            )
        merged: dict[str, bytes] = {}
        for path, file_kind in kinds.items():
            stages = [repo.stage(path, n) or b"" for n in (1, 2, 3)]
            data, conflict = merge(stages[0], stages[1], stages[2], str(file_kind))
            if conflict:
                raise GitError(
                    f"a {kind} is stopped on {path}: the same hand-written lines changed on both sides; "
                    "resolve it by hand, then run sync"
                )
            merged[path] = data
        for path, data in merged.items():
            repo.resolve(path, data)
        repo.resume(kind)
    raise GitError("the stopped rebase does not finish; resolve it with git")


def _repo_kind(ctx: Context, repo_path: str) -> str | None:
    ws = ctx.workspace
    assert ws.repo_root is not None
    target = ws.repo_root / repo_path
    try:
        rel = target.relative_to(ws.root).as_posix()
    except ValueError:
        return None
    return kind_of(ws.config, rel)


# -- --sync around a command ------------------------------------------------------------------------
def sync_before(ctx: Context, progress: Progress = None) -> None:
    """Before the command: if this sync fails the command does not run (exit 5)."""
    try:
        sync(ctx, progress=progress)
    except LoopkitError as exc:
        raise GitError(f"sync before the command failed, so it did not run: {exc.message}") from None
    ctx.cache["sync:head"] = _head(ctx)


def sync_after(ctx: Context, progress: Progress = None) -> None:
    """After a command that committed: push it. A failure keeps the commit (the next sync pushes it)."""
    if _head(ctx) == ctx.cache.get("sync:head"):
        return
    try:
        sync(ctx, progress=progress)
    except LoopkitError as exc:
        raise GitError(f"committed here, but not synced (the next sync pushes it): {exc.message}") from None


def _head(ctx: Context) -> str | None:
    from loopkit.gitrepo.remote import Remote

    root = ctx.workspace.repo_root
    return Remote(root).head() if root is not None else None
