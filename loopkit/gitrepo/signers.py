"""The trust chains of the orchestrator's files: `allowed_signers` (SPEC section 10) and the
`[roles]`, `[rules]` and `[files]` of `loopkit.toml` (SPEC section 2). One chain, `follow`:

The first version committed on the first-parent history of HEAD is trusted as it stands. A later
change counts only when its commit is authored by the orchestrator's email and, where signing is
asked, signed by a key that the trusted allowed-signers text allows for that email
(`orchestrator_refusal`); otherwise it is a problem and the last trusted version goes on being
used. An uncommitted change never counts. What each file asks:
- allowed_signers: every change (a deletion included) is signed, by a key its previous trusted
  version allows; `LOOPKIT_ALLOWED_SIGNERS=FILE` replaces the file and its chain outright;
- loopkit.toml: a change counts only as far as it changes `[roles]`, `[rules]` or `[files]`
  (`config.guarded_differences`); it is authored by the orchestrator of the trusted version, and
  signed where that version signs any role. A file never committed is the work tree's own.

Cost: one `git log` for a file's history, one `git cat-file --batch` for its versions, and one
(cached) verification per later change; changes to these files are rare."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from loopkit.errors import BadInput, GitError
from loopkit.gitrepo import Memory
from loopkit.model.config import Config

FILE_NAME = "allowed_signers"
CONFIG_FILE = "loopkit.toml"
UNTRUSTED = "untrusted-signers"
UNTRUSTED_CONFIG = "untrusted-config"
_REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class TrustProblem:
    """`code`: "untrusted-signers" or "untrusted-config"; `commit` the refused change (None:
    uncommitted)."""

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
class Version:
    """One committed version of a file, and who wrote it."""

    sha: str
    author_email: str
    blob: str | None  # None: the change deleted the file (or made it something not a file)


@dataclass(frozen=True)
class Chain:
    """What `follow` found: the trusted text (None: a deletion) and its commit (None: the file was
    never committed), each refused change with why, and whether the work tree differs from HEAD's
    version (by `key`)."""

    text: str | None
    commit: str | None
    refused: tuple[tuple[Version, str | None, str], ...]  # (change, its text, why it does not count)
    uncommitted: bool
    differs: bool = False  # HEAD's version differs from the trusted one (by `key`)


# (version, the trusted text before it) -> why the change does not count, or None when it does
Refusal = Callable[[Version, "str | None"], "str | None"]


def follow(
    repo_root: Path,
    path: str,
    *,
    refusal: Refusal,
    work: str | None,
    key: Callable[[str | None], Hashable] = lambda text: text,
    environ: Mapping[str, str] | None = None,
    rev: str | None = None,
    memory: Memory | None = None,
) -> Chain:
    """The trust chain of the file at `path` (relative to `repo_root`): its first committed version
    on HEAD's first-parent history, then each later change that `refusal` accepts. A change that
    leaves `key` of the trusted text as it is changes nothing and is never refused; `work` (the
    work tree's text, None: absent) is compared with HEAD's version by `key` too. With `rev`, the
    chain of that commit's first-parent history instead of HEAD's (`verify`, SPEC 11)."""
    if rev is None:
        versions, texts = _versions(repo_root, path, environ, memory)
    else:
        versions = _history(repo_root, path, environ, rev)
        texts = _blobs(repo_root, [v.blob for v in versions if v.blob], environ)
    if not versions:
        return Chain(None, None, (), key(work) != key(None))
    first = versions[0]
    trusted = texts.get(first.blob, "") if first.blob else None
    trusted_commit = first.sha
    refused: list[tuple[Version, str | None, str]] = []
    for version in versions[1:]:
        text = texts.get(version.blob, "") if version.blob else None
        if key(text) == key(trusted):
            continue
        reason = refusal(version, trusted)
        if reason is None:
            trusted, trusted_commit = text, version.sha
        else:
            refused.append((version, text, reason))
    last = versions[-1]
    committed = texts.get(last.blob, "") if last.blob else None
    return Chain(
        trusted, trusted_commit, tuple(refused), key(work) != key(committed), key(committed) != key(trusted)
    )


def orchestrator_refusal(
    repo_root: Path,
    version: Version,
    *,
    orchestrator_email: str,
    signers_text: str | None,
    environ: Mapping[str, str] | None = None,
    memory: Memory | None = None,
) -> str | None:
    """Why a change to one of the orchestrator's files does not count, or None when it does: its
    commit must be authored by the orchestrator's email and, unless `signers_text` is None (no
    signature asked), signed by a key that text allows for that email."""
    if version.author_email != orchestrator_email:
        return f"authored by {version.author_email}, not by the orchestrator {orchestrator_email}"
    if signers_text is None:
        return None
    # imported here: every command reads the chain, few verify a change (signing's import ~5 ms)
    from loopkit.gitrepo.signing import verify
    from loopkit.signed import decide, explain

    signature = verify(repo_root, [version.sha], signers_text, environ=environ, memory=memory).get(
        version.sha
    )
    verdict = decide(
        signed_roles=("orchestrator",),
        role="orchestrator",
        signature=signature,
        role_email=orchestrator_email,
    )
    if verdict == "counts":
        return None
    return explain(verdict, role="orchestrator", signature=signature, role_email=orchestrator_email)


def signers_path(workspace: str) -> str:
    """The repository-relative path of a workspace's allowed_signers ("" is the root)."""
    return _in_workspace(workspace, FILE_NAME)


