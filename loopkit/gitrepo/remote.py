"""Remotes: fetch, integrate (fast-forward, rebase, merge) and push, through GitPython.

Nothing here touches the person's work tree, index or HEAD until the new history is complete:
a rebase runs in a temporary worktree of the same repository, and only a finished result moves
HEAD, with `read-tree -m -u` (what `git checkout` does: staged and unstaged work on other paths is
carried over; work it would overwrite makes it refuse before writing anything) and a
compare-and-swap `update-ref`. A conflict, or any failure, leaves the clone as it was.

A kill can still come between two steps: while the temporary worktree exists, or between moving
the index and work tree and moving HEAD. So each of those steps is noted first in
`.git/loopkit/sync.json`, and `recover` (which the next command runs) removes the worktree and
finishes the move.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopkit.errors import GitError
from loopkit.gitrepo.clone import SYNC_INTENT
from loopkit.model.config import Identity

_TEMP_PREFIX = "loopkit-sync-"
NO_IDENTITY = (
    "git has no committer identity in this clone: set one with `git config user.name NAME` and "
    "`git config user.email EMAIL`, then run sync again"
)

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def scrub(text: str) -> str:
    """A URL's userinfo is never printed: `https://user:pass@host` → `https://host`."""
    return _USERINFO.sub(r"\1", text)


