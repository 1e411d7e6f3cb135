"""The precompiled entries in .git/loopkit/jinja, and everything each depends on."""

from __future__ import annotations

import contextlib
import marshal
import os
import posixpath
import sys
import zlib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    pass

from loopkit.precompiled.runtime import Entry, runtime_globals

_HERE = os.path.dirname(__file__)
_RUNTIME, _ADAPT = (os.path.join(_HERE, f"{n}.py") for n in ("runtime", "adapt"))
FORMAT = 1  # bump when the runtime's semantics or the entry's layout change
_JINJA_FILES = ("__init__.py", "compiler.py", "runtime.py", "filters.py", "tests.py", "environment.py")


# --- where a template comes from, and what an entry depends on ---------------------------------------


class Source(NamedTuple):
    path: str  # as jinja2's FileSystemLoader names it
    raw: bytes

    def text(self) -> str | None:
        """The text jinja2's loader reads from these bytes (utf-8, universal newlines)."""
        try:
            decoded = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return decoded.replace("\r\n", "\n").replace("\r", "\n")


def locate(name: str, *, override: Path | None, package: Path) -> Source | None:
    """The file jinja2's loaders (the override folder first, then the package) would read."""
    pieces = []
    for piece in name.split("/"):  # jinja2.loaders.split_template_path
        if os.path.sep in piece or (os.path.altsep and os.path.altsep in piece) or piece == os.path.pardir:
            return None
        if piece and piece != ".":
            pieces.append(piece)
    for folder in (override, package):
        if folder is None:
            continue
        filename = posixpath.join(str(folder), *pieces)
        if os.path.isfile(filename):
            try:
                with open(filename, "rb") as handle:
                    return Source(os.path.normpath(filename), handle.read())
            except OSError:
                return None
    return None


@cache
def stamp(options_file: str) -> tuple[object, ...] | None:
    """What every entry depends on besides its template: once per process, jinja2 not imported."""
    from importlib.util import find_spec

    try:
        spec = find_spec("jinja2")
        if spec is None or spec.origin is None:
            return None
        folder = os.path.dirname(spec.origin)
        files = [os.path.join(folder, name) for name in _JINJA_FILES] + [
            __file__,
            _RUNTIME,
            _ADAPT,
            options_file,
        ]
        stats = tuple((path, st.st_mtime_ns, st.st_size) for path in files for st in [os.stat(path)])
    except (OSError, ImportError, ValueError):
        return None
    return (FORMAT, sys.version, sys.implementation.cache_tag, spec.origin, stats)


def _entry_path(cache_dir: Path, name: str, override: Path | None) -> Path:
    key = f"{name}\0{override or ''}"
    return cache_dir / f"text-{name.replace('/', '%')}-{zlib.crc32(key.encode()):08x}.precompiled"


def load(
    cache_dir: Path,
    name: str,
    *,
    override: Path | None,
    package: Path,
    stamp: tuple[object, ...],
    filters: Mapping[str, Callable[..., Any]],
) -> Entry | None:
    """The entry for this template if everything it depends on is as it was; else None."""
    source = locate(name, override=override, package=package)
    if source is None:
        return None
    try:
        data = _entry_path(cache_dir, name, override).read_bytes()
        if zlib.crc32(data[4:]).to_bytes(4, "big") != data[:4]:
            return None
        header = marshal.loads(data[4:])
        expected = (stamp, name, str(override or ""), source.path, source.raw)
        if not (isinstance(header, tuple) and len(header) == 6 and header[:5] == expected):
            return None
        code_bytes = header[5]
        if code_bytes is None:
            return Entry(None)
        code = marshal.loads(code_bytes)
        if not isinstance(code, CodeType):
            return None
        namespace = runtime_globals(filters)
        exec(code, namespace)
        return Entry(namespace["root"])
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return None


def store(
    cache_dir: Path,
    name: str,
    *,
    override: Path | None,
    source: Source,
    stamp: tuple[object, ...],
    code: CodeType | None,
) -> None:
    """Atomically, and never failing the command: a cache is disposable."""
    import tempfile

    header: Any = (
        stamp,
        name,
        str(override or ""),
        source.path,
        source.raw,
        None if code is None else marshal.dumps(code),
    )
    payload = marshal.dumps(header)
    target = _entry_path(cache_dir, name, override)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(zlib.crc32(payload).to_bytes(4, "big") + payload)
        os.replace(tmp, target)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
