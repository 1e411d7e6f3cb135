"""The paths of a scope (SPEC section 1), apart from state.py so that `probe exec`, which tells
whether the work tree is dirty within its milestone's scope, imports none of the rules."""

from __future__ import annotations

from collections.abc import Sequence


def in_scope(paths: Sequence[str], scope: Sequence[str]) -> list[str]:
    """The paths of a scope: all of them for `()`, all the code; else those a pattern matches
    (gitignore-style globs relative to the repository root: `*` stays in a folder, `**` crosses)."""
    if not scope:
        return list(paths)
    from loopkit.globs import match

    return [p for p in paths if any(match(pattern, p) for pattern in scope)]


def few(paths: Sequence[str]) -> str:
    """Up to five paths, and how many more: what a message names."""
    shown = ", ".join(paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
