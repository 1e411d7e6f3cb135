"""inbox wait: block until a message for a role is pending, consuming nothing.

Waiting must cost next to nothing: between checks the process sleeps, and a check is one
`stat` of the inbox file; the file is parsed only when its size, mtime or inode changed
(loopkit writes inboxes by rename, so every write changes the inode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from loopkit import names
from loopkit.documents.inbox import Waited
from loopkit.errors import UsageError
from loopkit.model import ROLES
from loopkit.model.inbox import Message
from loopkit.services.context import Context
from loopkit.services.inbox import list_messages

DEFAULT_TIMEOUT = 600.0
DEFAULT_INTERVAL = 2.0
DEFAULT_SYNC_INTERVAL = 15.0

Signature = tuple[int, int, int] | None


def _signature(path: os.PathLike[str] | str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def pending(ctx: Context, *, to: str, phase: str | None) -> tuple[Message, ...]:
    """Messages for `to`: for `phase` or for no phase when a phase is given (SPEC section 8)."""
    ctx.cache.pop(("inbox", to), None)  # read_inbox caches per command; a waiter reads again
    messages = list_messages(ctx, to=to, phase=None).messages
    if phase is None:
        return messages
    return tuple(m for m in messages if m.phase in (None, phase))


def wait(
    ctx: Context,
    *,
    to: str | None,
    phase: str | None,
    timeout: float | None = None,
    interval: float | None = None,
    sync: bool = False,
    fetch: Callable[[Context], Any] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] | None = None,
) -> Waited:
    """`{"messages": [...], "timed_out": false}` as soon as one is pending, or after `timeout`
    seconds `{"messages": [], "timed_out": true}`. Checks at once, then every `interval`.
    `stop()` true after a sleep ends the wait early, as a timeout (a server shutting down)."""
    role = to or ctx.role
    if role is None:
        raise UsageError(f"inbox wait needs --to ROLE (to), or a role of your own: {ctx.role_hint}")
    if role not in ROLES:
        raise UsageError(f"--to {role!r}: use one of {', '.join(ROLES)}")
    if phase is not None:
        names.phase(phase)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    interval = (DEFAULT_SYNC_INTERVAL if sync else DEFAULT_INTERVAL) if interval is None else interval
    if timeout < 0:
        raise UsageError("--timeout must not be negative")
    if interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    if fetch is None and sync:  # `loopkit sync` before each check, as every --sync (SPEC 7)
        from loopkit.services.sync import sync as fetch
    path = ctx.workspace.inbox_file(role)
    deadline = clock() + timeout
    seen: Signature | bool = False  # False: never looked; None: no inbox file
    while True:
        if fetch is not None:
            fetch(ctx)
        now_seen = _signature(path)
        if now_seen != seen:
            seen = now_seen
            found = pending(ctx, to=role, phase=phase) if now_seen is not None else ()
            if found:
                return Waited(found, timed_out=False)
        left = deadline - clock()
        if left <= 0:
            return Waited((), timed_out=True)
        sleep(min(interval, left))
        if stop is not None and stop():
            return Waited((), timed_out=True)
