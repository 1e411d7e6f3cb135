"""The one error contract: core code raises these; cli.py turns them into one line and an exit code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LoopkitError(Exception):
    """An expected failure. `exit_code` follows SPEC section 5."""

    exit_code = 70

    def __init__(self, message: str, *, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class UsageError(LoopkitError):
    exit_code = 2


class Refused(LoopkitError):
    """A gate or a role rule said no; nothing was written. `details` lists the unmet conditions."""

    exit_code = 3


class BadInput(LoopkitError):
    """No workspace, a bad name, an unreadable or invalid file, a lock not obtained in time."""

    exit_code = 4


class GitError(LoopkitError):
    exit_code = 5
