"""SPEC section 4's shapes: what services return, what `--json` prints, what MCP returns, what the
report and `next` read. Shapes only, no rules: each field is a key of its JSON, in its order.

`to_json()` gives a document's keys in its fields' order; a field whose metadata says `omit`
is left out while it is None (a key SPEC adds only in some cases), a DETAIL part's keys follow
the others'. `schema_version` is no field: the output boundary (commands.document) puts it
first, the one place it is added (an evidence record carries its own, as the journal stores it).
`from_json` reads a document back (the status memo, the report's redacted copy).

One module per kind of command, as model/ is: building a frozen dataclass costs about a
millisecond at import, and a command imports only its own documents (tests/test_hot_path.py).
"""

from __future__ import annotations

import builtins
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

OMIT: Mapping[str, Any] = {"omit": True}
# a part some documents have (the report's detail): when present, its keys follow the others'
DETAIL: Mapping[str, Any] = {"omit": True, "detail": True}


def _json(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _decode(kind: Any, value: Any) -> Any:
    """A JSON value as the field's type holds it: documents and tuples rebuilt (a document holding
    records of model/ rebuilds them in its own from_json)."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        return _decode(_inner(kind), value)
    if origin is tuple:
        return tuple(_decode(typing.get_args(kind)[0], v) for v in value)
    if origin is dict:
        return {k: _decode(typing.get_args(kind)[1], v) for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, Document):
        return kind.from_json(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}  # each class's field types, resolved once (it is slow)


def _inner(kind: Any) -> Any:
    """`X` of `X | None`. (builtins' `next`: importing the submodule `documents.next` binds that
    name in this package's namespace.)"""
    return builtins.next(k for k in typing.get_args(kind) if k is not type(None))


class Document:
    """A frozen dataclass that is one JSON object of SPEC section 4."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit"):
                continue
            if f.metadata.get("detail"):
                out.update(value.to_json())
            else:
                out[f.name] = _json(value)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        hints = _HINTS.get(cls) or _HINTS.setdefault(cls, typing.get_type_hints(cls))
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata.get("detail"):  # present when its first key is
                part = _inner(hints[f.name])
                kwargs[f.name] = part.from_json(data) if dataclasses.fields(part)[0].name in data else None
            else:
                kwargs[f.name] = _decode(hints[f.name], data.get(f.name))
        return cls(**kwargs)
