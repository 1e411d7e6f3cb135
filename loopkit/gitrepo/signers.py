"""The trust chain of the workspace's `allowed_signers` (SPEC section 10).

The first version committed on the first-parent history of HEAD is trusted as it stands. A later
change (a deletion included) counts only when its commit is authored by the orchestrator's email
and signed by a key that the previous trusted version allows for that email; otherwise it is an
`untrusted-signers` problem and the last trusted version goes on being used. An uncommitted
change never counts. `LOOPKIT_ALLOWED_SIGNERS=FILE` replaces the file and its chain outright.

Cost: one `git log` for the file's history, one `git cat-file --batch` for its versions, and one
(cached) verification per later change; changes to this file are rare."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loopkit.errors import BadInput, GitError
from loopkit.gitrepo.signing import resolve_environ, run_pinned, verify
from loopkit.signed import decide, explain

FILE_NAME = "allowed_signers"
UNTRUSTED = "untrusted-signers"
_ZERO = "0" * 40
_REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class TrustProblem:
    """`code` is always "untrusted-signers"; `commit` the refused change (None: uncommitted)."""

    message: str
    file: str
    commit: str | None
    code: str = UNTRUSTED


@dataclass(frozen=True)
class TrustedSigners:
    """The allowed-signers text to verify with, where it came from, and what was refused.

    `source`: "environment" (LOOPKIT_ALLOWED_SIGNERS), "history" (the chain), "none" (never
    committed: nothing verifies). `commit`: the commit whose version is trusted."""

    text: str
    source: Literal["environment", "history", "none"]
    commit: str | None
    problems: tuple[TrustProblem, ...] = ()


@dataclass(frozen=True)
class _Version:
    """One committed version of the allowed-signers file, and who wrote it."""

    sha: str
    author_email: str
    blob: str | None  # None: the change deleted the file (or made it something not a file)


def signers_path(workspace: str) -> str:
    """The repository-relative path of a workspace's allowed_signers ("" is the root)."""
    return posixpath.join(workspace, FILE_NAME) if workspace not in ("", ".") else FILE_NAME


def trusted_signers(
    repo_root: Path,
    *,
    path: str,
    orchestrator_email: str,
    environ: Mapping[str, str] | None = None,
    cache: bool = True,
    git_dir: Path | None = None,
    rev: str | None = None,
) -> TrustedSigners:
    """The trusted allowed-signers text of the file at `path` (relative to `repo_root`); with `rev`,
    the chain of that commit's first-parent history, work tree left out (`verify`, SPEC 11)."""
    env = resolve_environ(environ)
    override = env.get("LOOPKIT_ALLOWED_SIGNERS", "").strip()
    if override:
        try:
            text = Path(override).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"LOOPKIT_ALLOWED_SIGNERS: cannot read {override}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BadInput(f"LOOPKIT_ALLOWED_SIGNERS: {override} is not UTF-8 text") from None
        return TrustedSigners(text, "environment", None)

    versions = _history(repo_root, path, environ, rev or "HEAD")
    texts = _blobs(repo_root, [v.blob for v in versions if v.blob], environ)
    problems: list[TrustProblem] = []
    if not versions:
        if rev is None:
            problems += _uncommitted(repo_root, path, committed=None, trusted_commit=None)
        return TrustedSigners("", "none", None, tuple(problems))

    first = versions[0]
    trusted_text = texts.get(first.blob, "") if first.blob else ""
    trusted_commit = first.sha
    for version in versions[1:]:
        reason = _refusal(
            repo_root,
            version,
            trusted_text=trusted_text,
            orchestrator_email=orchestrator_email,
            environ=environ,
            cache=cache,
            git_dir=git_dir,
        )
        if reason is None:
            trusted_text = texts.get(version.blob, "") if version.blob else ""
            trusted_commit = version.sha
            continue
        change = "deletion" if version.blob is None else "change"
        problems.append(
            TrustProblem(
                f"{path}: the {change} in {version.sha[:12]} does not count ({reason}); "
                f"loopkit goes on using the version of {trusted_commit[:12]}",
                path,
                version.sha,
            )
        )
    last = versions[-1]
    committed = (texts.get(last.blob, "") if last.blob else None, last.sha)
    if rev is None:
        problems += _uncommitted(repo_root, path, committed=committed, trusted_commit=trusted_commit)
    return TrustedSigners(trusted_text, "history", trusted_commit, tuple(problems))


