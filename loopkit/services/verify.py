"""verify and the pre-receive hook (SPEC section 11): the commits of a push judged by the rules the
commands obey, so a hand-typed `## DONE` or PASS is refused at the shared remote.

One `git log -p` through the range (gitrepo/push.py) gives, per commit, the lines it adds to and
removes from the books; each added record line is asked the one provenance rule where it lives
(state.provenance, signatures included; state.is_genuine_evidence), each DONE the DONE gate
on its parent's books (services/commit_gate.py → state.done_gate), each removal
state.removed_records, each added line the one redaction function. Hand-written text outside
records is never judged. Returns data; never prints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopkit.config import parse_toml
from loopkit.errors import BadInput, UsageError
from loopkit.gitrepo import push
from loopkit.gitrepo.runner import ZERO
from loopkit.markdown import comment
from loopkit.markdown.evidence import record_from
from loopkit.markdown.status import parse_status
from loopkit.model.config import Config
from loopkit.model.git import Origin
from loopkit.model.status import StatusDoc, StatusRecord
from loopkit.redact import Redactor
from loopkit.services.commit_gate import CommitBooks, done_gate_at
from loopkit.signed import Signature
from loopkit.state import RECORD_WRITER, is_genuine_evidence, provenance, record_shas, removed_records
from loopkit.trust import trusted_spec
from loopkit.workspace import Workspace

_EMPTY = parse_status("")


@dataclass(frozen=True)
class Violation:
    """One dishonest change to the books; `to_json` gives SPEC 11's shape."""

    code: str
    commit: str
    message: str
    phase: str | None = None
    milestone: str | None = None
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "commit": self.commit,
            "phase": self.phase,
            "milestone": self.milestone,
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }


# -- entry points ---------------------------------------------------------------------------------
def verify(root: Path, range_text: str | None, *, environ: Mapping[str, str]) -> dict[str, Any]:
    """`loopkit verify [OLD..NEW]`: SPEC 11's document (ok, range, commits, violations)."""
    root = push.toplevel(root)
    if range_text is None:
        old, new = push.default_range(root)
    else:
        old_text, dots, new_text = range_text.partition("..")
        if not dots or not new_text or new_text.startswith("."):
            raise UsageError(f"verify: the range must be OLD..NEW, not {range_text!r}")
        new_sha = _commit(root, new_text) if not push.is_zero(new_text) else ZERO
        old = None if not old_text or push.is_zero(old_text) else _commit(root, old_text)
        new = new_sha
    found, counted = judge_update(root, old, new, environ=environ)
    shown = f"{old or ZERO}..{new}"
    return {"ok": not found, "range": shown, "commits": counted, "violations": [v.to_json() for v in found]}


def pre_receive(root: Path, stdin: str, *, environ: Mapping[str, str]) -> list[tuple[str, Violation]]:
    """git's pre-receive protocol: each `<old> <new> <ref>` line, (ref, violation) for each problem."""
    root = push.toplevel(root)
    found: list[tuple[str, Violation]] = []
    for raw in stdin.splitlines():
        parts = raw.split()
        if len(parts) != 3:
            continue
        old, new, ref = parts
        if not ref.startswith("refs/heads/"):
            continue
        violations, _ = judge_update(root, None if push.is_zero(old) else old, new, environ=environ, ref=ref)
        found += [(ref, v) for v in violations]
    return found


def _commit(root: Path, rev: str) -> str:
    sha = push.resolve(root, rev)
    if sha is None:
        raise UsageError(f"verify: {rev!r} names no commit")
    return sha


