"""What every command has: its invocation (who, where, when: fixed for the command), the workspace
it opens (`find_workspace`: find it, read the trusted configuration; `make_ready`: finish or undo
a killed command's transaction, give the clone its merge driver), and the repository handle.
`Context` bundles the three for the services, with what the command collects as it runs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit import timefmt
from loopkit.errors import BadInput, GitError, LoopkitError, Refused, UsageError
from loopkit.model import ROLES
from loopkit.redact import Redactor
from loopkit.workspace import CONFIG_NAME, GIT_INIT_HINT, Workspace, _git_dir, find_repo_root, find_root

if TYPE_CHECKING:  # without importing GitPython, or txn on the read-only path, at start-up
    from loopkit import txn
    from loopkit.gitrepo import Repo
    from loopkit.index import Index
    from loopkit.model.config import Identity


ROLE_HINT = "pass --role or set LOOPKIT_ROLE"


@dataclass(frozen=True)
class Invocation:
    """Who runs the command, where, and when: read once, from the shell, the environment and the clock."""

    cwd: Path
    environ: Mapping[str, str]
    workspace_dir: str | None = None
    role_option: str | None = None
    no_commit: bool = False
    # how this shell is given a role, for the message that asks for one (a tool call cannot pass --role)
    role_hint: str = ROLE_HINT

    @cached_property
    def role(self) -> str | None:
        role = self.role_option or self.environ.get("LOOPKIT_ROLE") or None
        if role is not None and role not in ROLES:
            raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)} (--role or LOOPKIT_ROLE)")
        return role

    def need_role(self, *allowed: str, doing: str) -> str:
        role = self.role
        if role is None:
            raise UsageError(f"{doing} needs a role: {self.role_hint}")
        if allowed and role not in allowed:
            raise Refused(f"only the {' or '.join(allowed)} may {doing}; you are {role}")
        return role

    @cached_property
    def now(self) -> datetime:
        return timefmt.now(self.environ.get("LOOPKIT_NOW"))

    @property
    def git_date(self) -> str | None:
        """Commit dates follow LOOPKIT_NOW when it is set, so replays are reproducible."""
        return timefmt.iso(self.now) if self.environ.get("LOOPKIT_NOW") else None


def read_workspace(root: Path, environ: Mapping[str, str], *, index: Index | None = None) -> Workspace:
    """The workspace in `root`, with the configuration every command reads: loopkit.toml's
    `[roles]`, `[rules]` and `[files]` as the trust chain has them (SPEC section 2), the rest as
    the work tree has it. The chain is read through `index` (the command's one index), or one
    opened here."""
    from loopkit.gitrepo.signers import trusted_config

    repo_root = find_repo_root(root)
    path = root / CONFIG_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {CONFIG_NAME}: {exc.strerror}") from None
    rel = "" if repo_root is None or root == repo_root else root.relative_to(repo_root).as_posix()
    git_dir = _git_dir(repo_root) if repo_root is not None else None
    found = trusted_config(
        repo_root if git_dir is not None else None,
        workspace=rel,
        work_data=data,
        environ=environ,
        memory=index if index is not None else open_index(root, repo_root, environ),
    )
    return Workspace(root=root, repo_root=repo_root, config=found.config, config_problems=found.problems)


def open_index(root: Path, repo_root: Path | None, environ: Mapping[str, str]) -> Index:
    """The repository's one index (loopkit/index.py); outside a git repository, one that keeps nothing."""
    from loopkit.index import Index

    git_dir = _git_dir(repo_root) if repo_root is not None else None
    return Index.open(repo_root or root, git_dir, environ)


def find_workspace(invocation: Invocation) -> tuple[Workspace, Index]:
    """The command's workspace (`--workspace`, LOOPKIT_WORKSPACE, or the nearest loopkit.toml) and
    the one index it was read through, which the rest of the command goes on using."""
    root = find_root(start=invocation.cwd, override=invocation.workspace_dir, environ=invocation.environ)
    index = open_index(root, find_repo_root(root), invocation.environ)
    return read_workspace(root, invocation.environ, index=index), index


def make_ready(ws: Workspace, warn: Callable[[str], None]) -> None:
    """What opening a workspace does before anything reads it: a transaction a killed command left
    is finished or undone (under the lock), a clone's merge driver or a killed sync's leftovers
    are seen to (`services/sync.on_open`)."""
    if ws.intent_file is not None and ws.intent_file.exists():  # a killed command's transaction
        from loopkit import txn

        with ws.lock():
            txn.recover(ws, warn)
    from loopkit.gitrepo.clone import needs_care  # a stat and a small read

    if needs_care(ws.repo_root):  # no merge driver yet, or a killed sync's leftovers
        from loopkit.services.sync import on_open

        on_open(ws, warn)


class Context:
    """What a service is handed: the invocation (`ctx.role`, `ctx.now`, ... read through), the
    workspace (found, then made ready, when the command first asks for it) and the repository
    handle; and the command's own collections: its warnings for stderr, the signing key it checked,
    and `cache` (what it read, forgotten when a transaction re-reads)."""

    def __init__(
        self,
        cwd: Path,
        environ: Mapping[str, str],
        workspace_dir: str | None = None,
        role_option: str | None = None,
        no_commit: bool = False,
        role_hint: str = ROLE_HINT,
    ) -> None:
        self.invocation = Invocation(cwd, environ, workspace_dir, role_option, no_commit, role_hint)
        self.warnings: list[str] = []
        self.cache: dict[Any, Any] = {}
        self._workspace: Workspace | None = None
        self._index: Index | None = None
        self._repo: Repo | None = None
        self._signing: tuple[Any, list[str]] | None = None  # (SigningKey, sign args) once checked

    # -- the invocation, read through -------------------------------------------------------------
    @property
    def cwd(self) -> Path:
        return self.invocation.cwd

    @property
    def environ(self) -> Mapping[str, str]:
        return self.invocation.environ

    @property
    def no_commit(self) -> bool:
        return self.invocation.no_commit

    @property
    def role_hint(self) -> str:
        return self.invocation.role_hint

    @property
    def role(self) -> str | None:
        return self.invocation.role

    @property
    def now(self) -> datetime:
        return self.invocation.now

    def need_role(self, *allowed: str, doing: str) -> str:
        return self.invocation.need_role(*allowed, doing=doing)

    # -- the workspace and the repository ---------------------------------------------------------
    def _opened(self) -> tuple[Workspace, Index]:
        if self._workspace is None or self._index is None:
            # kept if make_ready fails: the error document is still redacted by its config
            self._workspace, self._index = find_workspace(self.invocation)
            make_ready(self._workspace, self.warn)
        return self._workspace, self._index

    @property
    def workspace(self) -> Workspace:
        return self._opened()[0]

    @property
    def repo(self) -> Repo:
        """The repository handle (GitPython's, imported on first use)."""
        if self._repo is None:
            from loopkit.gitrepo import Repo

            root = self.workspace.repo_root
            if root is None:
                raise GitError(f"not inside a git work tree: {self.workspace.root}; {GIT_INIT_HINT}")
            self._repo = Repo(root, self.index, git_dir=self.workspace.git_dir)
        return self._repo

    @property
    def index(self) -> Index:
        """The one index (loopkit/index.py), shared by everything this command reads, the trusted
        configuration's chain included."""
        return self._opened()[1]

    def wants_sync(self, flag: bool) -> bool:
        """--sync given, or `[git] sync` on (SPEC section 7); a workspace that cannot be read syncs not."""
        if flag:
            return True
        try:
            return bool(self.workspace.config.git_sync)
        except LoopkitError:
            return False

    @cached_property
    def redactor(self) -> Redactor:
        patterns: Sequence[str] = ()
        with contextlib.suppress(Exception):
            patterns = self.workspace.config.redact_patterns
        return Redactor(environ=self.environ, extra_patterns=patterns)

    def warn(self, line: str) -> None:
        """A line for stderr (the CLI prints them after the command; --json output stays one document)."""
        self.warnings.append(line)

    # -- writing ------------------------------------------------------------------------------------
    def transact(self, planner: Callable[[], txn.Plan]) -> txn.Outcome:
        """Run the planner in one transaction (txn.run): re-read from scratch on each try, commit as
        this role (unless --no-commit), signed when it signs."""
        from loopkit import txn

        def fresh() -> txn.Plan:
            self._repo = None  # a transaction re-reads everything inside the lock
            self.cache.clear()
            return planner()

        author = None if self.no_commit else self._author()
        return txn.run(self.workspace, fresh, redactor=self.redactor, author=author, warn=self.warn)

    def _author(self) -> txn.Author:
        from loopkit import txn

        sign = self.sign_args()  # a signed role without a usable key: exit 4 before anything is written

        def identity(action: str) -> Identity:
            return self.workspace.config.identities[self.need_role(doing=action)]

        def message(plan: txn.Plan) -> str:
            return self.commit_message(
                action=plan.action,
                phase=plan.phase,
                subject=plan.subject,
                body=plan.body,
                trailers=plan.trailers,
            )

        return txn.Author(identity, message, self.invocation.git_date, tuple(sign), self._signing_failure)

    def sign_args(self) -> list[str]:
        """The `-c` options and `-S` that make `commit-tree` sign the role's commits; none for a
        role that does not sign (`[rules] signed`, SPEC section 10). Without a usable key:
        SigningError (exit 4, saying how to set one).

        The key is found and tried once per command (kept across a transaction's retries), so a
        missing key or private half fails before anything is written, not after."""
        if self.role is None or self.role not in self.workspace.config.signed:
            return []
        if self._signing is None:
            from loopkit.gitrepo.signing import check_key, commit_tree_sign_args, require_signing_key

            root = self.workspace.repo_root
            if root is None:
                raise GitError(f"not inside a git work tree: {self.workspace.root}")
            key = require_signing_key(root, self.environ, role=self.role or "")
            check_key(key, self.environ)
            self._signing = (key, [*commit_tree_sign_args(key, self.environ), "-S"])
        return list(self._signing[1])

    def _signing_failure(self, exc: GitError) -> LoopkitError:
        """A failed `commit-tree -S` of a signed role: what ssh-keygen said and how to set a key."""
        if self._signing is None:
            return exc
        from loopkit.gitrepo.signing import signing_failure

        return signing_failure(self._signing[0], exc.message)

    def commit_message(
        self,
        *,
        action: str,
        phase: str | None,
        subject: Mapping[str, Any],
        body: str,
        trailers: Sequence[tuple[str, str]],
    ) -> str:
        from loopkit.render import oneline, render  # lazy: most commands never commit

        role = self.role or "unknown"
        head = render("subject.txt.j2", workspace=self.workspace.root, action=action, phase=phase, **subject)
        all_trailers: list[tuple[str, str]] = []
        if phase:
            all_trailers.append(("Loopkit-Phase", phase))
        all_trailers += [
            ("Loopkit-Action", _ACTIONS.get(action, action)),
            ("Loopkit-Role", role),
            *trailers,
        ]
        text = render(
            "commit.txt.j2",
            workspace=self.workspace.root,
            subject=oneline(self.redactor.redact(head)),
            body=neutralise(self.redactor.redact(body)),
            trailers=[(k, oneline(v)) for k, v in all_trailers],
        )
        self.redactor.check(text)
        return text


# `instruct` is not in SPEC section 6's list: the orchestrator's instructions are part of what the
# phase asks for, so `spec` (docs/decisions.md)
_ACTIONS = {"send": "inbox", "consume": "inbox", "instruct": "spec"}


def neutralise(body: str) -> str:
    """Body lines that git's trailer parser would stop at, or read as trailers, are indented.

    `---` starts a patch for `git interpret-trailers`; a `Key: value` or `BREAKING CHANGE` line
    ending the body would join the trailer block. One leading space keeps them readable and inert.
    """
    import re

    out = []
    for line in body.strip("\n").split("\n"):
        stripped = line.rstrip()
        if re.match(
            r"^(---|[A-Za-z0-9-]+:\s|[A-Za-z0-9-]+:$|BREAKING[ -]CHANGE|\(cherry picked)", stripped
        ) or (stripped.startswith("#")):
            stripped = " " + stripped
        out.append(stripped)
    return "\n".join(out).strip("\n")


def stdin_text(*, strict: bool = False) -> str | None:
    """The body from standard input, when it is a pipe or a file rather than a terminal (or, with
    `strict`, whatever it is: `--body-file -`). Bytes that are not UTF-8 are bad input."""
    import sys

    from loopkit.errors import BadInput

    stream = sys.stdin
    if stream is None or stream.closed:
        return None
    try:
        if not strict and os.isatty(stream.fileno()):
            return None
        data = stream.buffer.read()
    except (OSError, ValueError):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"standard input is not UTF-8 text (byte {exc.start}); nothing was written") from None
