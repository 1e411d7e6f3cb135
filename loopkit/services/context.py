"""What every command needs: the workspace, the repository, the role, the clock, the redactor,
and the one way loopkit writes: check, write atomically, commit exactly those paths or roll back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from loopkit import timefmt
from loopkit.errors import GitError, LoopkitError, Refused, UsageError
from loopkit.model import ROLES
from loopkit.redact import Redactor
from loopkit.workspace import Workspace, _git_dir, discover

if False:  # pragma: no cover - typing only, without importing GitPython at start-up
    from loopkit.gitrepo import Repo
    from loopkit.index import Index


@dataclass
class Context:
    """One command's world: where it runs, its environment, role and workspace, read once."""

    cwd: Path
    environ: Mapping[str, str]
    workspace_dir: str | None = None
    role_option: str | None = None
    no_commit: bool = False
    # how this shell is given a role, for the message that asks for one (a tool call cannot pass --role)
    role_hint: str = "pass --role or set LOOPKIT_ROLE"
    _repo: Any = field(default=None, repr=False)
    _signing: Any = field(default=None, repr=False)  # (SigningKey, sign args) once checked
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list, repr=False)

    # -- who and when ---------------------------------------------------------------------------
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
        fixed = self.environ.get("LOOPKIT_NOW")
        return f"{timefmt.iso(self.now)}" if fixed else None

    # -- where ----------------------------------------------------------------------------------
    @cached_property
    def workspace(self) -> Workspace:
        ws = discover(start=self.cwd, override=self.workspace_dir, environ=self.environ)
        self.__dict__["workspace"] = ws
        if ws.intent_file is not None and ws.intent_file.exists():
            from loopkit import txn

            if txn.pending(self):  # a killed command left a transaction: finish or undo it first
                with ws.lock():
                    txn.recover(self)
        from loopkit.gitrepo.clone import needs_care  # a stat and a small read

        if needs_care(ws.repo_root):  # no merge driver yet, or a killed sync's leftovers
            from loopkit.services.sync import on_open

            on_open(self, ws)
        return ws

    @property
    def repo(self) -> Repo:
        if self._repo is None:
            from loopkit.gitrepo import Repo

            root = self.workspace.repo_root
            if root is None:
                from loopkit.workspace import GIT_INIT_HINT

                raise GitError(f"not inside a git work tree: {self.workspace.root}; {GIT_INIT_HINT}")
            self._repo = Repo(root, self.index)
        return self._repo  # type: ignore[no-any-return]

    @cached_property
    def index(self) -> Index:
        """The one index (loopkit/index.py), shared by everything this command reads."""
        from loopkit.index import Index

        ws = self.workspace
        git_dir = _git_dir(ws.repo_root) if ws.repo_root is not None else None
        return Index.open(ws.repo_root or ws.root, git_dir, self.environ)

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

    # -- the transaction's needs ------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget what was read: a transaction re-reads everything inside the lock."""
        self._repo = None
        self.cache.clear()

    def warn(self, line: str) -> None:
        """A line for stderr (the CLI prints them after the command; --json output stays one document)."""
        self.warnings.append(line)

    def signs(self) -> bool:
        """Whether this role's commits must be signed (`[rules] signed`, SPEC section 10)."""
        role = self.role
        return role is not None and role in self.workspace.config.signed

    def sign_args(self) -> list[str]:
        """The `-c` options and `-S` that make `commit-tree` sign the role's commits; none for a
        role that does not sign. Without a usable key: SigningError (exit 4, saying how to set one).

        The key is found and tried once per command (kept across a transaction's retries), so a
        missing key or private half fails before anything is written, not after."""
        if not self.signs():
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

    def signing_failure(self, exc: GitError) -> LoopkitError:
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
