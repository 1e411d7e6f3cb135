"""A commit's blobs and trees written by loopkit itself: loose objects (zlib + sha1, as git stores
them) and the new trees built in Python from the parent's, read through the transaction's one
`git cat-file --batch` (gitrepo/trees.py). It replaces read-tree, hash-object, update-index,
write-tree and rev-parse on a commit's path; commit-tree and update-ref stay git's.

It answers only in the plain case and says None otherwise, and then committer.py asks git as
before: a sha256 repository or any `[extensions]`, objects elsewhere (GIT_OBJECT_DIRECTORY,
alternates, a linked worktree), core.sharedRepository or config includes anywhere, a written path
that is a symlink, not a plain 100644 file in the parent, below something that is not a folder,
a name git could refuse, a folder holding an empty tree. The trees come out as write-tree makes
them from the parent (entries in git's order, folders sorting as if named with a trailing '/',
untouched subtrees kept by id, emptied folders gone): tests/test_objects.py pins the ids to git's.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from loopkit.errors import GitError
from loopkit.gitrepo.trees import Trees

TREE = 0o40000
BLOB = 0o100644
_KEPT_MODES = {BLOB, 0o100755, 0o120000, TREE, 0o160000}  # what write-tree writes back as read
EMPTY_TREE = bytes.fromhex("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
_LEVEL = 1  # fast zlib, as core.looseCompression=1: a 10 MB journal is stored again on every append
_BIG = 64 << 20  # beyond this git would stream a blob into a pack: let it
_ENV = (
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG",
)


class Unusual(Exception):
    """Something this writer does not handle: git's own commands do the commit."""


def object_dir(git_dir: Path) -> Path | None:
    """Where git writes this repository's loose objects, when nothing unusual is set; else None."""
    if any(os.environ.get(name) for name in _ENV):
        return None
    objects = git_dir / "objects"
    if (git_dir / "commondir").exists() or not objects.is_dir() or (objects / "info" / "alternates").exists():
        return None
    for config in _configs(git_dir):
        try:
            text = config.read_bytes().lower()
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if b"sharedrepository" in text or b"include" in text or b"[extensions" in text:
            return None
    return objects


