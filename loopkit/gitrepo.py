"""The only GitPython user: HEAD, dirty paths, diffs, commits of exactly the written paths with an
explicit identity and trailers, blame, and trailers. Every git failure becomes GitError (exit 5)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
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
        self._diff_cache: dict[tuple[str, str], list[str] | None] = {}

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
    @cached_property
    def head(self) -> str | None:
        try:
            out = self.run("rev-parse", "--verify", "-q", "HEAD^{commit}").strip()
        except GitError:
            return None
        return out or None

    @cached_property
    def dirty(self) -> list[str]:
        """Tracked paths with uncommitted changes, staged or not (untracked files never count)."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames")
        return [entry[3:] for entry in out.split("\0") if len(entry) > 3]

    def exists(self, sha: str) -> bool:
        try:
            self.run("cat-file", "-e", f"{sha}^{{commit}}")
        except GitError:
            return False
        return True

    def changed(self, old: str, new: str) -> list[str] | None:
        """Paths that differ between two commits; None when either is unknown (rewritten history)."""
        key = (old, new)
        if key not in self._diff_cache:
            if not (self.exists(old) and self.exists(new)):
                self._diff_cache[key] = None
            else:
                out = self.run("diff", "--name-only", "-z", "--no-renames", old, new, "--")
                self._diff_cache[key] = [p for p in out.split("\0") if p]
        return self._diff_cache[key]

    def blame(self, path: str) -> list[Origin | None]:
        """For each line of the working file, the commit that added it; None for uncommitted lines."""
        if self.head is None:
            return []
        try:
            out = self.run("blame", "--line-porcelain", "--", path)
        except GitError:
            return []  # not tracked yet: nothing in it is committed
        origins: list[Origin | None] = []
        header: dict[str, str] = {}
        sha = ""
        pending: list[tuple[str, dict[str, str]]] = []
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
            "show",
            "-s",
            "--no-walk=unsorted",
            "--format=%H%x1f%(trailers:only,unfold)%x1e",
            *wanted,
        )
        found: dict[str, dict[str, str]] = {}
        for chunk in out.split("\x1e"):
            sha, _, block = chunk.strip("\n").partition("\x1f")
            if not sha:
                continue
            pairs = {}
            for line in block.splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    pairs[key.strip()] = value.strip()
            found[sha.strip()] = pairs
        return found

    def order(self, paths: Iterable[str]) -> dict[str, int]:
        """Commits that touched these paths, oldest = 0: history order, not clock order."""
        if self.head is None:
            return {}
        out = self.run("rev-list", "--topo-order", "--reverse", "HEAD", "--", *paths)
        return {sha: index for index, sha in enumerate(out.split())}

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
                self.run("hash-object", "-w", "--stdin-paths", stdin="\n".join(present) + "\n").split()
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
        self.run("reset", "-q", sha, "--", *paths)
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
