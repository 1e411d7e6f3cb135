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


Decoder: typing.TypeAlias = typing.Callable[[Any], Any] | None  # None: the JSON value is the field's value


def _decoder(kind: Any) -> Decoder:
    """How a JSON value becomes what a field of type `kind` holds: documents and tuples rebuilt (a
    document holding records of model/ rebuilds them in its own from_json). Worked out once per
    type: a warm `status` reads a document of thousands of values back from the index."""
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        return _decoder(_inner(kind))
    if origin is tuple:
        item = _decoder(typing.get_args(kind)[0])
        return tuple if item is None else (lambda v: tuple(None if x is None else item(x) for x in v))
    if origin is dict:
        value = _decoder(typing.get_args(kind)[1])
        if value is None:
            return None
        return lambda v: {k: None if x is None else value(x) for k, x in v.items()}
    if isinstance(kind, type) and issubclass(kind, Document):
        return kind.from_json
    return None


def _inner(kind: Any) -> Any:
    """`X` of `X | None`. (builtins' `next`: importing the submodule `documents.next` binds that
    name in this package's namespace.)"""
    return builtins.next(k for k in typing.get_args(kind) if k is not type(None))


# each class's fields as (name, decoder, its DETAIL part or None), resolved once (it is slow)
_PLANS: dict[type, list[tuple[str, Decoder, Any]]] = {}


def _plan(cls: type) -> list[tuple[str, Decoder, Any]]:
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Decoder, Any]] = []
    for f in dataclasses.fields(cls):
        part = _inner(hints[f.name]) if f.metadata.get("detail") else None
        plan.append((f.name, None if part is not None else _decoder(hints[f.name]), part))
    return plan


# each class's fields as (name, omitted while None, a DETAIL part), read once
_KEYS: dict[type, list[tuple[str, bool, bool]]] = {}


def _keys(cls: type) -> list[tuple[str, bool, bool]]:
    fields = dataclasses.fields(cls)
    return [(f.name, bool(f.metadata.get("omit")), bool(f.metadata.get("detail"))) for f in fields]


class Document:
    """A frozen dataclass that is one JSON object of SPEC section 4."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        cls = type(self)
        keys = _KEYS.get(cls) or _KEYS.setdefault(cls, _keys(cls))
        out: dict[str, Any] = {}
        for name, omit, detail in keys:
            value = getattr(self, name)
            if value is None and omit:
                continue
            if detail:
                out.update(value.to_json())
            else:
                out[name] = _json(value)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        plan = _PLANS.get(cls) or _PLANS.setdefault(cls, _plan(cls))
        kwargs = {}
        for name, decode, part in plan:
            if part is not None:  # a DETAIL part: present when its first key is
                kwargs[name] = part.from_json(data) if dataclasses.fields(part)[0].name in data else None
            else:
                value = data.get(name)
                kwargs[name] = decode(value) if decode is not None and value is not None else value
        return cls(**kwargs)
