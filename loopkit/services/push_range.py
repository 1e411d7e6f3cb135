"""One workspace's books in a pushed range (SPEC section 11) as the judging modules see them: what
kind of book each path is, the blobs they read, the pinned verifier's signatures, and the
violations found. Nothing here decides: services/push_records.py, push_removed.py and
push_trust.py ask the rules where they live."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopkit.documents.verify import Violation
from loopkit.gitrepo import push
from loopkit.gitrepo.signers import TrustedSigners
from loopkit.markdown import comment
from loopkit.markdown.status import parse_status
from loopkit.model.config import Config
from loopkit.model.status import StatusDoc
from loopkit.signed import Signature
from loopkit.workspace import Workspace, book_kind

_RECORD_WORD = re.compile(r"\*\*(?:CLAIM|PASS|FAIL|DONE)\*\*")


@dataclass
class PushRange:
    """The workspace at `rel` (`""`: the repository's root) in the commits `old..new` of `root`;
    `config` is the trusted loopkit.toml as the walk has reached it (push_trust.py moves it)."""

    root: Path
    rel: str
    old: str | None
    new: str
    environ: Mapping[str, str]
    config: Config = field(default_factory=Config)
    found: list[Violation] = field(default_factory=list)
    blobs: dict[str, bytes | None] = field(default_factory=dict)
    _sigs: dict[str, Signature | None] = field(default_factory=dict)
    _signers: dict[str, TrustedSigners] = field(default_factory=dict)  # orchestrator email -> chain

    @property
    def ws(self) -> Workspace:
        return Workspace(self.root / self.rel if self.rel else self.root, self.root, self.config)

    def repo_path(self, rel: str) -> str:
        return f"{self.rel}/{rel}" if self.rel else rel

    def inner(self, path: str) -> str | None:
        """A repository path relative to the workspace folder; None outside it."""
        if not self.rel:
            return path
        return path[len(self.rel) + 1 :] if path.startswith(self.rel + "/") else None

    def add(self, code: str, commit: str, message: str, **where: Any) -> None:
        self.found.append(Violation(code, commit, message=message, **where))

    def kind(self, path: str) -> tuple[str, str | None, str | None]:
        """(kind, phase, role) of a repository path (workspace.book_kind; "other" outside it)."""
        inner = self.inner(path)
        return ("other", None, None) if inner is None else book_kind(self.config, inner)

    def pathspec(self) -> list[str]:
        """The paths a walk of the books reads: the workspace folder, or at the root its files."""
        if self.rel:
            return [f":(literal){self.rel}"]
        config = self.config
        folders = {p.split("{", 1)[0].rsplit("/", 1)[0] for p in [config.status, *config.journals.values()]}
        named = [f":(literal){f}" for f in folders if f and "{" not in f]
        return [":(glob)*", ":(glob)phases/**", f":(literal){config.archive}", *named]

    def read(self, specs: Iterable[str]) -> None:
        """Bring these `commit:path` blobs into `blobs`, those not there yet in one read."""
        todo = [s for s in dict.fromkeys(specs) if s not in self.blobs]
        if todo:
            self.blobs.update(push.blobs(self.root, todo))

    def blob(self, commit: str, path: str) -> bytes | None:
        """The file `path` as `commit` holds it; None: none there."""
        self.read([f"{commit}:{path}"])
        return self.blobs.get(f"{commit}:{path}")

    def text(self, commit: str | None, path: str) -> str:
        """The file `path` as `commit` holds it (read into `blobs` before); "": none there."""
        data = self.blobs.get(f"{commit}:{path}") if commit else None
        return data.decode("utf-8", "replace") if data is not None else ""

    def doc(self, commit: str | None, path: str) -> StatusDoc:
        """The STATUS file `path` as `commit` holds it (read into `blobs` before)."""
        return parse_status(self.text(commit, path))

    # -- signatures --------------------------------------------------------------------------------
    def verify_many(self, shas: list[str]) -> Mapping[str, Signature] | None:
        """The pinned verifier's answer for these commits, with the allowed_signers trusted at the
        pushed tip (never the server's cache: the hook writes nothing)."""
        if not self.config.signed:
            return None
        todo = [s for s in dict.fromkeys(shas) if s not in self._sigs]
        if todo:
            from loopkit.gitrepo.signing import verify

            text = self.trusted_signers().text
            found = verify(self.root, todo, text or "", environ=self.environ)
            for sha in todo:
                self._sigs[sha] = found.get(sha)
        return {s: sig for s in shas if (sig := self._sigs.get(s)) is not None}

    def trusted_signers(self) -> TrustedSigners:
        """allowed_signers' trust chain (gitrepo/signers.py) along the pushed tip's history, for the
        orchestrator the config names now."""
        email = self.config.identities["orchestrator"].email
        if email not in self._signers:
            from loopkit.gitrepo.signers import signers_path, trusted_signers

            self._signers[email] = trusted_signers(
                self.root,
                path=signers_path(self.rel),
                orchestrator_email=email,
                environ=self.environ,
                rev=self.new,
            )
        return self._signers[email]


def record_line(text: str) -> bool:
    """A line that may be a record (any list marker, any indent): the parsed STATUS decides."""
    return _RECORD_WORD.search(text) is not None


def message_ids(lines: Iterable[str]) -> set[str]:
    """The ids of the inbox messages (or archived ones) these lines hold."""
    found = set()
    for text in lines:
        data = comment.decode("message", text)
        if data is not None and isinstance(data.get("id"), str):
            found.add(data["id"])
    return found
