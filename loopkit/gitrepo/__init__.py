"""The only GitPython user: HEAD, dirty paths, diffs, commits of exactly the written paths with an
explicit identity and trailers, blame, and trailers. Every git failure becomes GitError (exit 5)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from loopkit.errors import GitError
from loopkit.model import Identity, Origin

ZERO = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}$")
_IDENTITY_VARS = ("NAME", "EMAIL")


class Repo:
    def __init__(self, root: Path) -> None:
        try:
            import git
        except ImportError as exc:  # pragma: no cover - a dependency
            raise GitError(f"GitPython is not usable: {exc}") from None
        try:
            self._repo = git.Repo(root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(f"not a git repository: {root}") from None
        self.root = root
        self._git = self._repo.git
        self._diff_cache: dict[tuple[str, str, object, str | None], list[str] | None] = {}
        self._adders: dict[str, dict[str, Origin]] = {}
        self._order: dict[str, dict[str, int]] = {}

    # -- running git ----------------------------------------------------------------------------
    def run(self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> str:
        import git

        options: dict[str, Any] = {"with_extended_output": False, "strip_newline_in_stdout": False}
        if env is not None:
            options["env"] = dict(env)
        if stdin is not None:
            with tempfile.TemporaryFile() as handle:
                handle.write(stdin.encode("utf-8"))
                handle.seek(0)
                options["istream"] = handle
                try:
                    return str(self._git.execute(["git", *args], **options))
                except git.GitCommandError as exc:
                    raise GitError(_explain(args, exc)) from None
        try:
            return str(self._git.execute(["git", *args], **options))
        except git.GitCommandError as exc:
            raise GitError(_explain(args, exc)) from None

    # -- reading --------------------------------------------------------------------------------
    # Reads go through GitPython's object database (one long-lived `git cat-file` process), not a
    # git process per question: `status` over hundreds of phases must not fork hundreds of times.
    @cached_property
    def head(self) -> str | None:
        try:
            return str(self._repo.head.commit.hexsha)
        except ValueError:
            return None  # no commit yet

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
        """For each file, the commit that added each line of the working file (None: uncommitted).

        One `git log -p` over all the files gives, for each line text, the newest commit that added
        it: what git blame answers for a file whose working copy is committed. A file with
        uncommitted changes is blamed on its own, so a typed line never borrows a commit.
        """
        self.prefetch(paths)
        result: dict[str, list[Origin | None]] = {}
        for path in paths:
            adders = self._adders.get(path)
            if adders is None:
                result[path] = self.blame(path)
            else:
                result[path] = [adders.get(line) for line in _lines(self.root / path)]
        return result

    def order(self, path: str) -> dict[str, int]:
        """The commits that touched this file (and any read with it), oldest = 0: history order."""
        self.prefetch([path])
        return self._order.get(path, {})

    def prefetch(self, paths: list[str]) -> None:
        """Read the history of many files in one git process (status reads every phase at once)."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._order]
        if not todo:
            return
        if self.head is None:
            for path in todo:
                self._order[path] = {}
            return
        out = self.run(
            "-c", "core.quotePath=false", "log", "--topo-order", "--no-renames", "--no-color",
            "--no-ext-diff", "-p", "-U0",
            "--format=%x1e%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%(trailers:only,unfold)%x1f",
            "HEAD", "--", *todo,
        )  # fmt: skip
        shas: list[str] = []
        adders: dict[str, dict[str, Origin]] = {path: {} for path in todo}
        for chunk in out.split("\x1e")[1:]:
            origin, diff = _parse_log_chunk(chunk)
            shas.append(origin.sha)
            for path, line in _added_lines(diff):
                if path in adders:
                    adders[path].setdefault(line, origin)
        order = {sha: index for index, sha in enumerate(reversed(shas))}
        for path in todo:
            self._order[path] = order
            if self._committed_as_is(path):
                self._adders[path] = adders[path]

    def _committed_as_is(self, path: str) -> bool:
        import hashlib

        try:
            data = (self.root / path).read_bytes()
            entry = self._repo.head.commit.tree[path]
        except (OSError, KeyError):
            return False
        digest = hashlib.sha1(b"blob %d\0" % len(data) + data).digest()
        return bool(entry.binsha == digest)

    def blame(self, path: str) -> list[Origin | None]:
        """git blame of the working file: the commit of each line, None for uncommitted lines."""
        if self.head is None:
            return [None] * len(_lines(self.root / path))
        try:
            out = self.run("blame", "--line-porcelain", "--", path)
        except GitError:
            return [None] * len(_lines(self.root / path))  # not tracked yet: nothing is committed
        pending: list[tuple[str, dict[str, str]]] = []
        header: dict[str, str] = {}
        sha = ""
        for line in out.split("\n"):
            if line.startswith("\t"):
                pending.append((sha, header))
                header = {}
            elif not header and _SHA.match(line[:40] or "x") and " " in line:
                sha = line[:40]
                header = {"sha": sha}
            elif header and " " in line:
                key, _, value = line.partition(" ")
                header[key] = value
        trailers = self.trailers({s for s, _ in pending if s != ZERO})
        origins: list[Origin | None] = []
        for sha, info in pending:
            if sha == ZERO:
                origins.append(None)
                continue
            origins.append(
                Origin(
                    sha=sha,
                    author=Identity(info.get("author", ""), info.get("author-mail", "").strip("<>")),
                    committer=Identity(info.get("committer", ""), info.get("committer-mail", "").strip("<>")),
                    trailers=trailers.get(sha, {}),
                )
            )
        return origins

    def trailers(self, shas: Iterable[str]) -> dict[str, dict[str, str]]:
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        out = self.run(
            "show", "-s", "--no-walk=unsorted", "--format=%H%x1f%(trailers:only,unfold)%x1e", *wanted
        )
        found: dict[str, dict[str, str]] = {}
        for chunk in out.split("\x1e"):
            sha, _, block = chunk.strip("\n").partition("\x1f")
            if sha:
                found[sha.strip()] = _trailer_pairs(block)
        return found

    def log_oneline(self, limit: int = 50) -> str:
        if self.head is None:
            return ""
        return self.run("log", "--oneline", f"-{limit}")

    # -- writing --------------------------------------------------------------------------------
    def commit_paths(
        self,
        paths: list[str],
        *,
        message: str,
        identity: Identity,
        when: str | None = None,
    ) -> str | None:
        """Commit these paths, as they are in the work tree, on top of HEAD, and nothing else.

        A temporary index built from HEAD keeps whatever a person has staged or changed elsewhere
        out of the commit (`git commit --only` semantics); the identity is both author and committer
        whatever GIT_AUTHOR_*/GIT_COMMITTER_* say. Returns the new commit, or None if nothing changed.
        """
        git_dir = Path(self.run("rev-parse", "--absolute-git-dir").strip())
        parent = self.head
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
        for who in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{who}_NAME"] = identity.name
            env[f"GIT_{who}_EMAIL"] = identity.email
            if when:
                env[f"GIT_{who}_DATE"] = when
        fd, index_path = tempfile.mkstemp(prefix="loopkit-index-", dir=git_dir)
        os.close(fd)
        os.unlink(index_path)
        temp_env = {**env, "GIT_INDEX_FILE": index_path}
        try:
            if parent:
                self.run("read-tree", parent, env=temp_env)
            else:
                self.run("read-tree", "--empty", env=temp_env)
            present = [p for p in paths if (self.root / p).is_file()]
            blobs = (
                self.run(
                    # fast zlib: a 10 MB journal is re-stored on every append
                    "-c",
                    "core.looseCompression=1",
                    "hash-object",
                    "-w",
                    "--stdin-paths",
                    stdin="\n".join(present) + "\n",
                ).split()
                if present
                else []
            )
            lines = [f"100644 {blob}\t{path}" for path, blob in zip(present, blobs, strict=True)]
            lines += [f"0 {ZERO}\t{path}" for path in paths if path not in present]
            self.run("update-index", "--index-info", env=temp_env, stdin="\n".join(lines) + "\n")
            tree = self.run("write-tree", env=temp_env).strip()
        finally:
            if os.path.exists(index_path):
                os.unlink(index_path)
        if parent and tree == self.run("rev-parse", f"{parent}^{{tree}}").strip():
            return None
        args = ["commit-tree", tree, "-F", "-"]
        if parent:
            args[2:2] = ["-p", parent]
        sha = self.run(*args, env=env, stdin=message).strip()
        subject = message.split("\n", 1)[0]
        self.run("update-ref", "-m", f"loopkit: {subject}", "HEAD", sha, parent or ZERO)
        # the person's index gets exactly the committed entries of these paths, nothing re-hashed
        self.run("update-index", "--index-info", stdin="\n".join(lines) + "\n")
        self.__dict__.pop("head", None)
        self.__dict__.pop("dirty", None)
        return sha


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


