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
    _not_secret(name, "phase name")
    return name


def _not_secret(name: str, what: str) -> None:
    """A name lands in file names, trailers and JSON, where no redaction can reach it afterwards."""
    from loopkit.redact import looks_secret

    if looks_secret(name):
        raise BadInput(f"bad {what}: it has the shape of a secret token; choose another name")


def ident(name: str, *, what: str = "milestone") -> str:
    if not is_id(name):
        raise BadInput(f"bad {what} id {name!r}: use [A-Za-z0-9][A-Za-z0-9._-]{{0,31}}, without '..'")
    _not_secret(name, f"{what} id")
    return name
