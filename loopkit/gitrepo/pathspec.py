"""A few wide pathspecs in place of a long list of literal paths, for `git log`.

git matches every literal pathspec against every tree entry of every commit it walks: a log of
130 STATUS files costs ten times a log of one glob that covers them. The wide log answers the same
question once its commits are filtered to those that touch an asked path, provided history
simplification walks the same commits under both pathspecs: it does everywhere but at a merge,
where git follows the first parent the merge is TREESAME to (a wider pathspec can see a difference
the narrow one does not, and follow another parent). So the wide answer is used only when every
merge of the walk picks the same parent under both, checked from the merges' own diffs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from loopkit.gitrepo.runner import run_bytes

MIN_PATHS = 16  # fewer literal paths than this: git matches them quickly enough
SHARE = 4  # and the globs must be at most a quarter as many as the paths, or nothing is won
_SPECIAL = frozenset("*?[]\\\n")  # glob characters (and worse): such a list stays literal


def cover(paths: Sequence[str]) -> list[str] | None:
    """Glob pathspecs matching at least every asked path and everything under it (as the literal
    pathspecs do), one pair per folder; None when the literal list is short or odd."""
    if len(paths) < MIN_PATHS:
        return None
    folders: dict[str, list[str]] = {}
    for path in paths:
        if not path or path.startswith((":", "/")) or path.endswith("/") or _SPECIAL & set(path):
            return None
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder, []).append(name)
    specs: list[str] = []
    for folder, names in folders.items():
        base = f"{folder}/" if folder else ""
        if len(names) == 1:
            specs += [f":(glob){base}{names[0]}", f":(glob){base}{names[0]}/**"]
            continue
        head = _shared_start(names)
        tail = _shared_start([n[len(head) :][::-1] for n in names])[::-1]
        pattern = f"{base}{head}*{tail}"
        specs += [f":(glob){pattern}", f":(glob){pattern}/**"]
    return specs if len(specs) * SHARE <= len(paths) else None


def _shared_start(names: Sequence[str]) -> str:
    """The characters all names begin with (the first and last in order share no fewer)."""
    first, last = min(names), max(names)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def touches(names: Iterable[str], asked: set[str]) -> bool:
    """Whether any changed path is an asked path or lies under one (a literal pathspec's match)."""
    for name in names:
        parts = name.split("/")
        if any("/".join(parts[: n + 1]) in asked for n in range(len(parts))):
            return True
    return False


def merges_agree(root: Path, revisions: str, wide: Sequence[str], asked: set[str]) -> bool:
    """Whether history simplification picks the same parent at every merge of `revisions` under
    the wide pathspecs as under the asked paths: the first parent the merge is TREESAME to (or
    none). A range (`a..b`) with merges is not analysed: its bottom makes parents irrelevant."""
    merges = _merges(root, revisions)
    if merges is None:
        return False
    if not merges:
        return True
    if ".." in revisions or revisions.startswith("^"):
        return False
    pairs = [(m[0], p) for m in merges for p in m[1:]]
    code, out, _ = run_bytes(
        root,
        ["diff-tree", "--stdin", "--always", "-r", "-z", "--name-only", "--no-renames", "--", *wide],
        stdin="".join(f"{sha} {parent}\n" for sha, parent in pairs).encode(),
        check=False,
    )
    if code != 0:
        return False
    # each pair's answer: the merge's id, then the paths differing from that parent
    diffs: list[list[str]] = []
    tokens = out.decode("utf-8", "surrogateescape").split("\0")
    at = 0
    for sha, _ in pairs:
        if at >= len(tokens) or tokens[at] != sha:
            return False
        at += 1
        found: list[str] = []
        while at < len(tokens) and tokens[at] and not _starts(tokens, at, pairs, len(diffs) + 1):
            found.append(tokens[at])
            at += 1
        diffs.append(found)
    index = 0
    for merge in merges:
        own = diffs[index : index + len(merge) - 1]
        index += len(merge) - 1
        wide_pick = next((n for n, d in enumerate(own) if not d), None)
        narrow_pick = next((n for n, d in enumerate(own) if not touches(d, asked)), None)
        if wide_pick != narrow_pick:
            return False
    return True


_MERGES: dict[tuple[str, str], list[list[str]] | None] = {}
_FIXED = re.compile(r"^\^?[0-9a-f]{40}(?:\.\.[0-9a-f]{40})?$")


def _merges(root: Path, revisions: str) -> list[list[str]] | None:
    """The merges of `revisions` with their parents (None: git failed). Remembered when the
    revisions are commit ids, whose merges never change: status asks for one walk twice."""
    key = (str(root), revisions)
    if key in _MERGES:
        return _MERGES[key]
    code, out, _ = run_bytes(root, ["rev-list", "--merges", "--parents", revisions, "--"], check=False)
    merges = [line.split() for line in out.decode().splitlines() if line.strip()] if code == 0 else None
    if _FIXED.match(revisions):
        if len(_MERGES) >= 16:
            _MERGES.clear()
        _MERGES[key] = merges
    return merges


def _starts(tokens: list[str], at: int, pairs: list[tuple[str, str]], following: int) -> bool:
    """Whether tokens[at] opens the answer of the next pair (a merge's id, not a path)."""
    return following < len(pairs) and tokens[at] == pairs[following][0]
