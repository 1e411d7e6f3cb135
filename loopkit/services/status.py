"""status: the orchestrator's view of every phase, served from a memo of the whole document while
nothing it is read from has changed, read from the books (services/view.py) otherwise.

The memo (the index's kinds `status`, and `status-detail` for the report's view) holds
the last document of the whole workspace with what it was read from:

- HEAD and every tracked path that differs from it, from one `git status` (gitrepo.tree_state):
  a commit, a reset, a checkout, a staged or unstaged change anywhere in the repository;
- the stat (mtime, ctime, size, inode) of every file the view reads (loopkit.toml, each spec,
  STATUS file and journal, the inboxes, allowed_signers; a missing one's is None) and of the
  folders the phases are listed from, so a phase added or removed changes a folder's stat;
- the workspace and repository paths, loopkit's version, and when some role signs what the
  verifier reads from the environment (PATH, HOME, LOOPKIT_ALLOWED_SIGNERS and its file).

A memo is written only when every file or folder it names is quiet at the stats' reading (the
index's one racy-clean rule: a later change in the same tick of the clock could keep every stat
field as it was). It is read, and believed, only when every recorded fact is the same again;
anything else reads the books. Deleting it changes no output; `LOOPKIT_NO_CACHE=1` turns it off.
The document is stored before redaction: the caller redacts what it prints, as without the memo.

When the memo is missed, only the phases whose inputs changed are read again (`_changed`), and
the others' parts are taken from the memo, provided that:
- every recorded fact but the tree is the same (version, paths, the verifier's environment; and
  no role signs: a signed workspace reads everything), and the list of phases is the same;
- the new HEAD descends from the memo's by commits of one parent each, none naming a spec
  (`Loopkit-Spec`: the spec every phase's gates use is found among those commits);
- every path that changed (touched by one of those commits, staged or unstaged differently from
  the memo's `git status`, or a file whose stat differs) is one phase's own spec, STATUS file or
  journal. Anything else (code, which staleness reads; loopkit.toml; an inbox, which every phase
  counts; allowed_signers; any other path) reads everything.
A phase's part depends on git only through its own paths' history and, for staleness, on the
code outside the workspace (unchanged by such commits); a phase whose milestones name `paths`
compares all paths since a claim, so it is read again whenever HEAD moved.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from loopkit import __version__, index
from loopkit.documents.status import PhaseStatus, StatusDocument
from loopkit.model import ROLES
from loopkit.redact import is_secret_name
from loopkit.services.context import Context
from loopkit.workspace import CONFIG_NAME, Workspace

Stat = index.Stat


def status(ctx: Context, *, phase: str | None, detail: bool = False) -> StatusDocument:
    """`status --json`'s document (with `detail`, report's): from the memo when it still holds."""
    memo = _Memo.open(ctx, detail=detail) if phase is None else None
    if memo is not None and (found := memo.lookup()) is not None:
        return StatusDocument.from_json(found)
    stats = memo.stats() if memo is not None else None  # before the books are read: see store
    from loopkit.services import view

    if memo is None or stats is None:
        return view.read_status(ctx, phase=phase, detail=detail)
    watching: dict[str, bool] = {}
    known = memo.known
    again = _changed(ctx, known, memo.facts, stats[1]) if known is not None else None
    if known is None or again is None:
        result = view.read_status(ctx, phase=None, detail=detail, watching=watching)
    else:
        old_doc: dict[str, Any] = known["doc"]
        watching = {p: bool(w) for p, w in known["watch"].items() if p not in again}
        order = [part["phase"] for part in old_doc["phases"]]
        fresh = view.read_status(
            ctx, phase=None, detail=detail, only=[p for p in order if p in again], watching=watching
        )
        parts = {part.phase: part for part in fresh.phases}
        kept = (parts.get(part["phase"]) or PhaseStatus.from_json(part) for part in old_doc["phases"])
        result = replace(fresh, phases=tuple(kept))
    memo.store(result.to_json(), stats, watching)
    return result


def _dirty(tree: str) -> tuple[str, dict[str, str]] | None:
    """HEAD and each path's entry from tree_state's text; None for anything but plain entries."""
    head = None
    entries: dict[str, str] = {}
    for entry in tree.split("\0"):
        if entry.startswith("# branch.oid "):
            head = entry[len("# branch.oid ") :]
        elif entry.startswith("1 "):
            fields = entry.split(" ", 8)
            if len(fields) != 9:
                return None
            entries[fields[8]] = entry
        elif entry and not entry.startswith("# "):
            return None  # a rename, an unmerged path: read everything
    return (head, entries) if head is not None else None


def _changed(
    ctx: Context, known: dict[str, Any], facts: dict[str, Any], found: list[tuple[str, Stat]]
) -> set[str] | None:
    """The phases whose part of the document may differ from the memo's; None: read them all."""
    ws = ctx.workspace
    old_facts = known["facts"]
    if facts["environ"] is not None or {**old_facts, "tree": None} != {**facts, "tree": None}:
        return None
    order = [part["phase"] for part in known["doc"]["phases"]]
    phases = ws.phases()
    if phases != order or set(known["watch"]) != set(phases):
        return None
    owner: dict[str, str] = {}  # each phase's own files, by path and by repository path
    for phase in phases:
        own = [ws.spec_file(phase), ws.status_file(phase)]
        own += [p for role in ws.config.journals if (p := ws.journal_file(phase, role)) is not None]
        for path in own:
            for key in (str(path), ws.repo_path(path)):
                owner[key] = phase if owner.get(key, phase) == phase else ""  # "": shared, no one's
    folders = {str(p) for p in ws.phase_folders()}  # their stat says a phase came or went: compared above
    old_stats = dict(known["stats"])
    if set(old_stats) != {path for path, _ in found}:
        return None
    touched = {path for path, stat in found if old_stats[path] != stat and path not in folders}
    old_tree, new_tree = _dirty(old_facts["tree"]), _dirty(facts["tree"])
    if old_tree is None or new_tree is None:
        return None
    (old_head, old_dirty), (new_head, new_dirty) = old_tree, new_tree
    touched |= {p for p in {*old_dirty, *new_dirty} if old_dirty.get(p) != new_dirty.get(p)}
    if old_head != new_head:
        commits = ctx.index.chain(old_head, new_head)
        if commits is None or {o.sha for o in ctx.repo.spec_commits} & {sha for sha, _ in commits}:
            return None
        touched |= {path for _, paths in commits for path in paths}
    if any(not owner.get(path) for path in touched):
        return None
    again = {owner[path] for path in touched}
    if old_head != new_head:
        again |= {phase for phase, watch in known["watch"].items() if watch}
    return again


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

    def __init__(self, ctx: Context, kind: str, facts: dict[str, Any]) -> None:
        self.ctx = ctx
        self.kind = kind
        self.facts = facts
        self.known: dict[str, Any] | None = None  # the memo as lookup read it, when well formed

    @classmethod
    def open(cls, ctx: Context, *, detail: bool) -> _Memo | None:
        ws = ctx.workspace
        if ctx.index.folder is None or ws.repo_root is None:
            return None
        from loopkit.gitrepo.committer import tree_state

        tree = tree_state(ws.repo_root)
        if tree is None:
            return None
        facts = {
            "loopkit": __version__,
            "root": str(ws.root),
            "repo": str(ws.repo_root),
            "environ": _verifier_environ(ctx.environ) if ws.config.signed else None,
            "tree": tree,
        }
        return cls(ctx, "status-detail" if detail else "status", facts)

    def lookup(self) -> dict[str, Any] | None:
        """The whole document when every fact holds again; otherwise None, keeping in `known` the
        memo as it was read (a well-formed one) for `_changed` to start from."""
        self.known = None
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
            data = self.ctx.index.kind(self.kind)
            doc: dict[str, Any] = data["doc"]
            if not (
                isinstance(data["facts"], dict)
                and isinstance(data["facts"]["tree"], str)
                and isinstance(data["watch"], dict)
                and isinstance(doc["phases"], list)
                and all(isinstance(part, dict) and isinstance(part["phase"], str) for part in doc["phases"])
                and all(isinstance(path, str) for path, _ in data["stats"])
            ):
                return None
            self.known = data
            if data["facts"] != self.facts:
                return None
            if all(index.stat_of(Path(path)) == stat for path, stat in data["stats"]):
                return doc
        return None

    def stats(self) -> tuple[int, list[tuple[str, Stat]]]:
        """The stat of every input, and when it was read."""
        now = time.time_ns()
        found = inputs(self.ctx.workspace, self.ctx.environ)
        return now, [(str(path), index.stat_of(path)) for path in found]

    def store(
        self, doc: dict[str, Any], stats: tuple[int, list[tuple[str, Stat]]], watching: dict[str, bool]
    ) -> None:
        """Remember the document with the stats read before it, unless a file changed so close to
        that reading that a later change could have kept its stat (index.quiet). A file changed
        while the books were read has a newer stat than the one kept, so the memo is missed next
        time."""
        read_at, found = stats
        if not all(index.quiet(stat, read_at) for _, stat in found):
            return
        self.ctx.index.put(self.kind, {"facts": self.facts, "stats": found, "doc": doc, "watch": watching})
        self.ctx.index.save()
