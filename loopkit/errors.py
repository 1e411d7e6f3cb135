"""The one error contract: core code raises these; each shell (cli/, mcp_server.py) turns them into
one line and an exit code, or into `error_document()`."""

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


def error_document(exc: LoopkitError, message: str | None = None) -> dict[str, Any]:
    """SPEC section 4: the one document of every failure, in `--json` and in MCP alike; `unmet`
    added where a gate or a role rule said no (a role rule lists itself as the one condition)."""
    text = exc.message if message is None else message
    doc = failure_document(exc.exit_code, text)
    if isinstance(exc, Refused):
        unmet = [{"code": d.code, "milestone": d.milestone, "message": d.message} for d in exc.details]
        doc["unmet"] = unmet or [{"code": "refused", "milestone": None, "message": text}]
    return doc


def failure_document(exit_code: int, message: str) -> dict[str, Any]:
    """The error document of a failure that is no LoopkitError (click's usage errors, a bug);
    commands.document puts schema_version first, as in every document."""
    return {"ok": False, "exit": exit_code, "error": message}


def bug_line(exc: BaseException, *, what: str) -> str:
    """The one line of an unexpected exception (exit 70): a bug to report, no traceback."""
    return (
        f"internal error ({type(exc).__name__}): this is a bug; please report it "
        f"with {what} (LOOPKIT_DEBUG=1 shows the traceback)"
    )
