"""Finds the workspace folder, names its files, takes the lock, reads and writes files atomically.

Below gitrepo/ and txn: it asks git nothing (services/context.find_workspace reads the trusted
configuration through gitrepo, make_ready recovers through txn)."""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from loopkit.config import load_phase
from loopkit.errors import BadInput
from loopkit.model.config import Config, PhaseSpec

CONFIG_NAME = "loopkit.toml"
PHASES_DIR = "phases"
INTENT_FILE = "txn.json"  # in .git/loopkit: a write transaction under way (txn.py)


MERGED = ("status", "journal", "inbox", "archive")  # the kinds the merge driver unions by record


def book_kind(config: Config, rel: str) -> tuple[str, str | None, str | None]:
    """(kind, phase, role) of a path relative to the workspace folder: loopkit's record files
    (`MERGED`), the orchestrator's (spec, config, signers), or "other"."""
    fixed = {CONFIG_NAME: "config", "allowed_signers": "signers"}
    if rel in fixed:
        return fixed[rel], None, None
    if match := re.fullmatch(rf"{PHASES_DIR}/(?P<phase>[^/]+)\.toml", rel):
        return "spec", match["phase"], None
    if match := _pattern(config.status).fullmatch(rel):
        return "status", match["phase"], None
    for role, pattern in config.journals.items():
        if match := _pattern(pattern).fullmatch(rel):
            return "journal", match["phase"], role
    for role in config.identities:
        if rel == inbox_name(config, role):
            return "inbox", None, role
    if rel.startswith(config.archive.rstrip("/") + "/"):
        return "archive", None, None
    return "other", None, None


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(re.escape(pattern).replace(re.escape("{phase}"), "(?P<phase>[^/]+)"))


def inbox_name(config: Config, role: str) -> str:
    return config.inbox.replace("{ROLE}", role.upper()).replace("{role}", role)


def find_repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


