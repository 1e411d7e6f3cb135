"""The one index: what loopkit remembers across commands so that it reads less, in
`.git/loopkit/index/`, one JSON file per kind of answer (read only when a command asks that kind:
`journal add` reads its anchors, never status's documents).

Nothing here is a source of truth: the Markdown in git is. Every entry is keyed by what its answer
depends on, so a stale entry cannot be found, only missed:

- a working file's answers (its blob id, a journal's last activity and record spans, a parsed
  inbox) by the file's stat, trusted only when the file is quiet (`quiet`, git's "racily clean"
  rule: a change in the same clock grain as the reading could leave the stat as it was);
- answers about commits and trees (origins, code ids, tree diffs, signature verdicts) by the ids
  of those immutable objects;
- answers about history (blame, spec and record commits, the trust chains) by HEAD, carried over
  only through a line of single-parent commits read from `git log <indexed>..HEAD` (`chain`);
  a merge, a rebase, a reset or anything unknown computes afresh;
- status's last document by every fact it was read from (services/status.py);
- the parsed books (STATUS documents, journals, phase specs) by path and the digest of the text
  parsed (`parsed`), so an unchanged file is not parsed again: loopkit's own model objects, written
  as JSON naming their class (only the model's classes are read back, never code), under a
  fingerprint of the parsers' and the model's source.

A file of another VERSION, or one that cannot be read, is an empty kind. Writes are temp file +
rename, without the lock: two commands may race, and the last rename wins (the other's answers
are computed again next time). Deleting the folder changes no output; `LOOPKIT_NO_CACHE=1` makes
every kind an empty, unsaved one, so every answer is computed from git.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, Any, TypeVar

from loopkit.errors import BadInput
from loopkit.gitrepo.runner import run_bytes

if TYPE_CHECKING:
    from loopkit.markdown.journal import Spans

VERSION = 1  # any change to what a kind holds or how it is keyed bumps it: every kind is rebuilt
RACY_NS = 2_000_000_000  # a file changed this close to when its stat was read is read again
CHAIN_MAX = 256  # more new commits than this: compute afresh rather than carry over

Stat = list[int] | None
Chain = list[tuple[str, set[str]]]
Whole = Callable[[str], Any]
Newer = Callable[[Any, str, Chain], Any]
T = TypeVar("T")
S = TypeVar("S", str, bytes)
BOOKS = ("status-docs", "journal-docs", "specs")  # the parsed books, one kind per parser
READS = "journal-reads"  # the records `probe_records_from_end` confirmed, by a journal's stat
MODELS = (*BOOKS, READS, "origins", "spec", "records")  # the kinds of model objects (`_plain`)
BOOK_MAX = 1 << 20  # a text longer than this is parsed each time rather than kept


def enabled(environ: Mapping[str, str]) -> bool:
    return not environ.get("LOOPKIT_NO_CACHE")


def stat_of(path: Path) -> Stat:
    """What says a file changed: mtime, ctime, size and inode (None: missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def quiet(stat: Stat, read_at: int) -> bool:
    """The one racy-clean rule: a stat read at `read_at` (time.time_ns) may stand for the file's
    content only when its mtime is older than that reading by more than RACY_NS (a change in the
    same clock grain could leave every field as it was). Any change sets mtime and ctime to the
    clock's time, and a stat equal in both is asked of every answer, so mtime alone decides here
    (`touch` of an old file keeps it quiet, as in git)."""
    return stat is None or stat[0] < read_at - RACY_NS


class Index:
    """One repository's index, each kind read on first use and written by `save`."""

    def __init__(self, root: Path, folder: Path | None) -> None:
        self.root = root
        self.folder = folder  # None: nothing is read or written (LOOPKIT_NO_CACHE, no .git)
        self._data: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._by_stat: set[str] = set()  # the kinds keyed by a working file's path
        self._chains: dict[tuple[str, str], list[tuple[str, set[str]]] | None] = {}
        self._growing: list[tuple[str, dict[Any, Any], int]] = []  # handed out to be filled
        self._asked: set[str] = set()  # the parsed books' paths read by this command, missing or not

    @classmethod
    def open(cls, root: Path, git_dir: Path | None, environ: Mapping[str, str]) -> Index:
        on = git_dir is not None and enabled(environ)
        return cls(root, git_dir / "loopkit" / "index" if on and git_dir is not None else None)

    def kind(self, name: str) -> dict[str, Any]:
        if name not in self._data:
            data: Any = {}
            if self.folder is not None:
                with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                    raw = (self.folder / f"{name}.json").read_bytes()
                    loaded = json.loads(raw, object_hook=_model if name in MODELS else None)
                    if isinstance(loaded, dict) and loaded.get("version") == _version(name):
                        data = loaded.get("entries")
            self._data[name] = data if isinstance(data, dict) else {}
        return self._data[name]

    def changed(self, name: str) -> None:
        self._dirty.add(name)

    def put(self, name: str, entries: dict[str, Any]) -> None:
        """Replace a whole kind (status's document, a journal's anchors…)."""
        self._data[name] = entries
        self.changed(name)

    def save(self) -> None:
        """Write every kind changed since the last save; a failure only costs time later."""
        for kind, table, size in self._growing:
            if len(table) != size:
                self.changed(kind)
        self._growing.clear()
        if self.folder is None or not self._dirty:
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            if not self.folder.is_dir():
                _drop_legacy(self.folder.parent)
            self.folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(self._dirty):
                if name in self._by_stat:  # a file renamed or deleted leaves no entry behind
                    table = self._data[name]
                    for gone in [k for k in table if k not in self._asked and not os.path.lexists(k)]:
                        del table[gone]
                target = self.folder / f"{name}.json"
                scratch = target.with_name(f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
                try:
                    entries = self._data[name]
                    blob = {
                        "version": _version(name),
                        "entries": _plain(entries) if name in MODELS else entries,
                    }
                    scratch.write_text(json.dumps(blob, separators=(",", ":")), "utf-8")
                    os.replace(scratch, target)
                finally:
                    with contextlib.suppress(OSError):
                        scratch.unlink(missing_ok=True)
        self._dirty.clear()

    # -- working files ------------------------------------------------------------------------
    def remembered(self, kind: str, path: Path, read: Callable[[], Any], *, text: str | None = None) -> Any:
        """`read()` of a working file, kept in `kind` by its stat while the file is quiet, or,
        given the `text` just read from it (a small file), by that text: no racy window."""
        stat = stat_of(path) if text is None else [0, 0, 0, 0]
        if stat is None:
            return read()
        table = self.kind(kind)
        self._by_stat.add(kind)
        key = str(path)
        entry = table.get(key)
        same = isinstance(entry, list) and len(entry) == 3 and entry[0] == (text or stat)
        if same and (text is not None or quiet(stat, entry[1])):  # type: ignore[index]
            return entry[2]  # type: ignore[index]
        read_at = time.time_ns()
        found = read()
        table[key] = [text or stat, read_at, found]
        self.changed(kind)
        return found

    def parsed(self, kind: str, path: Path, text: S, parse: Callable[[S], T]) -> T:
        """`parse(text)`, the text (or bytes) just read from the working file `path`, kept in one of
        `BOOKS` by the path and the text's digest (one entry a file: a new text replaces it). `parse` is the
        file's one parser, with its options fixed by the path (a journal's file name, a spec's
        phase), and gives loopkit's own model objects (or strings)."""
        if len(text) > BOOK_MAX:
            return parse(text)
        import hashlib  # lazy: OpenSSL's load costs the commands that never hash

        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        table = self.kind(kind)
        self._by_stat.add(kind)
        key = str(path)
        self._asked.add(key)
        entry = table.get(key)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == digest:
            return entry[1]  # type: ignore[no-any-return]
        found = parse(text)
        table[key] = [digest, found]
        self.changed(kind)
        return found

    def blob_id(self, path: str) -> str | None:
        """The git blob id of the working file `path` (from the root), None when it is missing."""
        full = self.root / path

        def hashed() -> str | None:
            try:
                data = full.read_bytes()
            except OSError:
                return None
            import hashlib  # lazy: OpenSSL's load costs the commands that never hash

            return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()

        found = self.remembered("blobs", full, hashed)
        return found if isinstance(found, str) else None

    def journal_time(self, path: Path) -> str | None:
        """`last_entry_time` of a journal (status's last activity), which reads it whole."""
        from loopkit.markdown.journal import last_entry_time
        from loopkit.workspace import read_mapped

        _regular(path)
        found = self.remembered("journals", path, lambda: last_entry_time(read_mapped(path)))
        return found if isinstance(found, str) else None

    def journal_spans(self, path: Path) -> tuple[int, Spans] | None:
        """`record_spans` of a journal, for `probe_records_from_end(known=…)`; None: let it scan."""
        from loopkit.markdown.journal import record_spans
        from loopkit.workspace import read_mapped

        _regular(path)
        found = self.remembered("spans", path, lambda: record_spans(read_mapped(path)))
        if not isinstance(found, list | tuple) or len(found) != 2 or not isinstance(found[1], list):
            return None
        return int(found[0]), [(int(a), int(b), int(c)) for a, b, c in found[1]]

    def journal_reads(self, path: Path) -> dict[Any, Any]:
        """What `probe_records_from_end(confirmed=…)` read of a journal's records, kept by the
        file's stat while quiet: filled by the reader, saved when it grew."""
        found = self.remembered(READS, path, dict)
        if not isinstance(found, dict):
            return {}
        self._growing.append((READS, found, len(found)))
        return found

    # -- history ------------------------------------------------------------------------------
    def chain(self, old: str, new: str) -> list[tuple[str, set[str]]] | None:
        """The commits from `old` (exclusive) to `new`, newest first, with the paths each touched,
        when they form a line of single-parent commits; None otherwise (merge, rewrite, too many)."""
        if old == new:
            return []
        if (old, new) not in self._chains:
            self._chains[old, new] = _chain(self.root, old, new)
        return self._chains[old, new]

    def carried(self, kind: str, key: str, head: str, whole: Whole, newer: Newer) -> Any:
        """An answer about the history of `head`, kept in `kind` under `key` with the HEAD it was
        read at: `whole(head)` reads it from scratch; when HEAD moved forward by a line of
        single-parent commits (`chain`), `newer(answer, "old..head", chain)` adds what they
        brought; anything else reads it whole. Values are JSON, or model objects (`MODELS`)."""
        table = self.kind(kind)
        entry = table.get(key)
        old = str(entry[0]) if isinstance(entry, list) and len(entry) == 2 else None
        if old == head:
            return entry[1]  # type: ignore[index]
        chain = self.chain(old, head) if old is not None else None
        found = whole(head) if chain is None else newer(entry[1], f"{old}..{head}", chain)  # type: ignore[index]
        table.pop(key, None)
        table[key] = [head, found]
        for stale in list(table)[:-8]:  # a few keys each (status's paths, one phase's): bounded
            del table[stale]
        self.changed(kind)
        return found


_SHAPE: list[str] = []


def _version(name: str) -> Any:
    """VERSION, and for the parsed books also what their pickles depend on: the source files of
    the parsers (Markdown, config.py's TOML readers) and of the model (a loopkit changed in
    place, or another one, parses again)."""
    if name not in MODELS:
        return VERSION
    if not _SHAPE:
        package = Path(__file__).parent
        sources = sorted([*package.glob("markdown/*.py"), *package.glob("model/*.py"), package / "config.py"])
        _SHAPE.append(repr([VERSION, *[(p.name, stat_of(p)) for p in sources]]))
    return _SHAPE[0]


_CLASSES: dict[str, type] = {}


def _plain(value: Any) -> Any:
    """A value of the model as JSON: a dataclass as its fields and its class's name (`@`), a tuple
    as `{"(": [...]}` (a book's tuples stay tuples: they compare and hash as the parser's)."""
    if isinstance(value, tuple):
        return {"(": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        name = f"{type(value).__module__.rpartition('.')[2]}.{type(value).__name__}"
        return {"@": name, **{f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
    return value


def _model(obj: dict[str, Any]) -> Any:
    """`_plain` read back; a class outside loopkit's model is a KeyError (an unreadable kind)."""
    if "(" in obj and len(obj) == 1:
        return tuple(obj["("])
    name = obj.pop("@", None)
    if name is None:
        return obj
    if name not in _CLASSES:  # a module of the model is imported only when a book holds its class
        import importlib

        module, _, cls_name = name.partition(".")
        if module not in ("config", "git", "journal", "status", "warning"):
            raise KeyError(name)
        found = getattr(importlib.import_module(f"loopkit.model.{module}"), cls_name, None)
        if not (
            isinstance(found, type) and is_dataclass(found) and found.__module__ == f"loopkit.model.{module}"
        ):
            raise KeyError(name)
        _CLASSES[name] = found
    cls = _CLASSES[name]
    made: Any = object.__new__(cls)
    for key, value in obj.items():
        object.__setattr__(made, key, value)
    return made


LEGACY = ("cache", "signatures.json", "journals.json", "inbox-*.json", "journal-*.json")


def _drop_legacy(state: Path) -> None:
    """The caches older loopkits kept beside the index: gone when the index is first written."""
    import shutil

    for pattern in LEGACY:
        for found in state.glob(pattern):
            if found.is_dir():
                shutil.rmtree(found, ignore_errors=True)
            else:
                found.unlink(missing_ok=True)


def _regular(path: Path) -> None:
    """A folder where a journal should be is bad input, said in one line (exit 4)."""
    with contextlib.suppress(FileNotFoundError):
        mode = os.stat(path).st_mode
        if not S_ISREG(mode):
            why = os.strerror(errno.EISDIR) if S_ISDIR(mode) else "not a regular file"
            raise BadInput(f"cannot read {path}: {why}")


def _chain(root: Path, old: str, new: str) -> list[tuple[str, set[str]]] | None:
    code, out, _ = run_bytes(
        root,
        [
            "-c",
            "core.quotePath=false",
            "log",
            "--no-show-signature",
            f"--max-count={CHAIN_MAX + 1}",
            "--no-renames",
            "--name-only",
            "-z",
            "--format=%x1e%H %P",
            f"{old}..{new}",
        ],
        check=False,
    )
    if code != 0:
        return None
    commits: list[tuple[str, str, set[str]]] = []
    for chunk in out.decode("utf-8", "surrogateescape").split("\x1e")[1:]:
        head, *names = chunk.split("\0")
        shas = head.split()
        if len(shas) != 2:
            return None  # a merge or a root commit: not a line from `old`
        commits.append((shas[0], shas[1], {n.strip("\n") for n in names if n.strip("\n")}))
    if not commits or len(commits) > CHAIN_MAX or commits[0][0] != new:
        return None
    for (_, parent, _), (sha, _, _) in itertools.pairwise(commits):
        if parent != sha:
            return None
    if commits[-1][1] != old:
        return None
    return [(sha, paths) for sha, _, paths in commits]
