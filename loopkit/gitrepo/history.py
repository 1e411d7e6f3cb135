"""Who wrote what: git blame for the commit of each line, and each commit's identities and trailers
read from the commit object itself (never through a `.mailmap`, which anyone can add to a clone)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from loopkit.gitrepo.runner import PINNED, ZERO, run, run_bytes
from loopkit.model.config import Identity
from loopkit.model.git import Origin

_HEADER = re.compile(rb"^([0-9a-f]{40}) \d+ (\d+)(?: \d+)?$")
# what a commit's origin is read from (after its id and a %x1f), never through a mailmap
ORIGIN = "%an%x1f%ae%x1f%cn%x1f%ce%x1f%(trailers:only,unfold)"


def blame(
    root: Path, path: str, *, lines: Sequence[int] | None = None, rev: str | None = None
) -> dict[int, str | None]:
    """The commit that added each line of the working file (1-based), None for an uncommitted one;
    with `rev`, of the file as that commit holds it (no work tree needed: `verify`, SPEC 11).

    `lines` limits the question to those lines (blame costs the history of what it is asked).
    A file git does not know has no committed line.
    """
    # the replay's diff settings (runner.PINNED); and no ignored revisions: a configured
    # blame.ignoreRevsFile would pass a forged line's blame on to an older, genuine commit
    args = [*PINNED, "-c", "blame.ignoreRevsFile=", "blame", "--porcelain", "--no-textconv"]
    if lines is not None:
        if not lines:
            return {}
        for start, end in _ranges(lines):
            args += ["-L", f"{start},{end}"]
    code, out, _ = run_bytes(root, [*args, *([rev] if rev else []), "--", path], check=False)
    if code != 0:
        return dict.fromkeys(lines) if lines is not None else {}
    found: dict[int, str | None] = {}
    for raw in out.split(b"\n"):
        if raw.startswith(b"\t") or not raw:
            continue
        match = _HEADER.match(raw)
        if match is not None:
            sha = match[1].decode()
            found[int(match[2])] = None if sha == ZERO else sha
    return found


def _ranges(lines: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(set(lines)):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def blame_many(root: Path, asks: dict[str, Sequence[int] | None]) -> dict[str, dict[int, str | None]]:
    """Several files' blames at once (status reads every phase): git processes side by side."""
    if len(asks) <= 1:
        return {path: blame(root, path, lines=lines) for path, lines in asks.items()}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {path: pool.submit(blame, root, path, lines=lines) for path, lines in asks.items()}
        return {path: future.result() for path, future in futures.items()}


def origins(root: Path, shas: Iterable[str]) -> dict[str, Origin]:
    """Author, committer and trailers of each commit, from the commit objects (no mailmap)."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    out = run(
        root,
        "show",
        "-s",
        "--no-show-signature",
        "--no-use-mailmap",
        "--no-walk=unsorted",
        f"--format=%H%x1f{ORIGIN}%x1e",
        *wanted,
    )
    found: dict[str, Origin] = {}
    for chunk in out.split("\x1e"):
        fields = chunk.strip("\n").split("\x1f")
        if len(fields) >= 6 and fields[0].strip():
            found[fields[0].strip()] = origin_of(fields[0].strip(), fields[1:6])
    return found


def origin_of(sha: str, fields: Sequence[str]) -> Origin:
    """A commit's origin from the fields ORIGIN prints (a missing one is empty)."""
    an, ae, cn, ce, block = [*fields, "", "", "", "", ""][:5]
    return Origin(sha, Identity(an, ae), Identity(cn, ce), trailer_pairs(block))


def trailer_pairs(block: str) -> dict[str, str]:
    """Each trailer's value; a key given several times (the records of one `probe run` commit)
    keeps all its values, in order, one per line: a value is one line, so they cannot run together."""
    pairs: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        pairs[key] = f"{pairs[key]}\n{value.strip()}" if key in pairs else value.strip()
    return pairs


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def added_lines(diff: str) -> list[tuple[str, str]]:
    """(path, line) for every line a `git log -p -U0` diff adds, hunk by hunk by the hunk's counts."""
    found: list[tuple[str, str]] = []
    path = ""
    lines = diff.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("+++ "):
            target = line[4:]
            path = target[2:] if target.startswith("b/") else ""
            continue
        match = _HUNK.match(line)
        if match is None:
            continue
        remaining = sum(1 if g is None else int(g) for g in match.groups())
        while remaining and index < len(lines):
            entry = lines[index]
            index += 1
            if entry.startswith("\\"):
                continue  # "\ No newline at end of file" is not a line of the hunk
            remaining -= 1
            if entry.startswith("+") and path:
                found.append((path, entry[1:]))
    return found