def config_path(workspace: str) -> str:
    """The repository-relative path of a workspace's loopkit.toml."""
    return _in_workspace(workspace, CONFIG_FILE)


def _in_workspace(workspace: str, name: str) -> str:
    return posixpath.join(workspace, name) if workspace not in ("", ".") else name


def trusted_signers(
    repo_root: Path,
    *,
    path: str,
    orchestrator_email: str,
    environ: Mapping[str, str] | None = None,
    memory: Memory | None = None,
    rev: str | None = None,
) -> TrustedSigners:
    """The trusted allowed-signers text of the file at `path` (relative to `repo_root`); with `rev`,
    the chain of that commit's first-parent history, the work tree left out (`verify`, SPEC 11)."""
    from loopkit.gitrepo.signing import resolve_environ

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

    def refusal(version: Version, trusted: str | None) -> str | None:
        return orchestrator_refusal(
            repo_root,
            version,
            orchestrator_email=orchestrator_email,
            signers_text=trusted or "",
            environ=environ,
            memory=memory,
        )

    work = _work_text(repo_root / path) if rev is None else None
    chain = follow(repo_root, path, refusal=refusal, work=work, environ=environ, rev=rev, memory=memory)
    trusted_commit = chain.commit
    problems = [
        TrustProblem(
            f"{path}: the {'deletion' if version.blob is None else 'change'} in {version.sha[:12]} "
            f"does not count ({reason}); loopkit goes on using the version of {(trusted_commit or '')[:12]}",
            path,
            version.sha,
        )
        for version, _, reason in chain.refused
    ]
    if chain.uncommitted and rev is None:
        using = f"the version of {trusted_commit[:12]}" if trusted_commit else "no allowed signers"
        what = "deleted" if not (repo_root / path).exists() else "changed"
        problems.append(
            TrustProblem(
                f"{path}: {what} in the work tree and not committed: it does not count; "
                f"loopkit goes on using {using}",
                path,
                None,
            )
        )
    if trusted_commit is None:
        return TrustedSigners("", "none", None, tuple(problems))
    return TrustedSigners(chain.text or "", "history", trusted_commit, tuple(problems))


def _work_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return "\0unreadable"  # differs from anything committed


