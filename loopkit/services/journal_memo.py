"""What status reads of each journal in full, remembered by the file's stat: the time of its last
dated entry (`last_activity`) and where its probe records are (the reader from the end).

Both answers are exact but read a whole journal (`markdown.journal.last_entry_time`,
`record_spans`), and status asks them of every journal of every phase. They are kept in
`.git/loopkit/journals.json`, keyed by the file's size, mtime, ctime and inode, and trusted only
when the file had not changed within RACY_NS of the moment it was read (git's "racily clean"
rule: a write in the same clock grain as the reading could leave the stat as it was). A
disposable cache: deleting it changes no output, `LOOPKIT_NO_CACHE=1` skips it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopkit.errors import BadInput
from loopkit.markdown.journal import Spans, last_entry_time, record_spans
from loopkit.services.context import Context
from loopkit.workspace import read_mapped, write_cache

RACY_NS = 2_000_000_000
_VERSION = 2
_MEMO = "journals"


def last_time(ctx: Context, path: Path) -> str | None:
    found = _remembered(ctx, path, "time", lambda: last_entry_time(read_mapped(path)))
    return found if isinstance(found, str) else None


def spans(ctx: Context, path: Path) -> tuple[int, Spans] | None:
    """`record_spans` of the file, for `probe_records_from_end(known=…)`; None: let it scan."""
    found = _remembered(ctx, path, "spans", lambda: _plain(record_spans(read_mapped(path))))
    if not isinstance(found, list) or len(found) != 2 or not isinstance(found[1], list):
        return None
    return int(found[0]), [(int(a), int(b), int(c)) for a, b, c in found[1]]


def _plain(known: tuple[int, Spans] | None) -> list[Any] | None:
    return None if known is None else [known[0], [list(span) for span in known[1]]]


def _remembered(ctx: Context, path: Path, what: str, read: Callable[[], Any]) -> Any:
    try:
        st = path.stat()
    except FileNotFoundError:
        return read()
    if not stat.S_ISREG(st.st_mode):  # a folder where the journal should be: bad input, one line
        why = os.strerror(errno.EISDIR) if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise BadInput(f"cannot read {path}: {why}")
    memo = _memo(ctx)
    if memo is None:
        return read()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    key = str(path)
    kept = memo["entries"].get(key)
    quiet = isinstance(kept, dict) and kept.get("stat") == stamp
    if quiet and isinstance(kept["read_at"], int) and kept["read_at"] - max(stamp[1], stamp[2]) > RACY_NS:
        if what in kept:
            return kept[what]
    else:
        kept = memo["entries"][key] = {"stat": stamp, "read_at": time.time_ns()}
    found = kept[what] = read()
    memo["changed"] = True
    return found


def save(ctx: Context) -> None:
    """Write what this command learnt (once, at its end)."""
    memo = ctx.cache.get(_MEMO)
    state = ctx.workspace.state_dir() if memo else None
    if not memo or not memo.get("changed") or state is None:
        return
    target = state / f"{_MEMO}.json"
    # a journal renamed or deleted leaves no entry behind (one stat each, only when writing)
    entries = {key: kept for key, kept in memo["entries"].items() if Path(key).exists()}
    write_cache(target, {"version": _VERSION, "entries": entries})
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
