"""The only GitPython user: HEAD, dirty paths, diffs, commits of exactly the written paths with an
explicit identity and trailers, blame, and trailers. Every git failure becomes GitError (exit 5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from loopkit.errors import GitError
from loopkit.gitrepo import history, runner
from loopkit.gitrepo.committer import current_head
from loopkit.model import Identity, Origin

ZERO = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}$")


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        code, _, _ = runner.run_bytes(root, ["rev-parse", "--git-dir"], check=False)
        if code != 0:
            raise GitError(f"not a git repository: {root}")
        self._diff_cache: dict[tuple[str, str, object, str | None], list[str] | None] = {}
        self._order: dict[str, dict[str, int]] = {}
        self._origins: dict[str, Origin] = {}
        self._records: dict[str, list[tuple[Origin, str]]] = {}
        self._codes: dict[tuple[str, str], str | None] = {}

    @cached_property
    def _repo(self) -> Any:
        """GitPython's Repo, for tree walks only (its set-up costs more than most questions)."""
        import git

        try:
            return git.Repo(self.root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(f"not a git repository: {self.root}") from None

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

    def _commit(self, sha: str) -> Any:
        import git
        from gitdb.exc import BadName, BadObject  # type: ignore[import-untyped]

        if len(sha) != 40:
            try:
                sha = self.run("rev-parse", "--verify", "-q", f"{sha}^{{commit}}").strip()
            except GitError:
                return None
        try:
            commit = git.Commit(self._repo, bytes.fromhex(sha))
            commit.tree  # noqa: B018 - reads the object: fails here when it is not in the repository
        except (BadName, BadObject, ValueError, TypeError):
            return None
        return commit

    def changed(
        self, old: str, new: str, *, prune: Callable[[str], bool] | None = None, keep: str | None = None
    ) -> list[str] | None:
        """Paths that differ between two commits; None when either is unknown (rewritten history).

        Compares trees, descending only into subtrees whose ids differ; a subtree for which
        `prune(path)` holds (the workspace folder, for staleness) is neither read nor reported.
        With `keep` (the workspace's path), the answer only needs to be "what differs outside it":
        a differing folder that does not hold the workspace is reported as `folder/` unread and
        the walk stops at the first difference, so staleness costs two or three tree reads.
        """
        key = (old, new, prune, keep)
        if key not in self._diff_cache:
            a, b = self._commit(old), self._commit(new)
            if a is None or b is None:
                self._diff_cache[key] = None
            else:
                found: list[str] = []
                _diff_trees(a.tree, b.tree, "", found, prune, keep)
                self._diff_cache[key] = sorted(found)
        return self._diff_cache[key]

    def origins(self, paths: list[str]) -> dict[str, list[Origin | None]]:
        """For each file, the commit that added each line of the working file (None: uncommitted),
        exactly as git blame answers, with identities from the commit objects."""
        blames = history.blame_many(self.root, dict.fromkeys(dict.fromkeys(paths)))
        self._learn(s for found in blames.values() for s in found.values() if s)
        result: dict[str, list[Origin | None]] = {}
        for path in paths:
            found = blames.get(path, {})
            count = len(_lines(self.root / path))
            result[path] = [self._origin(found.get(n)) for n in range(1, count + 1)]
        return result

    def line_origins(self, path: str, lines: list[int]) -> dict[int, Origin | None]:
        """git blame of just these lines (1-based) of the working file."""
        found = history.blame(self.root, path, lines=lines)
        self._learn(s for s in found.values() if s)
        return {n: self._origin(found.get(n)) for n in lines}

    def commit_origins(self, shas: Iterable[str]) -> dict[str, Origin]:
        self._learn(shas)
        return {s: self._origins[s] for s in shas if s in self._origins}

    def _learn(self, shas: Iterable[str]) -> None:
        todo = {s for s in shas if s not in self._origins}
        if todo:
            self._origins.update(history.origins(self.root, todo))

    def _origin(self, sha: str | None) -> Origin | None:
        return self._origins.get(sha) if sha else None

    def code_of(self, commit: str | None, *, rel: str, owned: Callable[[str], bool]) -> str | None:
        """The code id of a commit (SPEC section 7), remembered for the command's life."""
        if commit is None:
            return None
        key = (commit, rel)
        if key not in self._codes:
            from loopkit.gitrepo.code import code_id

            self._codes[key] = code_id(self.root, commit, rel=rel, owned=owned)
        return self._codes[key]

    def code_changed(self, old: str, new: str) -> list[str] | None:
        """Paths that differ between two code trees (or commits); None when either is unknown."""
        from loopkit.gitrepo.code import changed_paths

        return changed_paths(self.root, old, new)

    @cached_property
    def spec_commits(self) -> list[Origin]:
        """Every commit that names a spec blob (`Loopkit-Spec`), newest first, in one git process."""
        if self.head is None:
            return []
        out = self.run(
            "log",
            "--no-use-mailmap",
            "-E",
            "--grep=^Loopkit-Spec: ",
            "--format=%x1e%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%(trailers:only,unfold)",
            "HEAD",
        )
        found = []
        for chunk in out.split("\x1e")[1:]:
            fields = chunk.split("\x1f")
            if len(fields) >= 6:
                sha, an, ae, cn, ce, block = fields[:6]
                found.append(
                    Origin(sha.strip(), Identity(an, ae), Identity(cn, ce), history.trailer_pairs(block))
                )
        return found

    def record_lines(self, paths: list[str]) -> dict[str, list[tuple[Origin, str]]]:
        """For each STATUS file, the lines that loopkit's claim, verdict and DONE commits added, with
        the commit that added them: the records history says were written (one git process)."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._records]
        if todo and self.head is not None:
            out = self.run(
                "-c",
                "core.quotePath=false",
                "log",
                "--no-use-mailmap",
                "--no-renames",
                "--no-color",
                "--no-ext-diff",
                "-p",
                "-U0",
                "-E",
                "--grep=^Loopkit-Action: (claim|verdict|done)$",
                "--format=%x1e%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%(trailers:only,unfold)%x1f",
                "HEAD",
                "--",
                *todo,
            )
            found: dict[str, list[tuple[Origin, str]]] = {p: [] for p in todo}
            for chunk in out.split("\x1e")[1:]:
                fields = chunk.split("\x1f", 6)
                if len(fields) < 7:
                    continue
                sha, an, ae, cn, ce, block, diff = fields
                origin = Origin(sha.strip(), Identity(an, ae), Identity(cn, ce), history.trailer_pairs(block))
                for path, line in history.added_lines(diff):
                    if path in found:
                        found[path].append((origin, line))
            self._records.update(found)
        for path in todo:
            self._records.setdefault(path, [])
        return {p: self._records[p] for p in paths}

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
        shas = (
            self.run("log", "--topo-order", "--format=%H", "HEAD", "--", *todo).split() if self.head else []
        )
        order = {sha: index for index, sha in enumerate(reversed(shas))}
        for path in todo:
            self._order[path] = order

    def commit_paths(self, paths: list[str], *, message: str, identity: Identity) -> str | None:
        """A plain commit of these work-tree paths on HEAD (the demo's code changes)."""
        import secrets

        from loopkit.gitrepo import committer
        from loopkit.workspace import find_git_dir

        git_dir = find_git_dir(self.root)
        scratch = secrets.token_hex(6)
        built = committer.build(
            self.root,
            git_dir,
            paths=paths,
            parent=self.head,
            message=message,
            identity=identity,
            when=None,
            scratch=scratch,
        )
        if built is None:
            return None
        committer.publish(self.root, git_dir, built, subject=message.split("\n", 1)[0], scratch=scratch)
        self.__dict__.pop("head", None)
        self.__dict__.pop("dirty", None)
        return built.sha

    def log_oneline(self, limit: int = 50) -> str:
        if self.head is None:
            return ""
        return self.run("log", "--oneline", f"-{limit}")


def _explain(args: tuple[str, ...] | list[str], exc: Any) -> str:
    stderr = (exc.stderr or "").strip().splitlines()
    detail = next((line for line in stderr if line.strip()), f"exit {exc.status}")
    detail = detail.removeprefix("stderr: ").strip().strip("'").strip()
    return f"git {args[0]} failed: {detail}"


def init_repo(path: Path) -> Repo:
    """A new repository whose first branch is `main`, whatever the machine's git defaults."""
    import git

    try:
        git.Repo.init(path, initial_branch="main")
    except git.GitCommandError as exc:
        raise GitError(_explain(["init"], exc)) from None
    return Repo(path)


def _lines(path: Path) -> list[str]:
    """A file's lines as git counts them (LF, a trailing CR kept), no line endings."""
    try:
        data = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = data.split("\n")
    return lines[:-1] if data.endswith("\n") else lines


def _diff_trees(
    a: Any, b: Any, prefix: str, out: list[str], prune: Callable[[str], bool] | None, keep: str | None
) -> None:
    """Paths under two trees whose entries differ, descending only where tree ids differ."""
    left = {entry.name: entry for entry in a} if a is not None else {}
    right = {entry.name: entry for entry in b} if b is not None else {}
    for name in sorted(left.keys() | right.keys()):
        x, y = left.get(name), right.get(name)
        if x is not None and y is not None and x.binsha == y.binsha and x.mode == y.mode:
            continue
        path = prefix + name
        if prune is not None and prune(path):
            continue
        x_tree = x if x is not None and x.type == "tree" else None
        y_tree = y if y is not None and y.type == "tree" else None
        if keep is not None:
            if (x_tree is not None or y_tree is not None) and keep.startswith(path + "/"):
                _diff_trees(x_tree, y_tree, path + "/", out, prune, keep)
                if out:
                    return
                continue
            out.append(path + "/" if x_tree is not None or y_tree is not None else path)
            return
        if x_tree is not None or y_tree is not None:
            _diff_trees(x_tree, y_tree, path + "/", out, prune, keep)
        if (x is not None and x.type != "tree") or (y is not None and y.type != "tree"):
            out.append(path)