@dataclass(frozen=True)
class TrustedConfig:
    """loopkit.toml as loopkit uses it: `[roles]`, `[rules]` and `[files]` of the trusted version,
    the rest of the work tree's; `commit` the trusted version's (None: never committed, the work
    tree's is used whole)."""

    config: Config
    commit: str | None
    problems: tuple[TrustProblem, ...] = ()


def trusted_config(
    repo_root: Path | None,
    *,
    workspace: str,
    work_data: bytes,
    where: str = CONFIG_FILE,
    environ: Mapping[str, str] | None = None,
    memory: Memory | None = None,
    rev: str | None = None,
) -> TrustedConfig:
    """The configuration every command reads (SPEC section 2). Exit 4 (BadInput) when the work
    tree's file, or the trusted version, cannot be read. With `rev`, the chain of that commit's
    first-parent history, `work_data` being that commit's file (`verify`, SPEC 11)."""
    from loopkit.config import config_from, guarded_fields, parse_toml

    work = config_from(parse_toml(work_data, where), where)
    work_text = work_data.decode("utf-8", "replace")
    if repo_root is None:
        return TrustedConfig(work, None)
    path = config_path(workspace)
    rules = _ConfigRules(repo_root, workspace, where, environ, memory, rev, {work_text: work})
    chain = follow(
        repo_root,
        path,
        refusal=rules.refusal,
        work=work_text,
        key=rules.key,
        environ=environ,
        rev=rev,
        memory=memory,
    )
    if chain.commit is None:  # never committed: the work tree's, whole (docs/decisions.md)
        return TrustedConfig(work, None)
    if chain.text is None:
        base = Config()  # the orchestrator deleted it: the defaults
    else:  # strictly: exit 4 naming the commit when the trusted version cannot be read
        label = f"{where} (as {chain.commit[:12]} has it)"
        base = config_from(parse_toml(chain.text.encode("utf-8"), label), label)
    problems = _config_problems(path, chain, base, work, rules.parsed)
    return TrustedConfig(replace(work, **guarded_fields(base)), chain.commit, problems)


@dataclass
class _ConfigRules:
    """What `follow` asks of loopkit.toml's versions: each text parsed once (None: unreadable),
    the key its guarded fields give, and whether the orchestrator the trusted version names
    made a change (signed, where that version signs)."""

    repo_root: Path
    workspace: str
    where: str
    environ: Mapping[str, str] | None
    memory: Memory | None
    rev: str | None
    seen: dict[str, Config | None]
    signers: dict[str, str] = field(default_factory=dict)  # orchestrator email -> trusted text

    def parsed(self, text: str | None) -> Config | None:
        from loopkit.config import config_from, parse_toml

        if text is None:
            return None
        if text not in self.seen:
            try:
                self.seen[text] = config_from(parse_toml(text.encode("utf-8"), self.where), self.where)
            except BadInput:
                self.seen[text] = None
        return self.seen[text]

    def key(self, text: str | None) -> Hashable:
        from loopkit.config import guarded

        config = self.parsed(text)
        return ("unreadable", text) if config is None else guarded(config)

    def signers_text(self, orchestrator_email: str) -> str:
        if orchestrator_email not in self.signers:
            self.signers[orchestrator_email] = trusted_signers(
                self.repo_root,
                path=signers_path(self.workspace),
                orchestrator_email=orchestrator_email,
                environ=self.environ,
                memory=self.memory,
                rev=self.rev,
            ).text
        return self.signers[orchestrator_email]

    def refusal(self, version: Version, trusted: str | None) -> str | None:
        rules = self.parsed(trusted) or Config()
        email = rules.identities["orchestrator"].email
        return orchestrator_refusal(
            self.repo_root,
            version,
            orchestrator_email=email,
            signers_text=self.signers_text(email) if rules.signed else None,
            environ=self.environ,
            memory=self.memory,
        )


