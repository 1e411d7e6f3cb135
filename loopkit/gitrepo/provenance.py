"""Provenance without blame: the commit that added each line of many files, from one walk.

`git blame` costs one process and one history walk per file; `status` asks it of every phase. One
`git log -p -U0` of the workspace folder, replayed in Python (each commit's hunks splice its id
into the file's line-origin array), gives the same answer for every file whose history blame
would read as a line of single-parent commits. The answer is exact only where blame's own walk is
that line, so a file is left out (the caller blames it) when:

- a merge on the first-parent line changed it: blame then attributes by content across parents;
  a merge that left it as its first parent had it passes the whole file to that parent, as the
  replay does;
- the commit that last created it deleted any file anywhere: blame might follow it as a rename;
- the replayed length is not the file's (a path git quotes, anything unforeseen).

The walk and blame diff under the same pinned options (`runner.PINNED`, which history.blame uses too): a
user's `diff.algorithm` or `diff.indentHeuristic` must not make the two disagree. Working files
that differ from HEAD's blob are the caller's to check (it blames them).

The walk also reads each commit's author, committer and trailers (as `history.origins` does), so
the commits the replay names need no second question.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from loopkit.gitrepo.history import ORIGIN, origin_of
from loopkit.gitrepo.runner import PINNED, run_bytes
from loopkit.model.git import Origin

# blame and the replay's log both diff with these: git 2.45 made blame honour diff.algorithm,
# older ones ignore it; pinned, every version and every user's config give the same hunks
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_DIFF = b"diff --git a/"


@dataclass(frozen=True)
class Replayed:
    """One file as of HEAD: its blob id and the commit that added each of its lines."""

    blob: str
    shas: list[str]


class Replay(NamedTuple):
    """What one walk answers: the files it replays exactly, and every commit it walked."""

    files: dict[str, Replayed]
    origins: dict[str, Origin]


@dataclass
class _Walk:
    wanted: set[bytes]
    origins: dict[str, Origin] = field(default_factory=dict)
    lines: dict[bytes, list[str]] = field(default_factory=dict)
    blobs: dict[bytes, str] = field(default_factory=dict)
    created: dict[bytes, str] = field(default_factory=dict)  # path -> commit that last created it
    unsure: set[bytes] = field(default_factory=set)
    roots: set[str] = field(default_factory=set)


def replay(root: Path, *, head: str, paths: Collection[str]) -> Replay:
    """HEAD's line origins of those `paths` (repository-relative) that the replay answers exactly
    as git blame would (the others are left out), and the origin of every commit walked."""
    wanted = {p.encode("utf-8", "surrogateescape"): p for p in paths}
    if not wanted:
        return Replay({}, {})
    code, out, _ = run_bytes(root, log_args(head, paths), check=False)
    if code != 0:
        return Replay({}, {})
    walk = _Walk(set(wanted))
    _read(out, walk)
    maybe_renamed = {c for p, c in walk.created.items() if p in wanted and c not in walk.roots}
    deleting = _deleting(root, maybe_renamed)
    found: dict[str, Replayed] = {}
    for raw, path in wanted.items():
        shas, blob = walk.lines.get(raw), walk.blobs.get(raw)
        if shas is None or blob is None or raw in walk.unsure or walk.created.get(raw) in deleting:
            continue
        if len(shas) != _count_lines(root / path):
            continue
        found[path] = Replayed(blob, shas)
    return Replay(found, walk.origins)


def log_args(head: str, paths: Collection[str]) -> list[str]:
    """The walk's git arguments for these paths (runner.ahead can start it before they are known
    for sure: a guess naming the same folder asks the same question)."""
    return [*_log_args(head), *_pathspec(paths)]


def _pathspec(paths: Collection[str]) -> list[str]:
    """One folder for all the paths: git log limited by hundreds of literal paths is ten times
    slower than by the folder that holds them; the walk keeps only the wanted ones."""
    folder = posixpath.commonpath([posixpath.dirname(p) for p in paths])
    if folder:
        return [f":(literal){folder}"]
    if all("/" not in p for p in paths):
        return [":(glob)*"]  # a workspace at the top: its files, not the whole repository's
    return []


def _log_args(head: str) -> list[str]:
    return [
        *PINNED,
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--reverse",
        "--root",
        "-p",
        "-U0",
        "--inter-hunk-context=0",
        "--no-renames",
        "--no-textconv",
        "--no-ext-diff",
        "--no-color",
        "--no-relative",
        "--no-show-signature",
        "--text",
        "--full-index",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--no-use-mailmap",
        # each commit: its id and parents, then what history.origins reads, ended by a NUL (which
        # no commit message holds), then its patch
        f"--format=%x1e%H %P%x1f{ORIGIN}%x00",
        head,
        "--",
    ]


def _read(out: bytes, walk: _Walk) -> None:
    """Replay the log: per commit, per file, its header (creation, deletion, blob) and hunks."""
    lines = out.split(b"\n")
    commit, merge = "", False
    path: bytes | None = None
    gone = False
    shift = index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith(b"\x1e"):
            header = [line[1:]]
            while not header[-1].endswith(b"\0") and index < len(lines):
                header.append(lines[index])
                index += 1
            ids = header[0].split(b"\x1f", 1)[0].decode().split()
            commit, merge, path = ids[0], len(ids) > 2, None
            if len(ids) == 1:
                walk.roots.add(commit)
            fields = b"\n".join(header)[:-1].decode("utf-8", "replace").split("\x1f")
            walk.origins[commit] = origin_of(commit, fields[1:6])
        elif line.startswith(_DIFF):
            path, gone, shift = _path_of(line[len(_DIFF) :]), False, 0
            if path is not None and path not in walk.wanted:
                path = None
            if path is not None and merge:
                walk.unsure.add(path)
        elif line.startswith(b"@@ "):
            match = _HUNK.match(line)
            if match is None:
                if path is not None:
                    walk.unsure.add(path)
                continue
            old_start, old_count, new_count = (1 if g is None else int(g) for g in match.groups())
            index = _skip(lines, index, old_count + new_count)
            if path is None or gone:
                continue
            origins = walk.lines.get(path)
            if origins is None:
                walk.unsure.add(path)  # a change to a file the walk never saw created
                continue
            # -U0 hunks count from the old file (an insertion, old_count 0, goes after old_start),
            # in file order: the array already holds the earlier hunks, so shift by what they moved
            start = (old_start if old_count == 0 else old_start - 1) + shift
            origins[start : start + old_count] = [commit] * new_count
            shift += new_count - old_count
        elif path is None:
            continue
        elif line.startswith(b"new file mode"):
            walk.lines[path], walk.created[path] = [], commit
        elif line.startswith(b"deleted file mode"):
            gone = True
            walk.unsure.discard(path)  # whatever happened to it before, a new life starts afresh
            for known in (walk.lines, walk.blobs, walk.created):
                known.pop(path, None)
        elif line.startswith(b"index ") and not gone:
            walk.blobs[path] = line.split()[1].partition(b"..")[2].decode()


def _path_of(rest: bytes) -> bytes | None:
    """The path of `diff --git a/P b/P` (without renames both sides are one path); None when quoted."""
    half = (len(rest) - 3) // 2
    path = rest[:half]
    return path if rest == path + b" b/" + path and not path.startswith(b'"') else None


def _skip(lines: list[bytes], index: int, count: int) -> int:
    """Past a hunk's body: `count` lines, not counting "\\ No newline at end of file"."""
    while count and index < len(lines):
        if not lines[index].startswith(b"\\"):
            count -= 1
        index += 1
    return index


def _deleting(root: Path, commits: Collection[str]) -> set[str]:
    """Those of `commits` that delete some file anywhere in the tree (a rename's possible source)."""
    if not commits:
        return set()
    stdin = "".join(f"{c}\n" for c in sorted(commits)).encode()
    args = ["diff-tree", "--stdin", "-r", "--no-renames", "--diff-filter=D", "--name-only", "-z"]
    code, out, _ = run_bytes(root, [*args, "--format=%x1e%H"], stdin=stdin, check=False)
    if code != 0:
        return set(commits)
    found = set()
    for chunk in out.split(b"\x1e")[1:]:
        sha, _, names = chunk.partition(b"\0")
        if names.strip(b"\0\n"):
            found.add(sha.decode())
    return found


def _count_lines(path: Path) -> int:
    """Lines as git counts them: LF-terminated, plus a last one without its LF."""
    try:
        data = path.read_bytes()
    except OSError:
        return -1
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