def judge_update(
    root: Path, old: str | None, new: str, *, environ: Mapping[str, str], ref: str | None = None
) -> tuple[list[Violation], int]:
    """The violations of one update (a deleted branch passes; a new one is judged from its merge
    base with the default branch, whole without one), and how many commits it brings."""
    if push.is_zero(new):
        return [], 0
    if old is None:
        old = push.base_of_new_branch(root, new, ref)
    counted = push.count(root, old, new)
    found: list[Violation] = []
    # the shallowest loopkit.toml is the workspace; one the push deletes is still judged
    rels = push.workspaces(root, new) or (push.workspaces(root, old) if old else [])
    for rel in rels[:1]:
        found += _Judge(root, rel, old, new, environ).run()
    return found, counted


# -- one workspace ---------------------------------------------------------------------------------
@dataclass
class _Judge:
    root: Path
    rel: str
    old: str | None
    new: str
    environ: Mapping[str, str]
    found: list[Violation] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    config_data: dict[str, Any] | None = None
    claim_ids: dict[str, set[str]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    _sigs: dict[str, Signature | None] = field(default_factory=dict)
    _signers: str | None = None
    opened: set[str] = field(default_factory=set)
    _base_opened: set[str] | None = None
    _tip_archive: set[str] | None = None
    _config_refusals: dict[str, str] | None = None

    @property
    def ws(self) -> Workspace:
        return Workspace(self.root / self.rel if self.rel else self.root, self.root, self.config)

    def repo_path(self, rel: str) -> str:
        return f"{self.rel}/{rel}" if self.rel else rel

    def inner(self, path: str) -> str | None:
        """A repository path relative to the workspace folder; None outside it."""
        if not self.rel:
            return path
        return path[len(self.rel) + 1 :] if path.startswith(self.rel + "/") else None

    # -- the walk --------------------------------------------------------------------------------
    def run(self) -> list[Violation]:
        base = self.old
        config_path = self.repo_path(push.CONFIG_NAME)
        if base is not None:
            data = push.blobs(self.root, [f"{base}:{config_path}"])[f"{base}:{config_path}"]
            if self._read_config(data) and data is not None:
                self._trust_base(data, base)
        else:
            self.config_data = None
        commits = push.walk(self.root, base, self.new, self._pathspec())
        self._prime(commits)
        self.redactor = Redactor(environ=self.environ, extra_patterns=self.config.redact_patterns)
        for commit in commits:
            for path, change in commit.files.items():
                inner = self.inner(path)
                if inner is not None:
                    self._file(commit, inner, change)
        self._removed(commits)
        self._signers_chain(commits)
        return self.found

    def _pathspec(self) -> list[str]:
        if self.rel:
            return [f":(literal){self.rel}"]
        return [":(glob)*", ":(glob)phases/**", f":(literal){self.config.archive}", *self._status_folders()]

    def _status_folders(self) -> list[str]:
        folders = {
            p.split("{", 1)[0].rsplit("/", 1)[0] for p in [self.config.status, *self.config.journals.values()]
        }
        return [f":(literal){f}" for f in folders if f and "{" not in f]

    def _prime(self, commits: list[push.PushCommit]) -> None:
        """What the base holds: claim ids of each STATUS touched, pending message ids; and the
        blobs every judged commit needs, all read in one `cat-file --batch`."""
        statuses = {p for c in commits for p in c.files if self._kind(p)[0] == "status"}
        inboxes = [self.repo_path(self.ws.shown(self.ws.inbox_file(r))) for r in self.config.identities]
        specs: list[str] = []
        if self.old is not None:
            specs = [f"{self.old}:{p}" for p in [*statuses, *inboxes]]
        for commit in commits:
            for path, change in commit.files.items():
                kind = self._kind(path)[0]
                if (kind == "status" and any(_record_line(t) for _, t in change.added)) or kind == "config":
                    specs.append(f"{commit.sha}:{path}")
        self.blobs = push.blobs(self.root, specs)
        for path in statuses:
            doc = self._doc(self.old, path) if self.old else _EMPTY
            self.claim_ids[path] = {r.id for r in doc.records if r.kind == "CLAIM" and r.id}
        for path in inboxes:
            data = self.blobs.get(f"{self.old}:{path}") if self.old else None
            self.pending |= _message_ids((data or b"").decode("utf-8", "replace").split("\n"))

    def _doc(self, commit: str | None, path: str) -> StatusDoc:
        data = self.blobs.get(f"{commit}:{path}") if commit else None
        return parse_status(data.decode("utf-8", "replace")) if data is not None else _EMPTY

    def _kind(self, path: str) -> tuple[str, str | None, str | None]:
        """(kind, phase, role) of a repository path: status, journal, inbox, archive, spec,
        config, signers, or other."""
        inner = self.inner(path)
        if inner is None:
            return "other", None, None
        config = self.config
        if inner == push.CONFIG_NAME:
            return "config", None, None
        if inner == "allowed_signers":
            return "signers", None, None
        if match := re.fullmatch(r"phases/(?P<phase>[^/]+)\.toml", inner):
            return "spec", match["phase"], None
        if match := _pattern(config.status, "phase").fullmatch(inner):
            return "status", match["phase"], None
        for role, pattern in config.journals.items():
            if match := _pattern(pattern, "phase").fullmatch(inner):
                return "journal", match["phase"], role
        for role in config.identities:
            if inner == self.ws.shown(self.ws.inbox_file(role)):
                return "inbox", None, role
        if inner.startswith(config.archive.rstrip("/") + "/"):
            return "archive", None, None
        return "other", None, None

    def _add(self, code: str, commit: str, message: str, **where: Any) -> None:
        self.found.append(Violation(code, commit, message, **where))

    def _file(self, commit: push.PushCommit, inner: str, change: push.FileChange) -> None:
        path = change.path
        for number, text in change.added:
            if self.redactor.redact(text) != text:
                shown = self.redactor.redact(text).strip()[:100]
                self._add("secret", commit.sha, f"adds a secret: {shown}", file=inner, line=number)
        kind, phase, role = self._kind(path)
        if kind == "status" and phase is not None:
            self._status(commit, path, inner, phase, change)
        elif kind == "journal" and phase is not None and role is not None:
            self._journal(commit, path, inner, phase, role, change)
        elif kind in ("inbox", "archive"):
            self._messages(commit, inner, kind, change)
        elif kind == "spec" and phase is not None:
            self._spec(commit, inner, phase)
        elif kind == "config":
            self._config(commit, inner)

    # -- STATUS records ----------------------------------------------------------------------
    def _status(
        self, commit: push.PushCommit, path: str, inner: str, phase: str, change: push.FileChange
    ) -> None:
        numbers = [n for n, text in change.added if _record_line(text)]
        if not numbers:
            return
        doc = self._doc(commit.sha, path)
        by_line: dict[int, StatusRecord] = {r.line: r for r in doc.records}
        if doc.done is not None:
            by_line[doc.done.line] = doc.done
        origin = commit.origin
        ids = self.claim_ids.setdefault(path, set())
        for number in numbers:
            record = by_line.get(number)
            if record is None:
                continue  # a record-like line where no record stands (quoted, in a fence): prose
            where = {"phase": phase, "milestone": record.milestone, "file": inner, "line": number}
            # the one provenance rule (state.provenance), signatures included, as the gates ask it
            problem = provenance(record, origin, self.config, self._signatures(origin), phase=phase)
            if problem is not None and problem[0].startswith("forged-"):
                self._add(
                    problem[0],
                    commit.sha,
                    f"{record.kind} was committed by {origin.author.email} without "
                    f"`loopkit {RECORD_WRITER[record.kind][1]}`",
                    **where,
                )
            elif problem is not None:
                self._add(problem[0], commit.sha, f"{record.kind} counts as none: {problem[1]}", **where)
            elif record.kind == "CLAIM" and record.id and record.id in ids:
                self._add(
                    "duplicate-claim",
                    commit.sha,
                    f"claim id {record.id} was used by an earlier claim",
                    **where,
                )
            elif record.kind == "DONE":
                self._done(commit, phase, where)
            if record.kind == "CLAIM" and record.id and problem is None:
                ids.add(record.id)  # as milestone_views: only a genuine claim uses up its id

    def _done(self, commit: push.PushCommit, phase: str, where: dict[str, Any]) -> None:
        if not commit.parents:
            self._add(
                "done-without-gate", commit.sha, "## DONE in a root commit: no books to gate it", **where
            )
            return
        books = CommitBooks(self.root, self.ws, self.config)
        unmet = done_gate_at(
            books, parent=commit.parents[0], commit=commit.sha, phase=phase, verify=self._verify_many
        )
        if unmet:
            listed = "; ".join(f"{i.code}: {i.message}" for i in unmet)
            self._add("done-without-gate", commit.sha, f"the DONE gate did not hold: {listed}"[:600], **where)

    # -- evidence --------------------------------------------------------------------------------
    def _journal(
        self, commit: push.PushCommit, path: str, inner: str, phase: str, role: str, change: push.FileChange
    ) -> None:
        suspects = []
        for number, text in change.added:
            data = comment.decode("probe", text)
            record = record_from(data, number) if data is not None else None
            if record is not None and not is_genuine_evidence(record, commit.origin, self.config, role):
                suspects.append(record)
        if not suspects:
            return
        from loopkit.markdown.journal import parse_journal

        raw = push.blobs(self.root, [f"{commit.sha}:{path}"])[f"{commit.sha}:{path}"] or b""
        standing = {r.line for r in parse_journal(raw.decode("utf-8", "replace")).probe_records}
        for record in suspects:
            if record.line in standing:
                self._add(
                    "forged-evidence",
                    commit.sha,
                    f"{record.milestone} {record.probe} record was added by {commit.origin.author.email}, "
                    "not by loopkit's evidence commit for it",
                    phase=phase,
                    milestone=record.milestone,
                    file=inner,
                    line=record.line,
                )

    # -- inbox and archive -----------------------------------------------------------------------
    def _messages(self, commit: push.PushCommit, inner: str, kind: str, change: push.FileChange) -> None:
        added = _message_ids(t for _, t in change.added)
        if kind == "inbox":
            self.pending |= added
            for gone in sorted(_message_ids(change.removed) - added):
                if gone in self.archived or gone in self._archived_at_tip():
                    continue
                self._add(
                    "lost-message", commit.sha, f"message {gone} left {inner} without its archive", file=inner
                )
            return
        for message in sorted(added):
            self.archived.add(message)
            if message not in self.pending:
                self._add(
                    "lost-message", commit.sha, f"message {message} archived but never pending", file=inner
                )

    def _archived_at_tip(self) -> set[str]:
        """Every message id the pushed tip's archive holds (archives are never deleted), one read."""
        if self._tip_archive is None:
            folder = self.repo_path(self.config.archive.rstrip("/"))
            lines = push.grep_lines(self.root, self.new, folder, "<!-- loopkit:message ")
            self._tip_archive = _message_ids(lines)
        return self._tip_archive

    # -- spec, config, signers -------------------------------------------------------------------
    def _spec(self, commit: push.PushCommit, inner: str, phase: str) -> None:
        origin = commit.origin
        config = self.config
        signs = any(role in config.signed for role in config.open_phase)
        sigs = self._signatures(origin) if signs else None
        if not commit.is_merge and trusted_spec([origin], phase, config, sigs) is not None:
            self.opened.add(phase)
            return
        if phase in self._opened_at_base():  # before the phase is opened, a spec is a draft (SPEC 3)
            self._add(
                "untrusted-spec",
                commit.sha,
                f"{inner} changed by {origin.author.email}, not by the orchestrator's `loopkit phase update`",
                phase=phase,
                file=inner,
            )

    def _opened_at_base(self) -> set[str]:
        """Phases whose spec the orchestrator had committed at the base, and those opened since."""
        if self._base_opened is None:
            self._base_opened = set()
            if self.old is not None:
                commits = push.spec_commits(self.root, self.old)
                phases = {o.trailers.get("Loopkit-Phase", "") for o in commits}
                signs = any(role in self.config.signed for role in self.config.open_phase)
                for phase in phases:
                    sigs = self._verify_many([o.sha for o in commits]) if signs else None
                    if trusted_spec(commits, phase, self.config, sigs) is not None:
                        self._base_opened.add(phase)
        return self._base_opened | self.opened

    def _read_config(self, data: bytes | None) -> bool:
        """Take this loopkit.toml as the trusted one; False when it cannot be read."""
        from loopkit.config import config_from

        if data is None:
            return False
        try:
            parsed = parse_toml(data, push.CONFIG_NAME)
            self.config = config_from(parsed, push.CONFIG_NAME)
        except BadInput:
            return False
        self.config_data = parsed
        return True

    def _config(self, commit: push.PushCommit, inner: str) -> None:
        """SPEC 2: [roles], [rules] and [files] change only by the orchestrator of the trusted
        version (signed, where that version signs any role); the first version is trusted. The
        decision is loopkit.toml's one trust chain (gitrepo/signers.trusted_config), asked once
        for the pushed tip; a change it accepts becomes the config the rest of the push is judged by."""
        data = self.blobs.get(f"{commit.sha}:{self.repo_path(push.CONFIG_NAME)}")
        if self.config_data is None:
            self._read_config(data)
            return
        refused = self._refused_config().get(commit.sha)
        if refused is None:
            self._read_config(data)
            return
        self._add("untrusted-config", commit.sha, refused, file=inner)

    def _trust_base(self, data: bytes, base: str) -> None:
        """The base's [roles], [rules] and [files] as its trust chain has them (a change that
        reached the branch before the hook did still does not count)."""
        import contextlib

        from loopkit.gitrepo.signers import trusted_config

        with contextlib.suppress(BadInput):  # unreadable: the base's own text stands, as read
            self.config = trusted_config(
                self.root,
                workspace=self.rel,
                work_data=data,
                where=push.CONFIG_NAME,
                environ=self.environ,
                rev=base,
            ).config

    def _refused_config(self) -> dict[str, str]:
        """commit -> the trust chain's message, for each change of loopkit.toml it refuses."""
        if self._config_refusals is None:
            from loopkit.gitrepo.signers import trusted_config

            path = self.repo_path(push.CONFIG_NAME)
            data = push.blobs(self.root, [f"{self.new}:{path}"]).get(f"{self.new}:{path}")
            self._config_refusals = {}
            if data is not None:
                try:
                    found = trusted_config(
                        self.root,
                        workspace=self.rel,
                        work_data=data,
                        where=push.CONFIG_NAME,
                        environ=self.environ,
                        rev=self.new,
                    )
                except BadInput as exc:
                    self._config_refusals = {self.new: str(exc)}
                else:
                    self._config_refusals = {p.commit: p.message for p in found.problems if p.commit}
        return self._config_refusals

    def _signers_chain(self, commits: list[push.PushCommit]) -> None:
        """allowed_signers' trust chain (gitrepo/signers.py) along the pushed branch: each refused
        change made by a commit of this push."""
        if not any(self._kind(p)[0] == "signers" for c in commits for p in c.files):
            return
        ours = {c.sha for c in commits}
        for problem in self._trusted().problems:
            if problem.commit in ours:
                self._add("untrusted-signers", problem.commit, problem.message, file="allowed_signers")

    def _trusted(self) -> Any:
        from loopkit.gitrepo.signers import signers_path, trusted_signers

        return trusted_signers(
            self.root,
            path=signers_path(self.rel),
            orchestrator_email=self.config.identities["orchestrator"].email,
            environ=self.environ,
            rev=self.new,
        )

    # -- removed records -------------------------------------------------------------------------
    def _removed(self, commits: list[push.PushCommit]) -> None:
        """A genuine record the base's books did not miss and the pushed tip's do (removed_records).

        Judged on the tip, not commit by commit: a merge that takes one side's STATUS whole shows
        no line in its combined diff, yet drops the other side's records."""
        touched: dict[str, list[push.PushCommit]] = {}
        for commit in commits:
            for path, change in commit.files.items():
                if self._kind(path)[0] == "status" and (change.removed or commit.is_merge):
                    touched.setdefault(path, []).append(commit)
        merges = [c for c in commits if c.is_merge]
        if merges or self.old is not None:  # a merge, or a forced push, may drop lines no diff shows
            every = (
                push.changed_between(self.root, self.old, self.new, self._pathspec())
                if self.old is not None
                else [p for c in commits for p in c.files]
            )
            for path in every:
                if self._kind(path)[0] == "status":
                    touched.setdefault(path, [])
        if not touched:
            return
        paths = sorted(touched)
        ends = [f"{self.new}:{p}" for p in paths] + ([f"{self.old}:{p}" for p in paths] if self.old else [])
        self.blobs.update(push.blobs(self.root, [s for s in ends if s not in self.blobs]))
        written_new = push.record_lines_at(self.root, self.new, paths)
        written_old = push.record_lines_at(self.root, self.old, paths) if self.old else {}
        for path in paths:
            phase = self._kind(path)[1] or ""
            # what the base's history wrote counts too: a forced push cannot unwrite a record
            written = written_new[path] + written_old.get(path, [])
            # the one provenance rule, signatures included: a removed forgery is never removed-record
            sigs = self._verify_many(record_shas(written, self.config))
            gone = removed_records(written, self._doc(self.new, path), phase, self.config, sigs)
            before = set(
                removed_records(
                    written_old.get(path, []), self._doc(self.old, path), phase, self.config, sigs
                )
            )
            for text in gone:
                if text in before:
                    continue
                by = next(
                    (
                        c
                        for c in reversed(touched[path])
                        if path in c.files and any(t.rstrip("\r")[2:] == text for t in c.files[path].removed)
                    ),
                    (touched[path] or merges or commits)[-1],
                )
                self._add(
                    "removed-record",
                    by.sha,
                    f"removes a record loopkit wrote: {text[:120]}",
                    phase=phase,
                    file=self.inner(path),
                )

    # -- signatures ------------------------------------------------------------------------------
    def _signatures(self, origin: Origin, *, force: bool = False) -> Mapping[str, Signature] | None:
        if not self.config.signed and not force:
            return None
        return self._verify_many([origin.sha]) or {}

    def _verify_many(self, shas: list[str]) -> Mapping[str, Signature] | None:
        """The pinned verifier's answer for these commits, with the allowed_signers trusted at the
        pushed tip (never the server's cache: the hook writes nothing)."""
        if not self.config.signed:
            return None
        todo = [s for s in dict.fromkeys(shas) if s not in self._sigs]
        if todo:
            from loopkit.gitrepo.signing import verify

            if self._signers is None:
                self._signers = self._trusted().text
            found = verify(self.root, todo, self._signers or "", environ=self.environ)
            for sha in todo:
                self._sigs[sha] = found.get(sha)
        return {s: sig for s in shas if (sig := self._sigs.get(s)) is not None}


def _pattern(pattern: str, name: str) -> re.Pattern[str]:
    regex = re.escape(pattern).replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
    return re.compile(regex)


_RECORD_WORD = re.compile(r"\*\*(?:CLAIM|PASS|FAIL|DONE)\*\*")


def _record_line(text: str) -> bool:
    """A line that may be a record (any list marker, any indent): the parsed STATUS decides."""
    return _RECORD_WORD.search(text) is not None


def _message_ids(lines: Any) -> set[str]:
    found = set()
    for text in lines:
        data = comment.decode("message", text)
        if data is not None and isinstance(data.get("id"), str):
            found.add(data["id"])
    return found
