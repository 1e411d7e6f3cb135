"""Each journal's last dated entry time (`status`'s last activity), remembered by the file's stat.

`markdown.journal.last_entry_time` is exact but reads a whole journal, and status asks it for
every journal of every phase. The answer is kept in `.git/loopkit/journal-times.json`, keyed by
the file's size, mtime, ctime and inode, and trusted only when the file had not changed within
RACY_NS of the moment it was read (git's "racily clean" rule: a write in the same clock grain as
the reading could leave the stat as it was). A disposable cache: deleting it changes no output,
`LOOPKIT_NO_CACHE=1` skips it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from loopkit.markdown.journal import last_entry_time
from loopkit.services.context import Context

RACY_NS = 2_000_000_000
_VERSION = 1
_MEMO = "journal-times"


def last_time(ctx: Context, path: Path) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    memo = _memo(ctx)
    if memo is None:
        return last_entry_time(path)
    stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    key = str(path)
    kept = memo["entries"].get(key)
    if isinstance(kept, list) and len(kept) == 6 and kept[:4] == stamp:
        read_at = kept[4]
        if isinstance(read_at, int) and read_at - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
            return kept[5] if isinstance(kept[5], str) else None
    read_at = time.time_ns()
    found = last_entry_time(path)
    memo["entries"][key] = [*stamp, read_at, found]
    memo["changed"] = True
    return found


def save(ctx: Context) -> None:
    """Write what this command learnt (once, at its end)."""
    memo = ctx.cache.get(_MEMO)
    state = ctx.workspace.state_dir() if memo else None
    if not memo or not memo.get("changed") or state is None:
        return
    target = state / f"{_MEMO}.json"
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # status runs without the lock
    with contextlib.suppress(OSError):
        scratch.write_text(json.dumps({"version": _VERSION, "entries": memo["entries"]}), "utf-8")
        os.replace(scratch, target)
    memo["changed"] = False


def _memo(ctx: Context) -> dict[str, Any] | None:
    if _MEMO in ctx.cache:
        found: dict[str, Any] | None = ctx.cache[_MEMO]
        return found
    state = None if ctx.environ.get("LOOPKIT_NO_CACHE") else ctx.workspace.state_dir()
    memo: dict[str, Any] | None = None
    if state is not None:
        memo = {"entries": {}, "changed": False}
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads((state / f"{_MEMO}.json").read_bytes())
            if data.get("version") == _VERSION and isinstance(data.get("entries"), dict):
                memo["entries"] = data["entries"]
    ctx.cache[_MEMO] = memo
    return memo
