"""The names SPEC section 1 allows for phases, milestones and probes; anything else is bad input."""

from __future__ import annotations

import re

from loopkit.errors import BadInput

_PHASE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


def is_phase(name: str) -> bool:
    return _PHASE.fullmatch(name) is not None and ".." not in name


def is_id(name: str) -> bool:
    return _ID.fullmatch(name) is not None and ".." not in name


def phase(name: str) -> str:
    if not is_phase(name):
        raise BadInput(f"bad phase name {name!r}: use [a-z0-9][a-z0-9._-]{{0,63}}, without '..'")
    return name


def ident(name: str, *, what: str = "milestone") -> str:
    if not is_id(name):
        raise BadInput(f"bad {what} id {name!r}: use [A-Za-z0-9][A-Za-z0-9._-]{{0,31}}, without '..'")
    return name
