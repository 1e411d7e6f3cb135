"""init, phase new, phase list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopkit import names
from loopkit.documents.phases import InitDocument, PhaseEntry, PhaseList, PhaseOpened, SpecCommitted
from loopkit.errors import BadInput
from loopkit.markdown.status import parse_status
from loopkit.model.config import Milestone, PhaseSpec
from loopkit.records import status as status_records
from loopkit.render import render
from loopkit.services.context import Context
from loopkit.trust import blob_id
from loopkit.txn import Plan
from loopkit.workspace import CONFIG_NAME, PHASES_DIR, find_repo_root, read_exact, write_atomic


def init(ctx: Context, folder: str | None) -> InitDocument:
    root = (ctx.cwd / (folder or ".")).resolve()
    config = root / CONFIG_NAME
    if config.exists():
        raise BadInput(f"{config} already exists; loopkit init never overwrites")
    readme = root / PHASES_DIR / "README.md"
    written = [config]
    write_atomic(config, render("loopkit.toml.j2"))
    if not readme.exists():
        write_atomic(readme, render("phases-readme.md.j2"))
        written.append(readme)
    repo_root = find_repo_root(root)
    warning = None if repo_root else f"{root} is not inside a git work tree yet: run `git init`"
    written += _merge_set_up(root, repo_root)
    return InitDocument(str(root), tuple(str(p) for p in written), warning)


def _merge_set_up(root: Path, repo_root: Path | None) -> list[Path]:
    """SPEC section 7: .gitattributes naming loopkit's files, and this clone's merge.loopkit.driver."""
    from loopkit.config import load_config
    from loopkit.services.sync import attributes, install_driver

    if repo_root is not None:
        install_driver(repo_root)
    path = root / ".gitattributes"
    old = read_exact(path)
    if old is not None and "merge=loopkit" in old:
        return []
    text = attributes(load_config(root / CONFIG_NAME))
    write_atomic(path, text if not old else old + ("" if old.endswith("\n") else "\n") + text)
    return [path]


def phase_new(ctx: Context, phase: str, title: str | None) -> PhaseOpened:
    names.phase(phase)
    ws = ctx.workspace
    ctx.need_role(*ws.config.open_phase, doing="open a phase")
    from loopkit.services import limits

    limits.check(ctx, "title", title, "--title")

    def plan() -> Plan:
        spec = ws.spec(phase)
        status_path = ws.status_file(phase)
        if status_path.exists():
            raise BadInput(f"phase {phase} is already open: {status_path.name} exists")
        chosen = title or (spec.title if spec else None) or phase
        milestones = _sections(ctx, spec.milestones if spec else ())
        redact = ctx.redactor.redact
        status_text = status_records.append_sections(
            "",
            render(
                "status.md.j2",
                workspace=ws.root,
                phase=phase,
                title=redact(chosen),
                plan=redact(spec.plan) if spec and spec.plan else None,
                milestones=milestones,
            ),
            [m["id"] for m in milestones],
            name=status_path.name,
        )
        writes: dict[Path, str | None] = {status_path: status_text}
        journal = ws.journal_file(phase, "builder")
        if journal is not None and read_exact(journal) is None:
            writes[journal] = render(
                "journal.md.j2", workspace=ws.root, kind="JOURNAL", phase=phase, role="builder"
            )
        trailers = []
        spec_text = read_exact(ws.spec_file(phase))
        if spec_text is not None:
            from loopkit.services.specs import refuse_secrets

            refuse_secrets(ctx, spec_text, f"phases/{phase}.toml")
            # the spec the gates use is the one the orchestrator opened: committed with the phase
            writes[ws.spec_file(phase)] = spec_text
            trailers.append(("Loopkit-Spec", blob_id(spec_text.encode("utf-8"))))
        return Plan(
            writes,
            action="open",
            phase=phase,
            subject={"title": redact(chosen)},
            trailers=trailers,
            result={
                "phase": phase,
                "title": redact(chosen),
                "files": tuple(ws.repo_path(p) if ws.repo_root else str(p) for p in writes),
            },
        )

    outcome = ctx.transact(plan)
    return PhaseOpened(**outcome.plan.result, commit=outcome.commit)


def phase_update(ctx: Context, phase: str, note: str | None) -> SpecCommitted:
    """The orchestrator commits the phase spec as it now stands: gates use it from then on."""
    from loopkit.services.specs import read_spec, refuse_secrets

    names.phase(phase)
    ws = ctx.workspace
    ctx.need_role(*ws.config.open_phase, doing="update a phase spec")
    from loopkit.services import limits

    limits.check(ctx, "note", note, "--note")
    clean_note = ctx.redactor.redact(" ".join((note or "").split()))

    def plan() -> Plan:
        path = ws.spec_file(phase)
        text = read_exact(path)
        if text is None:
            raise BadInput(f"phases/{phase}.toml does not exist: nothing to commit")
        spec = ws.spec(phase)  # strict: a broken spec is exit 4, never committed
        assert spec is not None
        refuse_secrets(ctx, text, f"phases/{phase}.toml")
        blob = blob_id(text.encode("utf-8"))
        state = read_spec(ctx, phase)
        result = {"phase": phase, "spec": ws.repo_path(path), "blob": blob}
        if state.trusted and not any(p.code == "untrusted-spec" for p in state.problems):
            return Plan({}, action="spec", phase=phase, subject={}, result=result)
        writes: dict[Path, str | None] = {path: text}
        status_path = ws.status_file(phase)
        status = read_exact(status_path)
        if status is not None:
            writes[status_path] = _with_new_sections(ctx, status, spec, name=status_path.name)
        return Plan(
            writes,
            action="spec",
            phase=phase,
            subject={"note": clean_note},
            body=f"The spec of {phase} as it now stands ({len(spec.milestones)} milestone(s)).",
            trailers=[("Loopkit-Spec", blob)],
            result=result,
            allow_empty=True,
        )

    outcome = ctx.transact(plan)
    return SpecCommitted(**outcome.plan.result, commit=outcome.commit)


def _with_new_sections(ctx: Context, status: str, spec: PhaseSpec, *, name: str) -> str:
    """STATUS with a section for each milestone the spec gained, before any ## DONE."""
    doc = parse_status(status)
    have = {s.id for s in doc.sections}
    added = [m for m in spec.milestones if m.id not in have]
    if not added or doc.done_line is not None:
        return status
    block = render("status-sections.md.j2", workspace=ctx.workspace.root, milestones=_sections(ctx, added))
    return status_records.append_sections(status, block, [m.id for m in added], name=name)


def _sections(ctx: Context, milestones: Sequence[Milestone]) -> list[dict[str, Any]]:
    """What the STATUS templates show of each milestone: its id, its title, its probes (redacted)."""
    redact = ctx.redactor.redact
    return [
        {
            "id": m.id,
            "title": redact(m.title),
            "probes": [{"id": p.id, "title": redact(p.title)} for p in m.probes],
        }
        for m in milestones
    ]


def phase_list(ctx: Context) -> PhaseList:
    ws = ctx.workspace
    phases = []
    for phase in ws.phases():
        spec_path = ws.spec_file(phase)
        status_path = ws.status_file(phase)
        title = error = None
        spec_ok = spec_path.is_file()
        if spec_ok:
            try:
                spec = ws.spec(phase)
                title = spec.title if spec else None
            except BadInput as exc:
                error = exc.message
        doc = (
            parse_status(status_path.read_text("utf-8", errors="replace")) if status_path.is_file() else None
        )
        phases.append(
            PhaseEntry(
                phase=phase,
                title=title or (doc.title if doc else None) or phase,
                spec=spec_ok,
                status=doc is not None,
                done=doc is not None and doc.done_line is not None,
                error=error,
            )
        )
    return PhaseList(tuple(phases))