def _refusal(
    repo_root: Path,
    version: _Version,
    *,
    trusted_text: str,
    orchestrator_email: str,
    environ: Mapping[str, str] | None,
    cache: bool,
    git_dir: Path | None,
) -> str | None:
    """Why a later change does not count, or None when it does."""
    if version.author_email != orchestrator_email:
        return f"authored by {version.author_email}, not by the orchestrator {orchestrator_email}"
    signature = verify(
        repo_root, [version.sha], trusted_text, environ=environ, cache=cache, git_dir=git_dir
    ).get(version.sha)
    verdict = decide(
        signed_roles=("orchestrator",),
        role="orchestrator",
        signature=signature,
        role_email=orchestrator_email,
    )
    if verdict == "counts":
        return None
    return explain(verdict, role="orchestrator", signature=signature, role_email=orchestrator_email)


def _history(repo_root: Path, path: str, environ: Mapping[str, str] | None, rev: str) -> list[_Version]:
    """Every first-parent commit of `rev` that changed `path`, oldest first, with its new blob."""
    proc = run_pinned(
        repo_root,
        [
            "-c",
            "log.follow=false",
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--reverse",
            "--no-renames",
            "--raw",
            "--no-abbrev",
            "--format=%x01%H%x00%ae",
            rev,
            "--",
            f":(literal){path}",
        ],
        environ=environ,
    )
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace")
        if any(words in said for words in ("does not have any commits", "unknown revision", "bad revision")):
            return []  # no commit yet
        last = said.strip().splitlines()[-1:] or [str(proc.returncode)]
        raise GitError(f"git log of {path} failed: {last[0]}")
    versions: list[_Version] = []
    for chunk in proc.stdout.decode("utf-8", "replace").split("\x01")[1:]:
        head, _, rest = chunk.partition("\n")
        sha, _, email = head.partition("\x00")
        blob: str | None = None
        for line in rest.splitlines():
            if not line.startswith(":"):
                continue
            fields = line.split("\t", 1)[0].lstrip(":").split()
            # <old mode> <new mode> <old blob> <new blob> <status>
            new_mode, new_blob, status = fields[1], fields[3], fields[4]
            if status != "D" and new_mode in _REGULAR and new_blob.strip("0"):
                blob = new_blob
        versions.append(_Version(sha, email, blob))
    return versions


def _blobs(repo_root: Path, blobs: list[str], environ: Mapping[str, str] | None) -> dict[str, str]:
    if not blobs:
        return {}
    wanted = list(dict.fromkeys(blobs))
    proc = run_pinned(
        repo_root,
        ["cat-file", "--batch"],
        environ=environ,
        stdin="".join(f"{b}\n" for b in wanted).encode("ascii"),
    )
    if proc.returncode != 0:
        raise GitError("git cat-file failed reading allowed_signers")
    out = proc.stdout
    texts: dict[str, str] = {}
    at = 0
    for blob in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].decode("ascii", "replace").split()
        at = end + 1
        if len(header) != 3 or header[1] != "blob":
            continue  # missing: the version counts as empty
        size = int(header[2])
        texts[blob] = out[at : at + size].decode("utf-8", "replace")
        at += size + 1
    return texts


def _uncommitted(
    repo_root: Path, path: str, *, committed: tuple[str | None, str] | None, trusted_commit: str | None
) -> list[TrustProblem]:
    """A work-tree allowed_signers that differs from the committed one is reported: it never counts."""
    try:
        work: str | None = (repo_root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        work = None
    except (OSError, UnicodeDecodeError):
        work = ""  # unreadable: differs from anything committed
    committed_text = committed[0] if committed else None
    if work == committed_text:
        return []
    using = f"the version of {trusted_commit[:12]}" if trusted_commit else "no allowed signers"
    what = "deleted" if work is None else "changed"
    return [
        TrustProblem(
            f"{path}: {what} in the work tree and not committed: it does not count; "
            f"loopkit goes on using {using}",
            path,
            None,
        )
    ]
