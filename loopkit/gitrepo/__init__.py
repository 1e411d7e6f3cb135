"""Everything loopkit asks git, and nothing else does: the repository (repo.py), git's plumbing run
directly (runner.py), commits of exactly the written paths (committer.py), history, provenance,
signatures, remotes. `Repo` is imported on first use: a command answered from a memo asks git one
question through runner.py and never builds one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from loopkit.gitrepo.repo import REPLAY_MIN as REPLAY_MIN
    from loopkit.gitrepo.repo import Repo as Repo
    from loopkit.gitrepo.repo import init_repo as init_repo


class Memory(Protocol):
    """What gitrepo may remember across commands: loopkit/index.py's Index (None: nothing)."""

    def kind(self, name: str) -> dict[str, Any]: ...
    def changed(self, name: str) -> None: ...
    def put(self, name: str, entries: dict[str, Any]) -> None: ...
    def save(self) -> None: ...
    def blob_id(self, path: str) -> str | None: ...
    def chain(self, old: str, new: str) -> list[tuple[str, set[str]]] | None: ...
    def carried(
        self,
        kind: str,
        key: str,
        head: str,
        whole: Callable[[str], Any],
        newer: Callable[[Any, str, list[tuple[str, set[str]]]], Any],
    ) -> Any: ...


_LAZY = ("Repo", "init_repo", "REPLAY_MIN")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from loopkit.gitrepo import repo

        return getattr(repo, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
