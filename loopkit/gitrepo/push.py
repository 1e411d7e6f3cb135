"""What a push brings, read from git objects alone (SPEC section 11): the range's commits with what
each adds to and removes from the books, in ONE `git log -p` through the range (never a process
per commit), and the few reads the rules need at a given commit (blobs, blame, record history).

Everything here works in a bare repository with no work tree, and inside the quarantine git sets
up for a `pre-receive` hook: the environment git gave us (GIT_QUARANTINE_PATH,
GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES) is passed on to every git run here
(runner.git_env keeps the caller's environment), so the pushed objects are readable."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loopkit.errors import GitError, UsageError
from loopkit.gitrepo.history import ORIGIN, origin_of, origins
from loopkit.gitrepo.history import blame as _blame
from loopkit.gitrepo.repo import spec_args
from loopkit.gitrepo.runner import PINNED, ZERO, run_bytes
from loopkit.model.git import Origin

CONFIG_NAME = "loopkit.toml"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_HUNK = re.compile(r"^@@@? -(\d+)(?:,(\d+))?(?: -\d+(?:,\d+)?)* \+(\d+)(?:,(\d+))? @@@?")


@dataclass
class FileChange:
    """What one commit did to one file: added lines (new line number, text), removed texts."""

    path: str
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class PushCommit:
    """One commit of the range, oldest first (topological order), and its changes to the books.

    For a merge, `files` holds what it brings that neither parent had (git's dense combined diff):
    a line is added only when no parent had it, removed when some parent had it and the merge not."""

    origin: Origin
    parents: list[str]
    files: dict[str, FileChange] = field(default_factory=dict)

    @property
    def sha(self) -> str:
        return self.origin.sha

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def _run(root: Path, args: Sequence[str], *, stdin: bytes | None = None) -> tuple[int, bytes]:
    code, out, _ = run_bytes(root, list(args), stdin=stdin, check=False)
    return code, out


def toplevel(cwd: Path) -> Path:
    """Where git's pathspecs start: the work tree's top, or the repository itself when bare."""
    code, out = _run(cwd, ["rev-parse", "--is-bare-repository"])
    if code != 0:
        raise GitError(f"not a git repository: {cwd}")
    if out.decode().strip() == "true":
        return cwd
    code, out = _run(cwd, ["rev-parse", "--show-toplevel"])
    return Path(out.decode("utf-8", "surrogateescape").strip()) if code == 0 else cwd


def resolve(root: Path, rev: str) -> str | None:
    """The commit a revision names, or None."""
    code, out = _run(root, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"])
    sha = out.decode().strip()
    return sha if code == 0 and _SHA.match(sha) else None


def default_range(root: Path) -> tuple[str | None, str]:
    """`verify` without a range: the commits HEAD has that its upstream lacks."""
    head = resolve(root, "HEAD")
    if head is None:
        raise UsageError("verify: HEAD names no commit; give a range OLD..NEW")
    upstream = resolve(root, "@{upstream}")
    if upstream is None:
        raise UsageError("verify: the current branch has no upstream; give a range OLD..NEW")
    return upstream, head


def merge_base(root: Path, a: str, b: str) -> str | None:
    code, out = _run(root, ["merge-base", a, b])
    sha = out.decode().strip().split("\n")[0]
    return sha if code == 0 and _SHA.match(sha) else None


def default_ref(root: Path) -> str | None:
    """The default branch's ref: the remote's HEAD in a clone that knows it (CI: `git remote
    set-head origin --auto`), else what HEAD names (a bare repository's default branch)."""
    for name in ("refs/remotes/origin/HEAD", "HEAD"):
        code, out = _run(root, ["symbolic-ref", "--quiet", name])
        if code == 0 and out.strip():
            return out.decode("utf-8", "surrogateescape").strip()
    return None


def base_of_new_branch(root: Path, new: str, ref: str | None = None) -> str | None:
    """SPEC 11: a new branch is judged from its merge base with the default branch, whole without
    one (or when the default branch holds it all: nothing would be judged)."""
    default = default_ref(root)
    tip = resolve(root, default) if default is not None and default != ref else None
    base = merge_base(root, tip, new) if tip is not None else None
    return None if base == new else base


def workspaces(root: Path, commit: str) -> list[str]:
    """The workspace folders ('' = the repository root) of a commit: those holding loopkit.toml,
    shallowest first."""
    code, out = _run(root, ["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit])
    if code != 0:
        raise GitError(f"cannot read the tree of {commit[:12]}")
    found = []
    for name in out.decode("utf-8", "surrogateescape").split("\0"):
        if name == CONFIG_NAME or name.endswith("/" + CONFIG_NAME):
            found.append(name[: -len(CONFIG_NAME)].rstrip("/"))
    return sorted(found, key=lambda f: (f.count("/") + bool(f), f))


def changed_between(root: Path, old: str, new: str, pathspec: Sequence[str]) -> list[str]:
    """The paths under `pathspec` whose content differs between two commits."""
    code, out = _run(root, ["diff", "--name-only", "--no-renames", "-z", old, new, "--", *pathspec])
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p] if code == 0 else []


def count(root: Path, old: str | None, new: str) -> int:
    code, out = _run(root, ["rev-list", "--count", new, *([f"^{old}"] if old else [])])
    return int(out.decode().strip() or 0) if code == 0 else 0


def walk(root: Path, old: str | None, new: str, pathspec: Sequence[str]) -> list[PushCommit]:
    """Every commit of `old..new` (all of `new` when old is None), oldest first, each with the
    lines it adds to and removes from the files under `pathspec`: one `git log -p`."""
    args = [
        *PINNED,
        "log",
        "--topo-order",
        "--reverse",
        "-p",
        "-U0",
        "--cc",
        "--no-renames",
        "--no-textconv",
        "--no-ext-diff",
        "--no-color",
        "--no-relative",
        "--no-show-signature",
        "--no-use-mailmap",
        "--text",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        f"--format=%x1e%H %P%x1f{ORIGIN}%x00",
        new,
        *([f"^{old}"] if old else []),
        "--",
        *pathspec,
    ]
    code, out, err = run_bytes(root, args, check=False)
    if code != 0:
        raise GitError(f"git log {old or ''}..{new} failed: {err.decode('utf-8', 'replace').strip()[:200]}")
    commits = _parse(out)
    listed = _commit_list(root, old, new)
    # the log keeps only commits that touched the pathspec: the others are judged as bringing nothing
    seen = {c.sha for c in commits}
    if len(listed) == len(seen):
        return commits
    known = {c.sha: c for c in commits}
    rest = origins(root, [s for s, _ in listed if s not in seen])
    return [
        known.get(sha) or PushCommit(rest[sha], parents)
        for sha, parents in listed
        if sha in known or sha in rest
    ]


def _commit_list(root: Path, old: str | None, new: str) -> list[tuple[str, list[str]]]:
    code, out = _run(
        root, ["rev-list", "--topo-order", "--reverse", "--parents", new, *([f"^{old}"] if old else [])]
    )
    if code != 0:
        raise GitError(f"git rev-list {old or ''}..{new} failed")
    found = []
    for line in out.decode().split("\n"):
        ids = line.split()
        if ids:
            found.append((ids[0], ids[1:]))
    return found


def _parse(out: bytes) -> list[PushCommit]:
    commits: list[PushCommit] = []
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    index = 0
    current: PushCommit | None = None
    change: FileChange | None = None
    width = 1
    next_line = 0
    in_header = False  # between a file's `diff` line and its first hunk: `--- a/…`, `+++ b/…`, modes
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("\x1e"):
            header = [line[1:]]
            while not header[-1].endswith("\0") and index < len(lines):
                header.append(lines[index])
                index += 1
            fields = "\n".join(header)[:-1].split("\x1f")
            ids = fields[0].split()
            origin = origin_of(ids[0], fields[1:6])
            current, change = PushCommit(origin, ids[1:]), None
            commits.append(current)
        elif current is None:
            continue
        elif line.startswith("diff --git a/"):
            path = _path_of(line[len("diff --git a/") :])
            change = current.files.setdefault(path, FileChange(path)) if path else None
            width, in_header = 1, True
        elif line.startswith(("diff --cc ", "diff --combined ")):
            path = line.split(" ", 2)[2]
            change = None if path.startswith('"') else current.files.setdefault(path, FileChange(path))
            width, in_header = max(1, len(current.parents)), True
        elif line.startswith("@@"):
            match = _HUNK.match(line)
            next_line = int(match[3]) if match else 0
            in_header = False
        elif change is not None and not in_header and line[:1] in ("+", "-", " "):
            marks, text = line[:width], line[width:]
            if "-" in marks:
                change.removed.append(text)
            else:
                if "+" in marks and marks.strip("+") == "":
                    change.added.append((next_line, text))
                next_line += 1
    return commits


def _path_of(rest: str) -> str | None:
    """The path of `diff --git a/P b/P` (without renames both sides are one path); None when quoted."""
    half = (len(rest) - 3) // 2
    path = rest[:half]
    return path if rest == path + " b/" + path and not path.startswith('"') else None


def blobs(root: Path, specs: Iterable[str]) -> dict[str, bytes | None]:
    """The content of each `<commit>:<path>` (None when it names no blob), one `cat-file --batch`."""
    wanted = list(dict.fromkeys(specs))
    if not wanted:
        return {}
    stdin = "".join(f"{s}\n" for s in wanted).encode("utf-8", "surrogateescape")
    code, out = _run(root, ["cat-file", "--batch"], stdin=stdin)
    if code != 0:
        raise GitError("git cat-file --batch failed")
    found: dict[str, bytes | None] = {}
    at = 0
    for spec in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[spec] = out[at : at + size]
            at += size + 1
        else:
            found[spec] = None
    return found


def blame_at(root: Path, commit: str, path: str) -> list[str | None]:
    """The commit that added each line of `path` as `commit` holds it (git blame of that revision)."""
    found = _blame(root, path, rev=commit)
    return [found.get(n) for n in range(1, (max(found) if found else 0) + 1)]


def _touching_args(commit: str, path: str) -> list[str]:
    return ["log", "--no-show-signature", "--topo-order", "--format=%H", commit, "--", path]


def touching(root: Path, commit: str, path: str) -> list[str]:
    """The commits of `commit`'s history that touched `path`, oldest first (topological order)."""
    code, out = _run(root, _touching_args(commit, path))
    return list(reversed(out.decode().split())) if code == 0 else []


def spec_commits(root: Path, commit: str) -> list[Origin]:
    """Every commit of `commit`'s history that names a spec blob (`Loopkit-Spec`), newest first."""
    code, out = _run(root, spec_args(commit))
    found = []
    for chunk in out.decode("utf-8", "replace").split("\x1e")[1:] if code == 0 else []:
        fields = chunk.split("\x1f")
        if len(fields) >= 6:
            found.append(origin_of(fields[0].strip(), fields[1:6]))
    return found


def grep_lines(root: Path, commit: str, folder: str, needle: str) -> list[str]:
    """Every line holding the text `needle` in the files under `folder` at `commit` (git grep of
    the commit's tree: no work tree needed), one process."""
    code, out = _run(root, ["grep", "-h", "-F", "-e", needle, commit, "--", folder or "."])
    return out.decode("utf-8", "surrogateescape").splitlines() if code == 0 else []


def record_lines_at(root: Path, commit: str, paths: list[str]) -> dict[str, list[tuple[Origin, str]]]:
    """For each STATUS file, the record lines loopkit's claim, verdict and DONE commits added in
    `commit`'s history (what Repo.record_lines answers of HEAD), one git process."""
    from loopkit.gitrepo.repo import Repo

    if not paths:
        return {}
    return Repo(root)._record_log(paths, commit, literal=True)


def is_zero(sha: str) -> bool:
    return sha == ZERO
