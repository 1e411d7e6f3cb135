"""probe exec, probe run, evidence: commands run by loopkit, their observations recorded as
evidence in the role's journal, and the latest record of each required probe read back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from loopkit import names, timefmt
from loopkit.documents.probes import EvidenceDocument, MilestoneEvidence, ProbeRun, RecordWritten
from loopkit.errors import BadInput, Refused, UsageError
from loopkit.markdown import evidence as ev
from loopkit.model.config import ProbeSpec
from loopkit.model.journal import ProbeRecord
from loopkit.render import oneline, render
from loopkit.services.context import Context
from loopkit.services.journals import append_entry, journal_path, require_phase
from loopkit.trust import Issue
from loopkit.txn import Plan

OBSERVED_LIMIT = 2000
_NEEDS_QUOTES = re.compile(r"[\s'\"\\$`;&|<>()*?\[\]#~!]")


def command_line(argv: list[str]) -> str:
    """The argv as one line a person can paste into a shell, quoting only where the shell needs it:
    `curl -s -w %{http_code} http://…` reads as typed, `sh -c 'a; b'` keeps its boundaries."""
    return _quoted(argv)[0]


def _quoted(argv: list[str]) -> tuple[str, list[tuple[str, list[int]]]]:
    """command_line, and where each character of each argument landed in it (Redactor.redact_pieces):
    quoted as shlex.quote does, `'…'` with `'"'"'` for each `'` inside."""
    parts: list[str] = []
    pieces: list[tuple[str, list[int]]] = []
    pos = 0
    for arg in argv:
        if arg and not _NEEDS_QUOTES.search(arg):
            part, where = arg, list(range(pos, pos + len(arg) + 1))
        else:
            part = "'" + arg.replace("'", "'\"'\"'") + "'"
            where = [pos + 1]
            for char in arg:
                where.append(where[-1] + (5 if char == "'" else 1))
        parts.append(part)
        pieces.append((arg, where))
        pos += len(part) + 1
    return " ".join(parts), pieces


def redacted_command(ctx: Context, argv: list[str]) -> str:
    """The command as the record writes it, redacted as written (a key block given as several
    arguments, `curl -u user:pass`) and argument by argument (a secret holding `'`, which quoting
    splits apart)."""
    return ctx.redactor.redact_pieces(*_quoted(argv))


def _record(
    ctx: Context,
    *,
    phase: str,
    milestone: str,
    spec: ProbeSpec,
    argv: list[str] | None,
    scope: tuple[str, ...] = (),
) -> ProbeRecord:
    """Run one probe and turn what was seen into a redacted record (`scope`: its milestone's)."""
    ws = ctx.workspace
    head, code, dirty_paths = _code_at(ctx, milestone, scope)
    from loopkit import probe

    timeout = spec.timeout or ws.config.probe_timeout
    started = ctx.now if ctx.environ.get("LOOPKIT_NOW") else timefmt.now(None)
    outcome = probe.run(
        argv=argv,
        shell=None if argv is not None else spec.run,
        observe=spec.observe,
        expect=spec.expect,
        expect_not=spec.expect_not,
        expect_exit=spec.expect_exit,
        timeout=timeout,
        cwd=ws.repo_root or ws.root,
        env=dict(ctx.environ),
        redact=ctx.redactor.redact,
    )
    observed = outcome.observed
    if len(observed) > OBSERVED_LIMIT:
        # judged on the whole observation; the record keeps a bounded, marked head of it
        observed = observed[:OBSERVED_LIMIT] + f"…[{len(observed) - OBSERVED_LIMIT} more characters]"
    record = ProbeRecord(
        phase=phase,
        milestone=milestone,
        probe=spec.id,
        title=oneline(spec.title),
        command=redacted_command(ctx, argv) if argv is not None else spec.run,
        observe=spec.observe,
        observed=observed,
        exit=outcome.exit,
        expect=tuple(spec.expect),
        expect_not=tuple(spec.expect_not),
        expect_exit=spec.expect_exit,
        result=outcome.result,
        duration=outcome.duration,
        at=timefmt.iso(started),
        head=head,
        dirty=bool(dirty_paths),
        dirty_paths=dirty_paths,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        stdout_bytes=outcome.stdout_bytes,
        stderr_bytes=outcome.stderr_bytes,
        code=code,
    )
    return _redacted(ctx, record)


def _code_at(
    ctx: Context, milestone: str, scope: tuple[str, ...]
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """The code a probe runs on: HEAD, its code id, and the uncommitted paths outside the books
    (warned of once when some are in the milestone's scope: such evidence is dirty)."""
    from loopkit.scope import few, in_scope

    repo = ctx.repo
    ws = ctx.workspace
    head = repo.head
    code = repo.code_of(head, rel=ws.rel, owned=ws.owns_top_level)
    dirty_paths = tuple(p for p in repo.dirty if not ws.is_inside(p))
    if ctx.no_commit:  # HEAD stays: the next probe here reads the spec commits and code id back
        repo.save_cache()  # (after a commit they would name a HEAD gone, and cost a history walk)
    hits = in_scope(dirty_paths, scope)
    if hits and not ctx.cache.get("warned-dirty"):
        ctx.cache["warned-dirty"] = True
        ctx.warn(
            f"uncommitted changes in {milestone}'s scope ({few(hits)}): this evidence is recorded "
            "as dirty and no claim can use it; commit your changes, then run the probe again"
        )
    return head, code, dirty_paths


def _redacted(ctx: Context, record: ProbeRecord) -> ProbeRecord:
    from dataclasses import fields, replace

    redact = ctx.redactor.redact
    changes: dict[str, Any] = {
        f.name: redact(getattr(record, f.name))
        for f in fields(record)
        if isinstance(getattr(record, f.name), str)
    }
    changes["expect"] = tuple(redact(v) for v in record.expect)
    changes["expect_not"] = tuple(redact(v) for v in record.expect_not)
    changes["dirty_paths"] = tuple(redact(v) for v in record.dirty_paths)
    return replace(record, **changes)


def render_evidence(record: ProbeRecord, *, workspace: Path | None = None) -> str:
    """The journal entry for one record: a heading, the record as JSON, the block people read."""
    from loopkit.services.journals import heading_safe

    lines = ev.display_lines(record)
    moment = timefmt.parse_iso(record.at)
    return render(
        "journal-evidence.md.j2",
        workspace=workspace,
        at=timefmt.heading(moment) if moment else record.at,
        record=record,
        title=heading_safe(oneline(record.title)),
        comment=ev.encode_comment(record),
        fence=ev.fence_for(lines),
        lines=lines,
    )


def evidence_block(ctx: Context, record: ProbeRecord) -> str:
    block = render_evidence(record, workspace=ctx.workspace.root)
    ctx.redactor.check(block)
    return block


def _write(ctx: Context, record: ProbeRecord, role: str) -> tuple[ProbeRecord, str | None]:
    """Append the record's entry to the role's journal and commit it as its own evidence commit."""
    written, sha = _write_all(ctx, [record], role)
    return written[0], sha


def _write_all(ctx: Context, records: list[ProbeRecord], role: str) -> tuple[list[ProbeRecord], str | None]:
    """One journal entry per record, all in one evidence commit (a `probe run` costs one commit).

    The commit names every record it adds: `Loopkit-Milestone`, `Loopkit-Probe` and
    `Loopkit-Result` once per record, in the records' order, so each counts for the gate."""
    from dataclasses import replace

    blocks = [evidence_block(ctx, record) for record in records]
    phase = records[0].phase

    def plan() -> Plan:
        text: str | None = None
        path: Path | None = None
        written = []
        for record, block in zip(records, blocks, strict=True):
            path, text, line = append_entry(ctx, phase=phase, role=role, block=block, text=text)
            written.append(replace(record, line=line + 2))  # the heading, a blank line, the record
        assert path is not None
        assert text is not None
        trailers = [
            pair
            for r in records
            for pair in (
                ("Loopkit-Milestone", r.milestone),
                ("Loopkit-Probe", r.probe),
                ("Loopkit-Result", r.result),
            )
        ]
        if len(records) == 1:
            record = records[0]
            subject: dict[str, Any] = {
                "milestone": record.milestone,
                "probe": record.probe,
                "result": record.result,
            }
            body = f"{record.title}\n\n{record.command}\n→ {record.observed}"
        else:
            passing = sum(r.result == "PASS" for r in records)
            subject = {"count": len(records), "passed": passing}
            body = "\n\n".join(
                f"{r.milestone} {r.probe} {r.result}: {r.title}\n{r.command}\n→ {r.observed}" for r in records
            )
        return Plan(
            {path: text},
            action="evidence",
            phase=phase,
            subject=subject,
            body=body,
            trailers=trailers,
            result={"records": written},
        )

    outcome = ctx.transact(plan)
    return outcome.plan.result["records"], outcome.commit


def probe_exec(
    ctx: Context,
    *,
    phase: str,
    milestone: str,
    probe: str,
    argv: list[str],
    title: str | None,
    expect: list[str],
    expect_not: list[str],
    expect_exit: int | None,
    observe: str | None,
    timeout: float | None,
) -> RecordWritten:
    from loopkit import probe as runner

    require_phase(ctx, phase)
    names.ident(milestone)
    names.ident(probe, what="probe")
    if not argv:
        raise UsageError("give the command after --: loopkit probe exec … -- CMD [ARG…]")
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    kind = observe or runner.default_observe(expect, expect_not)
    runner.validate_observe(kind)
    role = ctx.need_role(doing="record evidence")
    journal_path(ctx, phase, role)
    scope = _spec_bound(ctx, phase=phase, milestone=milestone, probe=probe, argv=argv, kind=kind,
                        expect=expect, expect_not=expect_not, expect_exit=expect_exit)  # fmt: skip
    spec = ProbeSpec(
        id=probe,
        title=title or probe,
        run=command_line(argv),
        observe=kind,
        expect=tuple(expect),
        expect_not=tuple(expect_not),
        expect_exit=expect_exit,
        timeout=timeout,
    )
    record = _record(ctx, phase=phase, milestone=milestone, spec=spec, argv=argv, scope=scope)
    written, sha = _write(ctx, record, role)
    return RecordWritten(written, sha)


def _spec_bound(
    ctx: Context,
    *,
    phase: str,
    milestone: str,
    probe: str,
    argv: list[str],
    kind: str,
    expect: list[str],
    expect_not: list[str],
    expect_exit: int | None,
) -> tuple[str, ...]:
    """A probe id the milestone's spec defines is recorded only with the spec's own command,
    observation and expectation (SPEC section 3); ids the spec does not define are free.
    Returns the milestone's scope."""
    from loopkit.services.specs import read_spec

    spec = read_spec(ctx, phase).needed().spec
    if spec is None:
        return ()
    chosen = spec.milestone(milestone)
    if chosen is None:
        known = ", ".join(m.id for m in spec.milestones) or "none"
        raise BadInput(f"{milestone} is not a milestone of phase {phase} (spec has: {known})")
    defined = next((p for p in chosen.probes if p.id == probe), None)
    if defined is None:
        return spec.scope(milestone)
    import shlex  # only for a probe its spec defines

    try:
        spec_argv: list[str] | None = shlex.split(defined.run)
    except ValueError:
        spec_argv = None
    needs_shell = spec_argv is None or any(_SHELL_ONLY.search(a) for a in spec_argv)
    same = (
        not needs_shell
        and spec_argv == argv
        and kind == defined.observe
        and tuple(expect) == defined.expect
        and tuple(expect_not) == defined.expect_not
        and expect_exit == defined.expect_exit
    )
    if not same:
        command = f"loopkit probe run --phase {phase} --milestone {milestone} --probe {probe}"
        raise Refused(
            f"{milestone} {probe} is defined by phases/{phase}.toml; record it with its own command, "
            f"observation and expectation: run `{command}`",
            details=[
                Issue("spec-probe", f"{probe} must be recorded as the spec defines it: {command}", milestone)
            ],
        )
    return spec.scope(milestone)


# a `run` that needs the shell (pipes, redirections, expansions) goes through `probe run` only
_SHELL_ONLY = re.compile(r"[|&;<>()$`*?\[\]~]|^[A-Za-z_][A-Za-z0-9_]*=")


def probe_run(ctx: Context, *, phase: str, milestone: str | None, probe: str | None) -> ProbeRun:
    role = ctx.need_role(doing="record evidence")
    from loopkit.services.book import load

    book = load(ctx, phase)
    if book.spec is None:
        raise BadInput(f"phases/{phase}.toml does not exist: nothing to run")
    journal_path(ctx, phase, role)
    chosen = [m for m in book.spec.milestones if milestone is None or m.id == milestone]
    if milestone is not None and not chosen:
        raise BadInput(f"{milestone} is not a milestone of phase {phase}")
    pairs = [(m.id, p) for m in chosen for p in m.probes if probe is None or p.id == probe]
    if probe is not None and not pairs:
        raise BadInput(f"no probe {probe} in phase {phase}" + (f" {milestone}" if milestone else ""))
    if not pairs:
        return ProbeRun(())
    spec_of = book.spec
    records = [
        _record(ctx, phase=phase, milestone=mid, spec=spec, argv=None, scope=spec_of.scope(mid))
        for mid, spec in pairs
    ]
    written, sha = _write_all(ctx, records, role)
    return ProbeRun(tuple(RecordWritten(r, sha) for r in written))


def evidence(ctx: Context, *, phase: str, milestone: str | None) -> EvidenceDocument:
    from loopkit.services.book import load

    book = load(ctx, phase)
    book.with_lines = True
    spec_ids = [m.id for m in book.spec.milestones] if book.spec else []
    if milestone is not None:
        names.ident(milestone)
        if milestone not in spec_ids:
            raise BadInput(f"{milestone} is not a milestone of phase {phase}")
        spec_ids = [milestone]
    milestones = []
    for mid in spec_ids:
        view = book.evidence(mid)
        paths = {p: tuple(found) for p, found in view.stale_paths().items()}
        lists = (view.required, view.passing, view.failing, view.missing, view.stale)
        required, passing, failing, missing, stale = (tuple(v) for v in lists)
        flaky = tuple(book.flaky(mid))  # [rules] replay (SPEC section 11); else ()
        milestones.append(
            MilestoneEvidence(
                mid, required, passing, failing, missing, stale, paths, dict(view.latest), flaky
            )
        )
    return EvidenceDocument(phase, tuple(milestones))