def _configs(git_dir: Path) -> list[Path]:
    """Every file git reads its configuration from (includes make us give up: see object_dir)."""
    found = [git_dir / "config"]
    home = os.environ.get("HOME")
    xdg = os.environ.get("XDG_CONFIG_HOME") or (f"{home}/.config" if home else None)
    glob = os.environ.get("GIT_CONFIG_GLOBAL")
    if glob is not None:
        found += [Path(glob)] if glob else []
    else:
        found += [Path(f"{xdg}/git/config")] if xdg else []
        found += [Path(f"{home}/.gitconfig")] if home else []
    if not os.environ.get("GIT_CONFIG_NOSYSTEM"):
        found.append(Path(os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    return found


def write(objects: Path, kind: bytes, body: bytes) -> bytes:
    """Store one loose object the way git does (temporary file in its folder, fsync, link, 0444;
    an object already there is only freshened, as git freshens it); its binary id."""
    header = b"%s %d\0" % (kind, len(body))
    digest = hashlib.sha1(header, usedforsecurity=False)
    digest.update(body)
    sha = digest.hexdigest()
    folder = objects / sha[:2]
    final = folder / sha[2:]
    try:
        os.utime(final)
        return bytes.fromhex(sha)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise GitError(f"cannot write the object {sha}: {exc.strerror}") from None
    packer = zlib.compressobj(_LEVEL)
    data = packer.compress(header) + packer.compress(body) + packer.flush()
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / f"tmp_obj_loopkit_{os.urandom(6).hex()}"  # git's gc clears a kill's leftovers
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, final)
        except FileExistsError:
            pass  # another writer stored the same bytes meanwhile
        except OSError:
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    except OSError as exc:
        raise GitError(f"cannot write the object {sha}: {exc.strerror}") from None
    return bytes.fromhex(sha)


def commit_tree(
    root: Path,
    objects: Path,
    reader: Trees,
    *,
    base: bytes | None,
    paths: Sequence[str],
    present: Sequence[str],
) -> tuple[bytes, list[bytes]] | None:
    """The root tree of `base` (a tree id, None for none) with these work-tree paths written (the
    `present` ones, files) or taken out (the others), and the present paths' blob ids; None when
    it is not the plain case."""
    try:
        changes: dict[tuple[str, ...], bytes | None] = {}
        blobs: list[bytes] = []
        for path in paths:
            parts = tuple(path.split("/"))
            if not all(map(_plain_name, parts)):
                raise Unusual
            full = root / path
            if full.is_symlink():
                raise Unusual
            if path in present:
                data = full.read_bytes()
                if len(data) > _BIG:
                    raise Unusual
                blobs.append(write(objects, b"blob", data))
                changes[parts] = blobs[-1]
            else:
                changes[parts] = None
        keys = set(changes)
        if any(k[:n] in keys for k in keys for n in range(1, len(k))):
            raise Unusual  # a written path inside another: git would refuse one of them
        tree = _apply(objects, reader, base, changes)
        return (tree if tree is not None else write(objects, b"tree", b"")), blobs
    except (Unusual, GitError, ValueError, OSError):
        return None


def _plain_name(part: str) -> bool:
    """A path component every git takes as it is (no .git look-alike, nothing NTFS would alter)."""
    low = part.casefold()
    return (
        bool(part)
        and part not in (".", "..")
        and not low.startswith((".git", "git~"))
        and not part.endswith((" ", "."))
        and all(c >= " " and c not in "\\:\x7f" for c in part)
        and part.encode("utf-8", "surrogateescape") == part.encode("utf-8", "surrogatepass")
    )


def _apply(
    objects: Path, reader: Trees, tree: bytes | None, changes: Mapping[tuple[str, ...], bytes | None]
) -> bytes | None:
    """The tree with the changes made (paths relative to it); None when it comes out empty."""
    entries: dict[str, tuple[int, bytes]] = {}
    if tree is not None:
        listing = reader.listing(tree)
        keys = [_key(name, mode) for name, mode, _ in listing]
        twice = len({name for name, _, _ in listing}) != len(listing)
        if twice or any(a >= b for a, b in itertools.pairwise(keys)):
            raise Unusual  # not git's order, or a name twice: write-tree would not give it back
        for name, mode, sha in listing:
            if mode not in _KEPT_MODES or (mode == TREE and sha == EMPTY_TREE):
                raise Unusual
            entries[name] = (mode, sha)
    below: dict[str, dict[tuple[str, ...], bytes | None]] = {}
    for parts, blob in changes.items():
        name = parts[0]
        found = entries.get(name)
        if len(parts) > 1:
            if found is not None and found[0] != TREE:
                raise Unusual
            below.setdefault(name, {})[parts[1:]] = blob
        elif found is not None and found[0] != BLOB:
            raise Unusual
        elif blob is None:
            entries.pop(name, None)
        else:
            entries[name] = (BLOB, blob)
    for name, inner in below.items():
        found = entries.get(name)
        sub = _apply(objects, reader, found[1] if found else None, inner)
        if sub is None:
            entries.pop(name, None)  # an emptied folder is no entry, as in git's index
        else:
            entries[name] = (TREE, sub)
    if not entries:
        return None
    body = b"".join(
        b"%o %s\0%s" % (mode, name.encode("utf-8", "surrogateescape"), sha)
        for name, (mode, sha) in sorted(entries.items(), key=lambda e: _key(e[0], e[1][0]))
    )
    return write(objects, b"tree", body)


def _key(name: str, mode: int) -> bytes:
    """git's order of tree entries: bytes, a folder as if its name ended with '/'."""
    raw = name.encode("utf-8", "surrogateescape")
    return raw + b"/" if mode == TREE else raw