def _config_problems(
    path: str, chain: Chain, base: Config, work: Config, parsed: Callable[[str | None], Config | None]
) -> tuple[TrustProblem, ...]:
    """loopkit.toml's changes that do not count: each refused one while HEAD's version still
    differs from the trusted one (a refused change undone since changes nothing), and the work
    tree's guarded fields that differ from the trusted version's."""
    from loopkit.config import guarded_differences

    at = (chain.commit or "")[:12]
    problems = []
    for version, text, reason in chain.refused if chain.differs else ():
        keys = guarded_differences(base, parsed(text) or Config()) if text is not None else ["the whole file"]
        problems.append(
            TrustProblem(
                f"{path}: the change of {_few(keys)} in {version.sha[:12]} does not count ({reason}); "
                f"loopkit goes on using them as {at} has them",
                path,
                version.sha,
                UNTRUSTED_CONFIG,
            )
        )
    if chain.uncommitted and (keys := guarded_differences(base, work)):
        problems.append(
            TrustProblem(
                f"{path}: {_few(keys)} changed in the work tree and not committed by the orchestrator: "
                f"it does not count; loopkit goes on using them as {at} has them",
                path,
                None,
                UNTRUSTED_CONFIG,
            )
        )
    return tuple(problems)


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")


def _versions(
    repo_root: Path, path: str, environ: Mapping[str, str] | None, memory: Memory | None
) -> tuple[list[Version], dict[str, str]]:
    """`_history` and the versions' texts, remembered in the index (kind `trust`) under HEAD and
    carried over while HEAD moves by single-parent commits that do not touch `path`: every
    command reads loopkit.toml's chain, and a walk of a long history costs ~0.1 s. Without
    `memory` (LOOPKIT_NO_CACHE=1) it is read from git."""
    from loopkit.gitrepo.committer import current_head

    head = current_head(repo_root) if memory is not None else None

    def whole(_: str) -> dict[str, Any]:
        versions = _history(repo_root, path, environ)
        texts = _blobs(repo_root, [v.blob for v in versions if v.blob], environ)
        return {"versions": [[v.sha, v.author_email, v.blob] for v in versions], "texts": texts}

    def newer(old: dict[str, Any], _: str, chain: list[tuple[str, set[str]]]) -> dict[str, Any]:
        return whole(head or "") if any(path in paths for _, paths in chain) else old

    if memory is not None and head is not None:
        kept = _stored(memory.carried("trust", path, head, whole, newer))
        memory.save()
        if kept is not None:
            return kept
    found = _stored(whole(""))
    assert found is not None
    return found


def _stored(entry: Any) -> tuple[list[Version], dict[str, str]] | None:
    """A cache entry's versions and texts; None for anything not as `_versions` writes it."""
    if not isinstance(entry, dict):
        return None
    try:
        versions = [
            Version(str(sha), str(email), None if blob is None else str(blob))
            for sha, email, blob in entry["versions"]
        ]
        texts = {str(k): str(v) for k, v in dict(entry["texts"]).items()}
    except (KeyError, TypeError, ValueError):
        return None
    return versions, texts


def _history(
    repo_root: Path, path: str, environ: Mapping[str, str] | None, rev: str = "HEAD"
) -> list[Version]:
    """Every first-parent commit of `rev` that changed `path`, oldest first, with its new blob."""
    from loopkit.gitrepo.signing import run_pinned

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
    versions: list[Version] = []
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
        versions.append(Version(sha, email, blob))
    return versions


def _blobs(repo_root: Path, blobs: list[str], environ: Mapping[str, str] | None) -> dict[str, str]:
    if not blobs:
        return {}
    wanted = list(dict.fromkeys(blobs))
    from loopkit.gitrepo.signing import run_pinned

    proc = run_pinned(
        repo_root,
        ["cat-file", "--batch"],
        environ=environ,
        stdin="".join(f"{b}\n" for b in wanted).encode("ascii"),
    )
    if proc.returncode != 0:
        raise GitError("git cat-file failed reading the versions of a trusted file")
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