def _trailer_pairs(block: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in pairs:
            pairs[key.strip()] = value.strip()
    return pairs


def _parse_log_chunk(chunk: str) -> tuple[Origin, str]:
    fields = chunk.split("\x1f", 6)
    sha, an, ae, cn, ce, trailers = (fields + [""] * 7)[:6]
    diff = fields[6] if len(fields) > 6 else ""
    origin = Origin(
        sha=sha.strip(),
        author=Identity(an, ae),
        committer=Identity(cn, ce),
        trailers=_trailer_pairs(trailers),
    )
    return origin, diff


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def _added_lines(diff: str) -> Iterator[tuple[str, str]]:
    """(path, line) for every line a `git log -p -U0` diff adds, hunk by hunk by the hunk's counts."""
    path = ""
    lines = diff.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("+++ "):
            target = line[4:]
            path = target[2:] if target.startswith("b/") else ""
            continue
        match = _HUNK.match(line)
        if match is None:
            continue
        remaining = _count(match.group(1)) + _count(match.group(2))
        while remaining and index < len(lines):
            entry = lines[index]
            index += 1
            if entry.startswith("\\"):
                continue  # "\ No newline at end of file" is not a line of the hunk
            remaining -= 1
            if entry.startswith("+") and path:
                yield path, entry[1:]


def _count(group: str | None) -> int:
    return 1 if group is None else int(group)


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
