"""status: the orchestrator's view of every phase, served from a memo of the whole document while
nothing it is read from has changed, read from the books (services/view.py) otherwise.

The memo (`.git/loopkit/cache/status.json`, and `status-detail.json` for the report's view) holds
the last document of the whole workspace with what it was read from:

- HEAD and every tracked path that differs from it, from one `git status` (gitrepo.tree_state):
  a commit, a reset, a checkout, a staged or unstaged change anywhere in the repository;
- the stat (mtime, ctime, size, inode) of every file the view reads (loopkit.toml, each spec,
  STATUS file and journal, the inboxes, allowed_signers; a missing one's is None) and of the
  folders the phases are listed from, so a phase added or removed changes a folder's stat;
- the workspace and repository paths, loopkit's version, and when some role signs what the
  verifier reads from the environment (PATH, HOME, LOOPKIT_ALLOWED_SIGNERS and its file).

A memo is written only when no file or folder it names changed within RACY_NS of the stats'
reading (git's "racily clean" rule: a later change in the same tick of the clock could keep every
stat field as it was). It is read, and believed, only when every recorded fact is the same again;
anything else reads the books. Deleting it changes no output; `LOOPKIT_NO_CACHE=1` turns it off.
The document is stored before redaction: the caller redacts what it prints, as without the memo.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopkit import __version__
from loopkit.model import ROLES
from loopkit.redact import is_secret_name
from loopkit.services.context import Context
from loopkit.workspace import CONFIG_NAME, Workspace, write_cache

VERSION = 1
RACY_NS = 2_000_000_000

Stat = list[int] | None


def status(ctx: Context, *, phase: str | None, detail: bool = False) -> dict[str, Any]:
    """`status --json`'s document (with `detail`, report's): from the memo when it still holds."""
    memo = _Memo.open(ctx, detail=detail) if phase is None else None
    if memo is not None and (found := memo.lookup()) is not None:
        return found
    stats = memo.stats() if memo is not None else None  # before the books are read: see store
    from loopkit.services.view import read_status

    result = read_status(ctx, phase=phase, detail=detail)
    if memo is not None and stats is not None:
        memo.store(result, stats)
    return result


def _stat(path: Path) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def inputs(ws: Workspace, environ: Mapping[str, str]) -> list[Path]:
    """Every file the view of all phases reads, and the folders `phases` lists (a phase added or
    removed changes one of theirs). A file that is missing is a fact too: its stat is None."""
    config = ws.config
    files = [*ws.phase_folders(), ws.root / CONFIG_NAME]
    for phase in ws.phases():
        files += [ws.spec_file(phase), ws.status_file(phase)]
        files += [p for role in config.journals if (p := ws.journal_file(phase, role)) is not None]
    files += [ws.inbox_file(role) for role in ROLES]
    if ws.repo_root is not None:
        files.append(ws.root / "allowed_signers")
        if override := environ.get("LOOPKIT_ALLOWED_SIGNERS", "").strip():
            files.append(Path(override).expanduser())
        files += [ws.git_dir / "shallow", ws.git_dir / "info" / "grafts"]  # history's own shape
    return list(dict.fromkeys(files))


def _verifier_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """What a signature check reads from the environment: the `ssh-keygen` on PATH, HOME, and
    loopkit's own variables (LOOPKIT_ALLOWED_SIGNERS…); never one whose name says it is secret,
    and not LOOPKIT_NOW, which no document depends on."""
    return {
        name: value
        for name, value in sorted(environ.items())
        if (name in ("PATH", "HOME") or name.startswith("LOOPKIT_"))
        and name != "LOOPKIT_NOW"
        and not is_secret_name(name)
    }


class _Memo:
    """One memo file: what the document was read from, checked again before it is believed."""

    def __init__(self, ctx: Context, path: Path, facts: dict[str, Any]) -> None:
        self.ctx = ctx
        self.path = path
        self.facts = facts

    @classmethod
    def open(cls, ctx: Context, *, detail: bool) -> _Memo | None:
        ws = ctx.workspace
        if ctx.environ.get("LOOPKIT_NO_CACHE") or ws.repo_root is None:
            return None
        state = ws.state_dir()
        if state is None:
            return None
        from loopkit.gitrepo.committer import tree_state

        tree = tree_state(ws.repo_root)
        if tree is None:
            return None
        facts = {
            "version": VERSION,
            "loopkit": __version__,
            "root": str(ws.root),
            "repo": str(ws.repo_root),
            "environ": _verifier_environ(ctx.environ) if ws.config.signed else None,
            "tree": tree,
        }
        return cls(ctx, state / "cache" / ("status-detail.json" if detail else "status.json"), facts)

    def lookup(self) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_bytes())
            if not isinstance(data, dict) or data.get("facts") != self.facts:
                return None
            stats = data["stats"]
            if all(_stat(Path(path)) == stat for path, stat in stats):
                doc: dict[str, Any] = data["doc"]
                return doc
        return None

    def stats(self) -> tuple[int, list[tuple[str, Stat]]]:
        """The stat of every input, and when it was read."""
        now = time.time_ns()
        return now, [(str(path), _stat(path)) for path in inputs(self.ctx.workspace, self.ctx.environ)]

    def store(self, doc: dict[str, Any], stats: tuple[int, list[tuple[str, Stat]]]) -> None:
        """Remember the document with the stats read before it, unless a file changed so close to
        that reading that a later change could have kept its stat (the racy rule, on mtime: a
        change always sets mtime and ctime to the clock's time). A file changed while the books
        were read has a newer stat than the one kept, so the memo is missed next time."""
        read_at, found = stats
        if any(stat is not None and stat[0] > read_at - RACY_NS for _, stat in found):
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_cache(self.path, {"facts": self.facts, "stats": found, "doc": doc})
