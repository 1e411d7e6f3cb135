"""The orchestrator's files in a push (SPEC section 11), each by its one trust rule: a spec by
trust.trusted_spec (`untrusted-spec`), loopkit.toml by its trust chain gitrepo/signers.trusted_config
(`untrusted-config`; the first version committed is trusted, as that chain says), allowed_signers
by gitrepo/signers.trusted_signers (`untrusted-signers`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from loopkit.config import parse_toml
from loopkit.errors import BadInput
from loopkit.gitrepo import push
from loopkit.gitrepo.signers import TrustedConfig, trusted_config
from loopkit.services.push_range import PushRange
from loopkit.trust import trusted_spec


@dataclass
class Trust:
    """What the push's walk has learnt of the orchestrator's files so far."""

    books: PushRange
    opened: set[str] = field(default_factory=set)  # phases whose spec the push opened
    _base_opened: set[str] | None = None
    _refusals: dict[str, str] | None = None

    # -- loopkit.toml ---------------------------------------------------------------------------
    def read_base(self) -> None:
        """The base's [roles], [rules] and [files] as its trust chain has them (a change that
        reached the branch before the hook did still does not count); unreadable: the defaults."""
        old = self.books.old
        data = self.books.blob(old, self.books.repo_path(push.CONFIG_NAME)) if old else None
        if old and data is not None and self._take(data):
            with contextlib.suppress(BadInput):  # the trusted version unreadable: the base's text stands
                self.books.config = self._chain(data, old).config

    def config(self, commit: push.PushCommit) -> None:
        """A change of loopkit.toml by `commit`: the config the rest of the push is judged by
        when the chain of the pushed tip accepts it, `untrusted-config` when it refuses it."""
        books = self.books
        refused = self._refused().get(commit.sha)
        if refused is not None:
            books.add("untrusted-config", commit.sha, refused, file=push.CONFIG_NAME)
        elif (data := books.blob(commit.sha, books.repo_path(push.CONFIG_NAME))) is not None:
            self._take(data)

    def _take(self, data: bytes) -> bool:
        """Judge by this loopkit.toml from now on; False when it cannot be read."""
        from loopkit.config import config_from

        try:
            self.books.config = config_from(parse_toml(data, push.CONFIG_NAME), push.CONFIG_NAME)
        except BadInput:
            return False
        return True

    def _chain(self, data: bytes, rev: str) -> TrustedConfig:
        """loopkit.toml's one trust chain along `rev`'s first-parent history (`data`: rev's file)."""
        books = self.books
        return trusted_config(
            books.root, workspace=books.rel, work_data=data, where=push.CONFIG_NAME,
            environ=books.environ, rev=rev,
        )  # fmt: skip

    def _refused(self) -> dict[str, str]:
        """commit -> the trust chain's message, for each change of loopkit.toml it refuses."""
        if self._refusals is None:
            new = self.books.new
            data = self.books.blob(new, self.books.repo_path(push.CONFIG_NAME))
            try:
                found = self._chain(data, new).problems if data is not None else ()
                self._refusals = {p.commit: p.message for p in found if p.commit}
            except BadInput as exc:
                self._refusals = {new: str(exc)}
        return self._refusals

    # -- specs ----------------------------------------------------------------------------------
    def spec(self, commit: push.PushCommit, inner: str, phase: str) -> None:
        """A change of phases/P.toml: the orchestrator's `phase new`/`update` opens the phase;
        anyone else's, once the phase is open, is `untrusted-spec` (before, a spec is a draft)."""
        books, origin = self.books, commit.origin
        signs = any(role in books.config.signed for role in books.config.open_phase)
        sigs = books.verify_many([origin.sha]) if signs else None
        if not commit.is_merge and trusted_spec([origin], phase, books.config, sigs) is not None:
            self.opened.add(phase)
        elif phase in self._opened_at_base():
            books.add(
                "untrusted-spec",
                commit.sha,
                f"{inner} changed by {origin.author.email}, not by the orchestrator's `loopkit phase update`",
                phase=phase,
                file=inner,
            )

    def _opened_at_base(self) -> set[str]:
        """Phases whose spec the orchestrator had committed at the base, and those opened since."""
        if self._base_opened is None:
            books = self.books
            self._base_opened = set()
            commits = push.spec_commits(books.root, books.old) if books.old is not None else []
            signs = any(role in books.config.signed for role in books.config.open_phase)
            sigs = books.verify_many([o.sha for o in commits]) if signs else None
            for phase in {o.trailers.get("Loopkit-Phase", "") for o in commits}:
                if trusted_spec(commits, phase, books.config, sigs) is not None:
                    self._base_opened.add(phase)
        return self._base_opened | self.opened

    # -- allowed_signers ------------------------------------------------------------------------
    def signers(self, commits: list[push.PushCommit]) -> None:
        """Each change of allowed_signers that its trust chain along the pushed branch refuses,
        made by a commit of this push."""
        books = self.books
        if not any(books.kind(p)[0] == "signers" for c in commits for p in c.files):
            return
        ours = {c.sha for c in commits}
        for problem in books.trusted_signers().problems:
            if problem.commit in ours:
                books.add("untrusted-signers", problem.commit, problem.message, file="allowed_signers")
