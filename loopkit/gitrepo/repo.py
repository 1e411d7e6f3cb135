"""The repository (Repo): HEAD, dirty paths, diffs, commits of exactly the written paths with an explicit
identity and trailers, blame, and trailers. Every git failure becomes GitError (exit 5)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit.errors import GitError
from loopkit.gitrepo import Memory, history, pathspec, runner, trees
from loopkit.gitrepo.committer import current_head
from loopkit.model.git import Origin

if TYPE_CHECKING:
    from loopkit.gitrepo import provenance

ZERO = "0" * 40
# where a commit of `_record_log` begins: its id after a record separator opening a line (a
# file's content cannot open a line of a patch)
_COMMIT_START = re.compile(r"(?:^|\n)\x1e(?=[0-9a-f]{40}\x1f)")
_Answer = dict[int, str | None] | None  # a blame's answer, None when the replay has none
_CODE_TREES = "code-trees"  # code_changed's answers in the diff memo, apart from commits' diffs
REPLAY_MIN = 4  # fewer files than this to answer: their blames cost less than one walk of history


class Repo:
    def __init__(self, root: Path, memory: Memory | None = None, *, git_dir: Path | None = None) -> None:
        """`git_dir`: the caller found it (Workspace.git_dir), so git is not asked whether `root`
        is a repository."""
        self.root = root
        if git_dir is None and runner.run_bytes(root, ["rev-parse", "--git-dir"], check=False)[0] != 0:
            raise GitError(f"not a git repository: {root}")
        self._diff_cache: dict[tuple[str, str, object, str | None], list[str] | None] = {}
        self._order: dict[str, dict[str, int]] = {}
        self._origins: dict[str, Origin] = {}
        self._records: dict[str, list[tuple[Origin, str]]] = {}
        self._codes: dict[tuple[str, str], str | None] = {}
        self._replayed: dict[str, provenance.Replayed] = {}
        self.memory = memory  # the index (loopkit/index.py); None: every answer from git

    def save_cache(self) -> None:
        """Write what this command learnt to the index (a command that reads a lot calls it)."""
        if self.memory is not None:
            self.memory.save()

    @property
    def cache(self) -> Memory:
        """The index, where a caller has checked that there is one."""
        assert self.memory is not None
        return self.memory

    @cached_property
    def _trees(self) -> trees.Trees:
        """Tree reads for staleness through one `git cat-file --batch` (see gitrepo/trees.py)."""
        return trees.Trees(self.root)

    # -- running git ----------------------------------------------------------------------------
    def run(self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> str:
        return runner.run(self.root, *args, env=env, stdin=stdin)

    # -- reading --------------------------------------------------------------------------------
    @cached_property
    def head(self) -> str | None:
        return current_head(self.root)

    @cached_property
    def dirty(self) -> list[str]:
        """Tracked paths with uncommitted changes, staged or not (untracked files never count)."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames")
        return [entry[3:] for entry in out.split("\0") if len(entry) > 3]

    def changed(
        self,
        old: str,
        new: str,
        *,
        prune: Callable[[str], bool] | None = None,
        keep: str | None = None,
        memo: str | None = None,
    ) -> list[str] | None:
        """Paths that differ between two commits; None when either is unknown (rewritten history).

        Compares trees, descending only into subtrees whose ids differ; a subtree for which
        `prune(path)` holds (the workspace folder, for staleness) is neither read nor reported.
        With `keep` (the workspace's path), the answer only needs to be "what differs outside it":
        a differing folder that does not hold the workspace is reported as `folder/` unread and
        the walk stops at the first difference, so staleness costs two or three tree reads.
        `memo` names what `prune` stands for (the caller's promise), so the answer can be kept in
        the index across commands; without `prune` none is needed.
        """
        key = (old, new, prune, keep)
        if key not in self._diff_cache:
            lasting = memo if prune is not None else "all"
            stored = self.memory.kind("diff") if lasting is not None and self.memory else None
            disk = json.dumps([old, new, keep, lasting])
            if stored is not None and disk in stored:
                self._diff_cache[key] = stored[disk]
                return self._diff_cache[key]
            a, b = self._trees.commit_tree(old), self._trees.commit_tree(new)
            if a is None or b is None:
                self._diff_cache[key] = None  # unknown now, maybe fetched later: never kept
            else:
                self._diff_cache[key] = self._trees.diff(a, b, prune=prune, keep=keep)
                if stored is not None:
                    stored[disk] = self._diff_cache[key]
                    self.cache.changed("diff")
        return self._diff_cache[key]

    def expect_trees(self, revs: Iterable[str]) -> None:
        """Commits `changed` is likely to be asked about: read together when the first one is."""
        self._trees.expect([*([self.head] if self.head else []), *revs])

    def origins(self, paths: list[str]) -> dict[str, list[Origin | None]]:
        """For each file, the commit that added each line of the working file (None: uncommitted),
        exactly as git blame answers, with identities from the commit objects."""
        blames = self._blames(dict.fromkeys(dict.fromkeys(paths)))
        self._learn(s for found in blames.values() for s in found.values() if s)
        result: dict[str, list[Origin | None]] = {}
        for path in paths:
            found = blames.get(path, {})
            count = len(_lines(self.root / path))
            result[path] = [self._origin(found.get(n)) for n in range(1, count + 1)]
        return result

    def line_origins(self, path: str, lines: list[int]) -> dict[int, Origin | None]:
        """git blame of just these lines (1-based) of the working file."""
        found = self._blames({path: lines})[path]
        self._learn(s for s in found.values() if s)
        return {n: self._origin(found.get(n)) for n in lines}

    def _blames(self, asks: dict[str, list[int] | None]) -> dict[str, dict[int, str | None]]:
        """git blame of each file (all lines, or the lines asked), through the index.

        An entry holds the answers for one (HEAD, path, working blob): whole-file blames and the
        lines asked one by one, apart. When HEAD moved by commits that did not touch the file, the
        answers carry over: blame walks back from HEAD and those commits pass every line through.
        """
        head = self.head
        if head is None or self.memory is None:
            return history.blame_many(self.root, dict(asks))
        stored = self.cache.kind("blame")
        results: dict[str, dict[int, str | None]] = {}
        todo: dict[str, Sequence[int] | None] = {}
        blobs: dict[str, str | None] = {}
        for path, lines in asks.items():
            blob = blobs[path] = self.cache.blob_id(path)
            entry = self._entry(stored, path, blob)
            if entry is None:
                todo[path] = lines
                continue
            full = entry.get("full")
            if full is not None and lines is not None and all(str(n) in full for n in lines):
                results[path] = {n: full[str(n)] for n in lines}
                continue
            if lines is None:
                if full is None:
                    todo[path] = None
                else:
                    results[path] = {int(n): sha for n, sha in full.items()}
                continue
            known = entry.get("lines", {})
            missing = [n for n in lines if str(n) not in known]
            if missing:
                todo[path] = missing
            results[path] = {n: known[str(n)] for n in lines if str(n) in known}
        fresh: dict[str, dict[int, str | None]] = {}
        for path, asked in todo.items():
            if (replayed := self._from_replay(path, blobs[path], asked)) is not None:
                fresh[path] = replayed
        rest = {p: lines for p, lines in todo.items() if p not in fresh}
        fresh.update(history.blame_many(self.root, rest) if rest else {})
        for path, found in fresh.items():
            blob = blobs[path]
            entry = stored.get(path)
            if entry is None or entry.get("blob") != blob or entry.get("head") != head:
                entry = {"head": head, "blob": blob}
            if todo[path] is None:
                entry["full"] = {str(n): sha for n, sha in found.items()}
                results[path] = found
            else:
                lines_known = entry.setdefault("lines", {})
                lines_known.update({str(n): found.get(n) for n in todo[path] or ()})
                results.setdefault(path, {}).update(found)
            if blob is not None and found:
                stored[path] = entry
                self.cache.changed("blame")
        return results

    def _entry(self, stored: dict[str, Any], path: str, blob: str | None) -> dict[str, Any] | None:
        """The cache's blame entry for this working file, when it holds at this HEAD."""
        entry: dict[str, Any] | None = stored.get(path)
        if entry is None or blob is None or entry.get("blob") != blob or not self._carries(entry, path):
            return None
        return entry

    def prefetch_origins(self, paths: list[str]) -> None:
        """Line origins of many files at once (status reads every phase's STATUS and journal): one
        history walk replayed (gitrepo/provenance.py) stands in for their blames, and the commits
        named are read in one batch. A file the replay cannot answer exactly is blamed when asked;
        with the index off nothing is replayed, so blame alone answers (the slow path, kept)."""
        head = self.head
        if head is None or self.memory is None:
            return
        stored = self.cache.kind("blame")
        blobs = {p: self.cache.blob_id(p) for p in dict.fromkeys(paths)}
        todo = self._to_replay(blobs)
        walked_origins: dict[str, Origin] = {}
        if len(todo) >= REPLAY_MIN:
            from loopkit.gitrepo import provenance  # the history walk: only status reads many files

            walked = provenance.replay(self.root, head=head, paths=todo)
            for path, found in walked.files.items():
                if found.blob == blobs[path]:  # uncommitted lines: blame tells them apart
                    self._replayed[path] = found
            walked_origins = walked.origins
        shas: set[str] = set()
        for path, blob in blobs.items():
            if path in self._replayed:
                shas.update(self._replayed[path].shas)
            elif (entry := self._entry(stored, path, blob)) is not None:
                for known in (entry.get("full") or {}, entry.get("lines") or {}):
                    shas.update(s for s in known.values() if s)
        self._know({s: walked_origins[s] for s in shas if s in walked_origins})  # the walk read them
        self._learn(shas)

    def _to_replay(self, blobs: Mapping[str, str | None]) -> list[str]:
        """The files (with their working blob ids) that neither the replay nor the index answers."""
        stored = self.cache.kind("blame")
        todo = [p for p, b in blobs.items() if b is not None and p not in self._replayed]
        return [p for p in todo if self._entry(stored, p, blobs[p]) is None]

    def _from_replay(self, path: str, blob: str | None, lines: Sequence[int] | None) -> _Answer:
        """What blame would answer, from the replay, when it holds this working file."""
        found = self._replayed.get(path)
        if found is None or found.blob != blob:
            return None
        count = len(found.shas)
        if lines is None:
            return dict(enumerate(found.shas, start=1))
        if any(not 1 <= n <= count for n in lines):
            return None  # blame refuses a range past the end: let it answer as it does
        return {n: found.shas[n - 1] for n in lines}

    def _carries(self, entry: dict[str, Any], path: str) -> bool:
        """Whether a blame entry made at another HEAD still holds at this one (see _blames)."""
        old = str(entry.get("head"))
        if old == self.head:
            return True
        assert self.head is not None
        chain = self.cache.chain(old, self.head)
        if chain is None or any(path in touched for _, touched in chain):
            return False
        entry["head"] = self.head
        self.cache.changed("blame")
        return True

    def _learn(self, shas: Iterable[str]) -> None:
        todo = {s for s in shas if s not in self._origins}
        if not todo:
            return
        stored = self.cache.kind("origins") if self.memory is not None else {}
        for sha in [s for s in todo if s in stored]:
            self._origins[sha] = stored[sha]
            todo.discard(sha)
        if todo:
            self._know(history.origins(self.root, todo))

    def _know(self, found: Mapping[str, Origin]) -> None:
        """Remember these commits' origins, for this command and in the index."""
        new = {sha: o for sha, o in found.items() if sha not in self._origins}
        self._origins.update(new)
        if self.memory is not None and new:
            self.cache.kind("origins").update(new)
            self.cache.changed("origins")

    def _origin(self, sha: str | None) -> Origin | None:
        return self._origins.get(sha) if sha else None

    def code_of(self, commit: str | None, *, rel: str, owned: Callable[[str], bool]) -> str | None:
        """The code id of a commit (SPEC section 7), remembered for the command's life."""
        if commit is None:
            return None
        key = (commit, rel)
        if key not in self._codes:
            from loopkit.gitrepo.code import code_id

            # nested, `owned` is not asked: the id is the commit's and the folder's alone
            stored = self.cache.kind("code") if rel and self.memory is not None else None
            disk = f"{commit}:{rel}"
            if stored is not None and disk in stored:
                self._codes[key] = stored[disk]
            else:
                self._codes[key] = code_id(self.root, commit, rel=rel, owned=owned)
                if stored is not None and self._codes[key] is not None and len(commit) == 40:
                    stored[disk] = self._codes[key]
                    self.cache.changed("code")
        return self._codes[key]

    def code_changed(self, old: str, new: str) -> list[str] | None:
        """Paths that differ between two code trees (or commits); None when either is unknown.

        `git diff-tree` of the pair, asked once per pair in a command (`changed`'s memo: status
        over every phase asks about the same few code ids again and again); the answer does not
        depend on the order of the two."""
        key = (min(old, new), max(old, new), _CODE_TREES, None)
        if key not in self._diff_cache:
            from loopkit.gitrepo.code import changed_paths

            self._diff_cache[key] = changed_paths(self.root, old, new)
        return self._diff_cache[key]

    @cached_property
    def spec_commits(self) -> list[Origin]:
        """Every commit that names a spec blob (`Loopkit-Spec`), newest first, in one git process
        (of the new commits alone, when the index knows the older ones)."""
        head = self.head
        if head is None:
            return []
        if self.memory is None:
            return self._spec_commits(head)
        whole = self._spec_commits
        return list(
            self.memory.carried("spec", "HEAD", head, whole, lambda old, since, _: whole(since) + old)
        )

    def _spec_commits(self, revisions: str) -> list[Origin]:
        out = self.run(*spec_args(revisions))
        found = []
        for chunk in out.split("\x1e")[1:]:
            fields = chunk.split("\x1f")
            if len(fields) >= 6:
                found.append(history.origin_of(fields[0].strip(), fields[1:6]))
        return found

    def record_lines(self, paths: list[str]) -> dict[str, list[tuple[Origin, str]]]:
        """For each STATUS file, the lines that loopkit's claim, verdict and DONE commits added, with
        the commit that added them: the records history says were written (one git process)."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._records]
        if todo and self.head is not None:
            self._records.update(self._record_lines_cached(todo, self.head))
        for path in todo:
            self._records.setdefault(path, [])
        return {p: self._records[p] for p in paths}

    def _record_lines_cached(self, todo: list[str], head: str) -> dict[str, list[tuple[Origin, str]]]:
        """The same answer as one log of HEAD, from the index and a log of the new commits alone
        when HEAD only moved forward in a line."""
        if self.memory is None:
            return self._record_log(todo, head)

        whole = partial(self._record_log, todo)

        def newer(old: dict[str, list[Any]], since: str, _: object) -> dict[str, list[Any]]:
            new = whole(since)
            return {p: new[p] + old[p] for p in todo}

        return dict(self.memory.carried("records", json.dumps(sorted(todo)), head, whole, newer))

    def _record_log(
        self, todo: list[str], revisions: str, *, literal: bool = False
    ) -> dict[str, list[tuple[Origin, str]]]:
        """The record lines of one log: of a glob covering the paths when the list is long (the
        added lines of other files are left out below, so only the walk must agree)."""
        out = self.run(*self._record_args(todo, revisions, literal=literal))
        found: dict[str, list[tuple[Origin, str]]] = {p: [] for p in todo}
        for chunk in _COMMIT_START.split(out)[1:]:
            fields = chunk.split("\x1f", 6)
            if len(fields) < 7:
                continue
            origin = history.origin_of(fields[0].strip(), fields[1:6])
            for path, line in history.added_lines(fields[6]):
                if path in found:
                    found[path].append((origin, line))
        return found

    def _record_args(self, todo: list[str], revisions: str, *, literal: bool = False) -> list[str]:
        wide = None if literal else pathspec.cover(todo)
        if wide is not None and not pathspec.merges_agree(self.root, revisions, wide, set(todo)):
            wide = None
        return [
            "-c",
            "core.quotePath=false",
            "log",
            "--no-use-mailmap",
            "--no-show-signature",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            # every side of every merge: a merge that took one side's file whole would otherwise
            # hide the other side's records from the walk (history simplification), and a record
            # it dropped would never count as removed
            "--full-history",
            "-p",
            "-U0",
            "-E",
            "--grep=^Loopkit-Action: (claim|verdict|done)$",
            f"--format=%x1e%H%x1f{history.ORIGIN}%x1f",
            revisions,
            "--",
            *(wide or todo),
        ]

    def blob(self, sha: str) -> bytes | None:
        code, out, _ = runner.run_bytes(self.root, ["cat-file", "blob", sha], check=False)
        return out if code == 0 else None

    def order(self, path: str) -> dict[str, int]:
        """The commits that touched this file (and any read with it), oldest = 0: history order."""
        self.prefetch([path])
        return self._order.get(path, {})

    def prefetch(self, paths: list[str]) -> None:
        """History order of many files in one git process (status reads every phase at once)."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._order]
        if not todo:
            return
        order = {sha: index for index, sha in enumerate(self._touching(todo))}
        for path in todo:
            self._order[path] = order

    def _touching(self, todo: list[str]) -> list[str]:
        """The commits that touched any of these paths, oldest first (`git log --topo-order`).

        Through the index: after a line of new commits, the ones of them that touch the paths
        come last, as topo order puts them."""
        head = self.head
        if head is None:
            return []
        if self.memory is None:
            return self._touching_log(todo, head)
        wanted = set(todo)

        def newer(old: list[str], _: str, chain: list[tuple[str, set[str]]]) -> list[str]:
            return old + [sha for sha, touched in reversed(chain) if touched & wanted]

        whole = partial(self._touching_log, todo)
        return list(self.memory.carried("order", json.dumps(sorted(todo)), head, whole, newer))

    def _touching_log(self, todo: list[str], head: str, *, literal: bool = False) -> list[str]:
        """`git log --topo-order` of the paths, oldest first: of a glob covering them when the list
        is long, then only the commits that touched an asked path (a merge: as the wide log lists
        it, when every merge picks the same parent under both pathspecs)."""
        args, wide = self._touching_args(todo, head, literal=literal)
        if not wide:
            return list(reversed(self.run(*args).split()))
        asked = set(todo)
        _, out, _ = runner.run_bytes(self.root, args)
        shas: list[str] = []
        for chunk in out.decode("utf-8", "surrogateescape").split("\x1e")[1:]:
            first, *names = chunk.split("\0")
            sha, *parents = first.split()
            if len(parents) > 1 or pathspec.touches((n.strip("\n") for n in names), asked):
                shas.append(sha)
        return list(reversed(shas))

    def _touching_args(self, todo: list[str], head: str, *, literal: bool = False) -> tuple[list[str], bool]:
        """The order log's arguments, and whether they are the wide ones (see _touching_log)."""
        wide = None if literal else pathspec.cover(todo)
        log = ["log", "--no-show-signature", "--topo-order"]
        if wide is None or not pathspec.merges_agree(self.root, head, wide, set(todo)):
            return [*log, "--format=%H", head, "--", *todo], False
        names = ["--root", "--no-renames", "--name-only", "-z", "--format=%x1e%H %P"]
        return [*log, *names, head, "--", *wide], True

    # -- questions asked ahead --------------------------------------------------------------------
    @contextlib.contextmanager
    def expecting(self, status_files: list[str], journals: list[str]) -> Iterator[None]:
        """status reads the history of every phase: start its logs now, so that git walks while
        Python parses the books (runner.ahead), when the index cannot answer them.

        The paths are a guess made before the books are read: every STATUS file and builder
        journal there is. A log of the paths asked later is the same question whenever the guess
        names the same folders; any other is asked as before. Nothing is learnt from a guess."""
        head = self.head
        questions: list[list[str]] = []
        if head is not None and status_files:
            if self._cold("spec", "HEAD"):
                questions.append(spec_args(head))
            if self._cold("order"):
                questions.append(self._touching_args(status_files, head)[0])
            if self._cold("records"):
                questions.append(self._record_args(status_files, head))
            if self.memory is not None:
                from loopkit.gitrepo import provenance

                todo = self._to_replay({p: self.cache.blob_id(p) for p in [*status_files, *journals]})
                if len(todo) >= REPLAY_MIN:
                    questions.append(provenance.log_args(head, todo))
        with runner.ahead(self.root, questions):
            yield

    def _cold(self, kind: str, key: str | None = None) -> bool:
        """Whether no cached answer of this kind holds at HEAD or carries over to it (its log is then
        asked whole, from HEAD)."""
        if self.memory is None:
            return True
        entries = self.cache.kind(kind)
        chosen = [entries.get(key)] if key is not None else list(entries.values())
        heads = {str(e[0]) for e in chosen if isinstance(e, list) and e}
        return not any(old == self.head or self.cache.chain(old, str(self.head)) is not None for old in heads)

    def log_oneline(self, limit: int = 50) -> str:
        if self.head is None:
            return ""
        return self.run("log", "--oneline", f"-{limit}")


def spec_args(revisions: str) -> list[str]:
    """The log of the commits that opened a phase or updated its spec (`Loopkit-Spec`), for
    `Repo.spec_commits` and `verify` alike."""
    return [
        "log",
        "--no-use-mailmap",
        "--no-show-signature",
        "-E",
        "--grep=^Loopkit-Spec: ",
        f"--format=%x1e%H%x1f{history.ORIGIN}",
        revisions,
    ]


def init_repo(path: Path) -> Repo:
    """A new repository whose first branch is `main`, whatever the machine's git defaults."""
    path.mkdir(parents=True, exist_ok=True)
    runner.run(path, "init", "-q", "-b", "main")  # runner's one way of explaining a failure
    return Repo(path)


def _lines(path: Path) -> list[str]:
    """A file's lines as git counts them (LF, a trailing CR kept), no line endings."""
    try:
        data = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = data.split("\n")
    return lines[:-1] if data.endswith("\n") else lines