@dataclass(frozen=True)
class Workspace:
    """A loopkit workspace: its folder, its repository and its configuration."""

    root: Path
    repo_root: Path | None
    config: Config
    # `untrusted-config` problems (gitrepo/signers.TrustProblem): changes to loopkit.toml's
    # [roles], [rules] or [files] that do not count (SPEC section 2)
    config_problems: tuple[Any, ...] = ()

    @cached_property
    def rel(self) -> str:
        """The workspace folder relative to the repository root, POSIX style; '' at the root."""
        if self.repo_root is None or self.root == self.repo_root:
            return ""
        return self.root.relative_to(self.repo_root).as_posix()

    def repo_path(self, path: Path) -> str:
        """A workspace file's path as git names it."""
        assert self.repo_root is not None
        return path.relative_to(self.repo_root).as_posix()

    def shown(self, path: Path) -> str:
        """A workspace file as messages and --json name it: relative to the workspace folder."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # -- file names ---------------------------------------------------------------------------
    def status_file(self, phase: str) -> Path:
        return self.root / self.config.status.format(phase=phase)

    def journal_file(self, phase: str, role: str) -> Path | None:
        pattern = self.config.journals.get(role)
        return None if pattern is None else self.root / pattern.format(phase=phase)

    def inbox_file(self, role: str) -> Path:
        return self.root / inbox_name(self.config, role)

    @property
    def archive_dir(self) -> Path:
        return self.root / self.config.archive

    def spec_file(self, phase: str) -> Path:
        return self.root / PHASES_DIR / f"{phase}.toml"

    def spec(self, phase: str) -> PhaseSpec | None:
        path = self.spec_file(phase)
        return load_phase(path, expected=phase) if path.is_file() else None

    def phases(self) -> list[str]:
        """Every phase with a spec or a STATUS file, sorted by name."""
        from loopkit import names

        specs, statuses = self.phase_folders()
        found = {p.stem for p in specs.glob("*.toml") if names.is_phase(p.stem)}
        pattern = re.escape(self.config.status).replace(re.escape("{phase}"), "(?P<phase>.+)")
        matcher = re.compile(pattern)
        for path in statuses.glob("*"):
            rel = path.relative_to(self.root).as_posix()
            match = matcher.fullmatch(rel)
            if match and names.is_phase(match["phase"]):
                found.add(match["phase"])
        return sorted(found)

    def phase_folders(self) -> tuple[Path, Path]:
        """The folders `phases` lists: the specs', and the one the STATUS files are in."""
        base = self.config.status.split("{phase}")[0]
        return self.root / PHASES_DIR, (self.root / base).parent if "/" in base else self.root

    def is_inside(self, repo_path: str) -> bool:
        """Whether a repository path lies in the workspace (SPEC: staleness ignores these).

        A workspace at the repository root would make every path "inside"; there the files
        loopkit keeps (config, phases/, STATUS, journals, inboxes, archive) are what counts.
        """
        if self.rel:
            return repo_path == self.rel or repo_path.startswith(self.rel + "/")
        return self.owns_top_level(repo_path.split("/", 1)[0])

    def owns_top_level(self, name: str) -> bool:
        if name in (CONFIG_NAME, PHASES_DIR, self.config.archive.split("/", 1)[0]):
            return True
        patterns = [self.config.status, self.config.inbox, *self.config.journals.values()]
        for pattern in patterns:
            top = pattern.split("/", 1)[0]
            regex = re.escape(top)
            for token in ("{phase}", "{ROLE}", "{role}"):
                regex = regex.replace(re.escape(token), ".+")
            if re.fullmatch(regex, name):
                return True
        return False

    @cached_property
    def git_dir(self) -> Path:
        """The repository's git directory (a worktree's own one included)."""
        found = _git_dir(self.repo_root) if self.repo_root else None
        if found is None:
            from loopkit.errors import GitError

            raise GitError(f"not inside a git work tree: {self.root}; {GIT_INIT_HINT}")
        return found

    @property
    def intent_file(self) -> Path | None:
        """Where a write transaction keeps its intent record (txn.py); None outside git."""
        git_dir = _git_dir(self.repo_root) if self.repo_root else None
        return None if git_dir is None else git_dir / "loopkit" / INTENT_FILE

    # -- locking --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """One writer at a time per workspace, served in arrival order. Lives in .git: the tree stays clean.

        flock alone lets any waiter win each release, so under a burst some wait for ever; so each
        waiter takes a ticket (a file named by its arrival time) in `.git/loopkit/lock/` and only
        the oldest ticket may take the flock. A ticket whose process is gone (on this host, or
        another host's older than the timeout) is removed with one line on stderr. The ticket
        names its process by pid and start time (`_started`): a pid reused by another process
        since is not the ticket's process, so it cannot hold every writer off.
        """
        if timeout is None:
            timeout = lock_timeout(os.environ.get("LOOPKIT_LOCK_TIMEOUT"), self.config.lock_timeout)
        path = self.git_dir / "loopkit.lock"  # outside git: said before anything is left behind
        queue = path.parent / "loopkit" / "lock"
        queue.mkdir(parents=True, exist_ok=True)
        host = os.uname().nodename  # socket.gethostname(), without importing socket
        ticket = queue / f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}"
        ticket.write_text(f"{os.getpid()} {host} {_started(os.getpid())}\n", encoding="utf-8")
        handle = open(path, "a+b")  # noqa: SIM115 - held for the whole block
        try:
            deadline = time.monotonic() + timeout
            while True:
                first, ahead = _first_ticket(queue, host, timeout, ticket.name)
                if first == ticket.name:
                    try:
                        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        pass  # a loopkit without tickets holds it: wait for it too
                if time.monotonic() >= deadline:
                    raise BadInput(
                        f"workspace is locked by another loopkit ({path}); not obtained in {timeout:g} s"
                    ) from None
                # next in line: look often, the handover is what a burst waits on; the rest: rarely
                time.sleep(0.002 if ahead <= 1 else min(0.01 * ahead, 0.1))
            yield
        finally:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                ticket.unlink()


LOCK_TIMEOUT = 120.0  # far above what 16 writers x 50 writes wait when served in order
GIT_INIT_HINT = (
    "run `git init` there (or at the repository's root above it) and commit, then run loopkit again"
)


def lock_timeout(env: str | None, configured: float | None) -> float:
    """LOOPKIT_LOCK_TIMEOUT (seconds, a positive number), else [lock] timeout, else the default."""
    if env is None or not env.strip():
        return configured or LOCK_TIMEOUT
    try:
        value = float(env)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise BadInput(f"LOOPKIT_LOCK_TIMEOUT={env!r}: give a positive number of seconds")
    return value


def _first_ticket(queue: Path, host: str, timeout: float, mine: str) -> tuple[str | None, int]:
    """The oldest live ticket, and how many tickets are ahead of mine; dead ones are removed."""
    names = sorted(os.listdir(queue))
    ahead = names.index(mine) if mine in names else len(names)
    for name in names:
        entry = queue / name
        try:
            owner = entry.read_text("utf-8").split()
            age = time.time() - entry.stat().st_mtime
        except (OSError, UnicodeDecodeError):
            continue  # just removed, or being written
        if len(owner) < 2:
            if age < 5:
                return name, ahead  # still being written
            owner = ["0", ""]
        pid, where = int(owner[0]) if owner[0].isdigit() else 0, owner[1]
        started = owner[2] if len(owner) > 2 else "-"  # a ticket of an older loopkit: pid only
        here = where == host and _alive(pid) and (started == "-" or started == _started(pid))
        dead = (where == host and not here) or (where != host and age > timeout)
        if not dead:
            return name, ahead
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            sys.stderr.write(
                f"loopkit: broke a stale workspace lock (process {pid} on {where or '?'} is gone)\n"
            )
    return None, ahead


def _started(pid: int) -> str:
    """When the process started (clock ticks since boot, /proc/<pid>/stat field 22), or "-" where
    that cannot be read; with the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return "-"
    fields = data[data.rfind(b")") + 2 :].split()  # after the name, which may hold spaces and `)`
    return fields[19].decode("ascii", "replace") if len(fields) > 19 else "-"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_git_dir(repo_root: Path) -> Path:
    found = _git_dir(repo_root)
    if found is None:
        from loopkit.errors import GitError

        raise GitError(f"not inside a git work tree: {repo_root}")
    return found


def _git_dir(repo_root: Path) -> Path | None:
    dot_git = repo_root / ".git"
    if dot_git.is_dir():
        return dot_git
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = dot_git.read_text("utf-8").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:") :].strip())
            return target if target.is_absolute() else (repo_root / target).resolve()
    return None


def find_root(*, start: Path, override: str | None, environ: Mapping[str, str]) -> Path:
    """The workspace folder: `--workspace DIR`, then LOOPKIT_WORKSPACE, then the nearest
    loopkit.toml above `start` (services/context.find_workspace opens it)."""
    chosen = override or environ.get("LOOPKIT_WORKSPACE") or None
    if chosen:
        root = (start / chosen).resolve()
        if not (root / CONFIG_NAME).is_file():
            raise BadInput(f"no workspace: {root} has no {CONFIG_NAME} (run `loopkit init`)")
        return root
    here = start.resolve()
    found = next((d for d in (here, *here.parents) if (d / CONFIG_NAME).is_file()), None)
    if found is None:
        below = find_below(here)
        if below is not None:
            rel = below.relative_to(here).as_posix()
            raise BadInput(
                f"no workspace: no {CONFIG_NAME} in {here} or above; "
                f"found {rel}/{CONFIG_NAME}: use --workspace {rel} (or LOOPKIT_WORKSPACE)"
            )
        raise BadInput(f"no workspace: no {CONFIG_NAME} in {here} or above (run `loopkit init`)")
    return found


_SKIP = {"node_modules", "__pycache__", "venv", "target", "dist", "build", "site-packages"}


def find_below(start: Path, depth: int = 3, budget: int = 2000) -> Path | None:
    """The nearest folder below `start` holding a loopkit.toml (breadth first, a few levels, hidden
    and vendored folders skipped, at most `budget` folders looked at): only for a hint."""
    level = [start]
    seen = 0
    for _ in range(depth):
        nxt: list[Path] = []
        for folder in level:
            try:
                children = sorted(
                    (e for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name
                )
            except OSError:
                continue
            for entry in children:
                if entry.name.startswith(".") or entry.name in _SKIP:
                    continue
                seen += 1
                if seen > budget:
                    return None
                path = Path(entry.path)
                if (path / CONFIG_NAME).is_file():
                    return path
                nxt.append(path)
        level = nxt
    return None


# -- reading and writing ------------------------------------------------------------------------
def read_text(path: Path) -> str:
    """A Markdown file as text. Invalid UTF-8 is replaced, not fatal: parsers warn about it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    return data.decode("utf-8", errors="replace")


def read_exact(path: Path) -> str | None:
    """A file loopkit is about to edit: it must be valid UTF-8, or we would write back damage."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); loopkit will not edit it") from None


def read_mapped(path: Path) -> bytes | mmap.mmap | None:
    """A file mapped read-only, for the readers that look at a few parts of a long one
    (markdown/journal's scans from the end); b"" when it is empty, None when there is none."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, the map keeps its own descriptor
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder where the journal should be: one line, exit 4, as read_text says
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        if handle.seek(0, 2) == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def write_atomic(path: Path, data: str | bytes, *, scratch: str | None = None) -> None:
    """Temp file, fsync, rename: a reader sees the old file or the new one, never half of it.

    `scratch` names the temporary file (`.<name>.<scratch>.tmp`), so a transaction interrupted by
    a kill knows which leftovers are its own to remove.
    """
    try:
        _write_atomic(path, data.encode("utf-8") if isinstance(data, str) else data, scratch)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_atomic(path: Path, data: bytes, scratch: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if scratch is None:  # tempfile.mkstemp's name and flags, without importing tempfile
        tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    else:
        tmp = str(path.parent / f".{path.name}.{scratch}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        if not path.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