class Conflict(GitError):
    """The histories conflict in these files; nothing was changed."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


@dataclass(frozen=True)
class SignedCommit:
    """A commit with a signature: its author header and message name it across a rebase (which
    keeps both), `key` the public key blob its SSH signature names (None: not an SSH signature)."""

    sha: str
    author: str
    message: str
    key: bytes | None


@dataclass(frozen=True)
class Resign:
    """What `rebase` re-signs: the rebased commits whose (author header, message) are in `ids`,
    with `args` (the `-c` options and `-S` of `signing.commit_tree_sign_args`)."""

    ids: frozenset[tuple[str, str]]
    args: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """What one git command against the remote returned."""

    status: int
    out: str
    err: str


class Remote:
    def __init__(self, root: Path, *, progress: Callable[[str], None] | None = None) -> None:
        import git

        try:
            self._repo = git.Repo(root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(f"not a git repository: {root}") from None
        self.root = root
        self.progress = progress

    # -- running git ----------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
    ) -> Result:
        options: dict[str, Any] = {
            "with_extended_output": True,
            "with_exceptions": False,
            "strip_newline_in_stdout": False,
            "env": {"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", **(env or {})},
        }
        runner = self._repo.git
        if cwd is not None:
            import git

            runner = git.cmd.Git(str(cwd))
        with tempfile.TemporaryFile() as handle:
            if stdin is not None:
                handle.write(stdin.encode("utf-8"))
                handle.seek(0)
                options["istream"] = handle
            status, out, err = runner.execute(["git", *args], **options)
        result = Result(int(status or 0), str(out), str(err))
        if check and result.status:
            detail = next((line for line in result.err.splitlines() if line.strip()), f"exit {status}")
            raise GitError(scrub(f"git {args[0]} failed: {detail.strip()}"))
        return result

    def out(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).out.strip()

    @contextlib.contextmanager
    def _slow(self, what: str) -> Iterator[None]:
        """One line on stderr when a remote operation takes more than a moment."""
        said: list[bool] = []

        def tell() -> None:
            said.append(True)
            if self.progress is not None:
                self.progress(f"{what}…")

        timer = threading.Timer(1.0, tell)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            if said and self.progress is not None:
                self.progress(f"{what}: done")

    # -- where ----------------------------------------------------------------------------------
    def branch(self) -> str:
        result = self.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
        if result.status or not result.out.strip():
            raise GitError("HEAD is detached: check out a branch to sync")
        return result.out.strip()

    def head(self) -> str | None:
        result = self.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        return result.out.strip() or None

    def config(self, key: str) -> str | None:
        result = self.run("config", "--get", key, check=False)
        return result.out.strip() if result.status == 0 else None

    def upstream(self, branch: str) -> tuple[str, str] | None:
        remote, merge = self.config(f"branch.{branch}.remote"), self.config(f"branch.{branch}.merge")
        if remote and merge and remote != ".":
            return remote, merge.removeprefix("refs/heads/")
        return None

    def has_remote(self, name: str) -> bool:
        return name in self.out("remote").split()

    def git_path(self, name: str) -> Path:
        path = Path(self.out("rev-parse", "--git-path", name))
        return path if path.is_absolute() else self.root / path

    # -- fetch and push -------------------------------------------------------------------------
    def fetch(self, remote: str, branch: str) -> str | None:
        """The remote branch's commit after fetching it; None when the remote has no such branch."""
        tracking = f"refs/remotes/{remote}/{branch}"
        with self._slow(f"fetching {branch} from {remote}"):
            result = self.run(
                "fetch", "--no-tags", "--quiet", remote, f"+refs/heads/{branch}:{tracking}", check=False
            )
        if result.status:
            text = result.err
            if "couldn't find remote ref" in text or "could not find remote ref" in text.lower():
                return None
            detail = next((line for line in text.splitlines() if line.strip()), "")
            raise GitError(scrub(f"cannot fetch from {remote}: {detail.strip() or 'git fetch failed'}"))
        return self.out("rev-parse", tracking)

    def push(self, remote: str, branch: str, sha: str) -> bool:
        """True when pushed; False when rejected because the remote moved (fetch and try again)."""
        with self._slow(f"pushing {branch} to {remote}"):
            result = self.run("push", "--porcelain", remote, f"{sha}:refs/heads/{branch}", check=False)
        if result.status == 0:
            return True
        text = result.out + result.err
        moved = (
            "[rejected]",
            "fetch first",
            "non-fast-forward",
            "stale info",
            "cannot lock ref",
            "but expected",
        )
        if any(word in text for word in moved):  # the last two: another push won the race on the remote
            return False
        lines = [line for line in result.err.splitlines() if line.strip() and not line.startswith("To ")]
        raise GitError(scrub(f"cannot push to {remote}: {(lines or ['git push failed'])[0].strip()}"))

    # -- history questions ----------------------------------------------------------------------
    def is_ancestor(self, a: str, b: str) -> bool:
        return self.run("merge-base", "--is-ancestor", a, b, check=False).status == 0

    def count(self, spec: str) -> int:
        return int(self.out("rev-list", "--count", spec) or 0)

    def commits(self, spec: str) -> list[str]:
        return self.out("rev-list", "--reverse", "--topo-order", spec).split()

    def has_merges(self, spec: str) -> bool:
        return bool(self.out("rev-list", "--merges", spec))

    def signed(self, spec: str) -> bool:
        """Whether any of these commits carries a signature (a rebase would drop it)."""
        return bool(self.signed_commits(spec))

    def signed_commits(self, spec: str) -> list[SignedCommit]:
        """The commits of `spec` that carry a signature, with the key each claims to be made by."""
        from loopkit.gitrepo.signing import signature_public_key

        found: list[SignedCommit] = []
        for sha in self.commits(spec):
            headers, _, message = self.run("cat-file", "commit", sha).out.partition("\n\n")
            armored = _signature_header(headers)
            if armored is None:
                continue
            author = _headers(headers).get("author", "")
            found.append(SignedCommit(sha, author, message, signature_public_key(armored)))
        return found

    # -- integrating ----------------------------------------------------------------------------
    def move_to(self, new: str, old: str | None) -> None:
        """HEAD, index and work tree to `new`, as a checkout would; refuses (changing nothing) when
        that would overwrite uncommitted work, or when HEAD is no longer `old` (None: unborn)."""
        if self.head() != old:
            raise GitError("HEAD moved while syncing; nothing changed (run sync again)")
        with self._noted({"move": [old or "", new]}):
            self._move(new, old)

    def _move(self, new: str, old: str | None) -> None:
        if old is None:  # a clone of an empty remote: nothing of its own to keep or overwrite
            self.run("read-tree", "-m", "-u", new)
            self.run("update-ref", "-m", "loopkit: sync", "HEAD", new, "")
            return
        # loopkit's commits update index entries without stat data: refresh it, or read-tree would
        # take every file loopkit wrote for a local change (content is compared, nothing is written)
        self.run("update-index", "-q", "--refresh", check=False)
        result = self.run("read-tree", "-m", "-u", old, new, check=False)
        if result.status:
            files = re.findall(r"^\s+(\S.*)$", result.err, re.MULTILINE)
            raise Conflict(
                "uncommitted changes would be overwritten by the synced history: "
                + (", ".join(files) or result.err.strip().splitlines()[0]),
                files,
            )
        self.run("update-ref", "-m", "loopkit: sync", "HEAD", new, old)

    def rebase(
        self, onto: str, *, identity_of: Callable[[str], Identity | None], resign: Resign | None = None
    ) -> str:
        """This branch's commits that `onto` lacks, replayed on `onto`; the new tip.

        Runs git's own rebase (with the merge driver for loopkit's files) in a temporary worktree.
        Each loopkit commit then gets its role's identity as committer too (git would put the
        person's): `identity_of(message)` names it. Commits `resign` names are signed again with
        its key (SPEC section 10). Raises Conflict naming the files.
        """
        head = self.head()
        assert head is not None
        # git's rebase gives every commit the clone's own committer, which is what a person's
        # commit keeps (SPEC section 7); a clone git knows no committer for can still rebase
        # loopkit's own commits, which get their role's below
        own = self.has_identity()
        with self._worktree(head) as tree:
            result = self.run(
                # git's rebase signs nothing (the clone's signer could prompt); loopkit re-signs below
                "-c", "commit.gpgsign=false",
                "rebase", "--no-autostash", "--no-autosquash", "--no-verify", onto,
                cwd=tree, env=None if own else _placeholder_committer(), check=False,
            )  # fmt: skip
            if result.status:
                files = self._unmerged(tree)
                self.run("rebase", "--abort", cwd=tree, check=False)
                raise Conflict(_conflict_line(files, result), files)
            tip = self.out("rev-parse", "HEAD", cwd=tree)
        return self._recommit(onto, tip, identity_of, resign, own=own)

    def merge(
        self, other: str, *, message: str, identity: Identity | None, sign: tuple[str, ...] = ()
    ) -> str:
        """A merge commit of HEAD and `other` (for histories a rebase must not rewrite), signed
        with `sign` (the `-c` options and `-S`) when the role signs; `identity` None: made as
        `git merge` in this clone makes it (its own identity), unsigned."""
        head = self.head()
        assert head is not None
        config = [a for a in sign if a != "-S"] if identity is not None else ["-c", "commit.gpgsign=false"]
        flag = ["-S"] if "-S" in sign and identity is not None else []
        if identity is None and not self.has_identity():
            raise GitError(NO_IDENTITY)
        with self._worktree(head) as tree:
            env = _identity_env(identity, None) if identity is not None else None
            result = self.run(
                *config, "merge", "--no-ff", "--no-verify", *flag, "-m", message, other,
                cwd=tree, env=env, check=False,
            )  # fmt: skip
            if result.status:
                files = self._unmerged(tree)
                self.run("merge", "--abort", cwd=tree, check=False)
                raise Conflict(_conflict_line(files, result), files)
            return self.out("rev-parse", "HEAD", cwd=tree)

    def _unmerged(self, cwd: Path) -> list[str]:
        out = self.run("diff", "--name-only", "--diff-filter=U", "-z", cwd=cwd, check=False).out
        return sorted({p for p in out.split("\0") if p})

    @contextlib.contextmanager
    def _worktree(self, head: str) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX))
        with self._noted({"worktree": str(folder)}):
            try:
                self.run("worktree", "add", "--detach", "--quiet", str(folder / "tree"), head)
                yield folder / "tree"
            finally:
                self._drop_worktree(folder)

    def _drop_worktree(self, folder: Path) -> None:
        self.run("worktree", "remove", "--force", str(folder / "tree"), check=False)
        shutil.rmtree(folder, ignore_errors=True)
        self.run("worktree", "prune", check=False)

    # -- a sync killed between two steps ----------------------------------------------------------
    @contextlib.contextmanager
    def _noted(self, step: dict[str, Any]) -> Iterator[None]:
        """`step` in the intent file while it runs: a kill leaves it for `recover`. Written whole
        and renamed into place, so `recover` reads the step or nothing."""
        path = self.git_path(SYNC_INTENT)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        scratch.write_text(json.dumps(step), "utf-8")
        os.replace(scratch, path)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def recover(self) -> list[str]:
        """Finish what a killed sync left (the caller holds the workspace lock): its temporary
        worktree removed, a move of index and work tree that HEAD did not follow yet finished.
        Returns a line for each thing done."""
        path = self.git_path(SYNC_INTENT)
        try:
            step = json.loads(path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            step = {}
        said: list[str] = []
        folder = step.get("worktree") if isinstance(step, dict) else None
        if isinstance(folder, str) and Path(folder).name.startswith(_TEMP_PREFIX):
            self._drop_worktree(Path(folder))
            said.append("removed the temporary worktree of a sync that was killed")
        move = step.get("move") if isinstance(step, dict) else None
        if isinstance(move, list) and len(move) == 2 and self.head() == (move[0] or None):
            try:
                self._move(str(move[1]), str(move[0]) or None)
                said.append("finished a sync that was killed before it moved HEAD (run sync to push)")
            except GitError as exc:  # the person's own changes in the way: leave the choice to them
                undo = f": `git read-tree -m -u {move[1]} {move[0]}` takes it back out" if move[0] else ""
                said.append(
                    f"a sync killed before it moved HEAD left {move[1]} staged, and it cannot be "
                    f"finished ({exc.message}){undo}"
                )
        path.unlink(missing_ok=True)
        return said

    def _recommit(
        self,
        onto: str,
        tip: str,
        identity_of: Callable[[str], Identity | None],
        resign: Resign | None,
        *,
        own: bool,
    ) -> str:
        """Rebuild onto..tip with the same trees, messages and authors; loopkit's commits are
        committed as their role (with the author's date, so a replay gives the same ids), every
        other commit keeps the committer git's rebase gave it (`own`: the clone's own; without
        one such a commit cannot be rebased), and the commits that were signed by this clone's
        key are signed again."""
        parent = onto
        for sha in self.commits(f"{onto}..{tip}"):
            headers, _, message = self.run("cat-file", "commit", sha).out.partition("\n\n")
            fields = _headers(headers)
            sign = resign is not None and (fields["author"], message) in resign.ids
            author = _ident(fields["author"])
            role = identity_of(message)
            if role is None and not own:
                raise GitError(NO_IDENTITY)
            committer = (role, author[2]) if role is not None else (None, _ident(fields["committer"])[2])
            env = {
                "GIT_AUTHOR_NAME": author[0],
                "GIT_AUTHOR_EMAIL": author[1],
                "GIT_AUTHOR_DATE": author[2],
            }
            if committer[0] is not None:
                env.update(_identity_env(committer[0], committer[1], author=False))
            else:
                original = _ident(fields["committer"])
                env.update(
                    {
                        "GIT_COMMITTER_NAME": original[0],
                        "GIT_COMMITTER_EMAIL": original[1],
                        "GIT_COMMITTER_DATE": original[2],
                    }
                )
            # SPEC §10: a commit that was signed is signed again here, with this clone's key (the
            # caller merges instead when a signature is not this clone's to renew)
            config = [a for a in resign.args if a != "-S"] if sign and resign is not None else []
            parent = self.run(
                *config, "commit-tree", fields["tree"], "-p", parent, *(["-S"] if sign else []), "-F", "-",
                env=env, stdin=message,
            ).out.strip()  # fmt: skip
        return parent

    # -- a merge or rebase a person left stopped ------------------------------------------------
    def in_progress(self) -> str | None:
        if self.git_path("rebase-merge").is_dir() or self.git_path("rebase-apply").is_dir():
            return "rebase"
        if self.git_path("MERGE_HEAD").is_file():
            return "merge"
        if self.git_path("CHERRY_PICK_HEAD").is_file():
            return "cherry-pick"
        return None

    def unmerged(self) -> list[str]:
        return self._unmerged(self.root)

    def stage(self, path: str, number: int) -> bytes | None:
        import subprocess

        proc = subprocess.run(
            ["git", "cat-file", "blob", f":{number}:{path}"], cwd=self.root, capture_output=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    def resolve(self, path: str, data: bytes) -> None:
        (self.root / path).write_bytes(data)
        self.run("add", "--", path)

    def resume(self, kind: str) -> None:
        """Finish a person's stopped rebase or merge as `git … --continue` in this clone would:
        with its own committer identity."""
        if not self.has_identity():
            raise GitError(NO_IDENTITY)
        if kind == "rebase":
            self.run("rebase", "--continue")
        elif kind == "merge":
            self.run("commit", "--no-edit", "--no-verify")
        else:
            self.run("cherry-pick", "--continue")

    def has_identity(self) -> bool:
        """Whether git knows a committer for this clone (what a commit, rebase or merge here needs)."""
        return self.run("var", "GIT_COMMITTER_IDENT", check=False).status == 0


def _signature_header(block: str) -> str | None:
    """The `gpgsig` header of a raw commit, continuation lines joined, or None."""
    lines = block.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("gpgsig "):
            found = [line[len("gpgsig ") :]]
            for more in lines[index + 1 :]:
                if not more.startswith(" "):
                    break
                found.append(more[1:])
            return "\n".join(found)
    return None


def _headers(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        key, _, value = line.partition(" ")
        if key and not line.startswith(" "):
            fields.setdefault(key, value)
    return fields


_IDENT = re.compile(r"^(?P<name>.*?) <(?P<email>[^>]*)> (?P<date>\d+ [+-]\d{4})$")


def _ident(value: str) -> tuple[str, str, str]:
    match = _IDENT.match(value.strip())
    if match is None:
        raise GitError(f"cannot read a commit identity: {value[:80]!r}")
    return match["name"], match["email"], "@" + match["date"]


def _identity_env(identity: Identity, date: str | None, *, author: bool = True) -> dict[str, str]:
    env: dict[str, str] = {}
    for who in ("AUTHOR", "COMMITTER") if author else ("COMMITTER",):
        env[f"GIT_{who}_NAME"] = identity.name
        env[f"GIT_{who}_EMAIL"] = identity.email
        if date:
            env[f"GIT_{who}_DATE"] = date
    return env


def _placeholder_committer() -> dict[str, str]:
    """A committer for git's rebase in a clone that has none: only loopkit's own commits are
    rebased then, and `_recommit` gives each its role's committer; no commit keeps this one."""
    return {"GIT_COMMITTER_NAME": "loopkit", "GIT_COMMITTER_EMAIL": "loopkit@loopkit.invalid"}


def _conflict_line(files: list[str], result: Result) -> str:
    if files:
        return "conflict in " + ", ".join(files)
    detail = next((line for line in (result.err + result.out).splitlines() if line.strip()), "")
    return scrub(f"git could not integrate: {detail.strip()}")
