"""The protocol steps: `claim`, `verdict`, `gate`, `done`, `instruct`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopkit.cli import _checked, _context, _run, app
from loopkit.cli.options import (
    EXIT_GATE,
    EXIT_WRITE,
    BodyFile,
    Committed,
    Json,
    Milestone,
    NoCommit,
    Note,
    Phase,
    Role,
    Workspace,
    _given_body,
    _refuse_no_commit,
    epilog,
)
from loopkit.cli.text import _committed, _unmet_text


@app.command(
    epilog=epilog('loopkit --role builder claim --phase px --milestone M1 --note "health gate"', EXIT_GATE)
)
def claim(
    phase: Phase,
    milestone: Milestone,
    note: Note = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: Committed = False,
    as_json: Json = False,
) -> None:
    """Builder: claim a milestone whose evidence holds on committed code."""
    from loopkit.services.loop import claim as service
    from loopkit.services.loop import claim_words

    _refuse_no_commit(no_commit, "claim")
    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, note=note),
        as_json=as_json,
        human=claim_words,
        ctx=ctx,
    )


@app.command(
    epilog=epilog('loopkit --role adversary verdict FAIL --phase px --milestone M1 --note "404"', EXIT_GATE)
)
def verdict(
    result: Annotated[str, typer.Argument(metavar="PASS|FAIL", help="The verdict.")],
    phase: Phase,
    milestone: Milestone,
    note: Note = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: Committed = False,
    as_json: Json = False,
) -> None:
    """Adversary: record PASS or FAIL on the latest claim of a milestone."""
    from loopkit.services.loop import verdict as service

    _refuse_no_commit(no_commit, "verdict")
    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, result=result, note=note),
        as_json=as_json,
        human=_committed("{milestone} {result}"),
        ctx=ctx,
    )


@app.command(
    epilog=epilog(
        "loopkit gate --phase px --json", "0 the gate holds, 2 usage error, 3 it does not, 4 bad input."
    )
)
def gate(phase: Phase, workspace: Workspace = None, role: Role = None, as_json: Json = False) -> None:
    """What `done` would check, writing nothing: exit 0 when met, 3 when not."""
    from loopkit.services.loop import gate as service

    ctx = _context(workspace, role)

    def call() -> dict[str, Any]:
        return service(_checked(ctx), phase=phase)

    _run(call, as_json=as_json, human=_unmet_text, ctx=ctx, code=lambda d: 0 if d["ok"] else 3)


@app.command(
    epilog=epilog(
        'loopkit --role builder done --phase px --body "M2 verified: deployed at 13:43Z"', EXIT_GATE
    )
)
def done(
    phase: Phase,
    summary: Annotated[
        str | None,
        typer.Option("--summary", metavar="TEXT", help="A one-line summary for the DONE commit's subject."),
    ] = None,
    body: Annotated[
        str | None,
        typer.Option(
            "--body", metavar="TEXT", help="The DONE commit's narrative, before the list of verdicts."
        ),
    ] = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: Committed = False,
    as_json: Json = False,
) -> None:
    """Builder: the DONE gate, then ## DONE in STATUS and the DONE commit."""
    from loopkit.services.loop import done as service

    _refuse_no_commit(no_commit, "done")
    ctx = _context(workspace, role)
    _run(
        lambda: {
            "ok": True,
            **service(_checked(ctx), phase=phase, summary=summary, body=_given_body(body, body_file)),
        },
        as_json=as_json,
        human=_committed("{phase}: ## DONE"),
        ctx=ctx,
    )


@app.command(
    epilog=epilog(
        'loopkit --role orchestrator instruct --phase px --milestone M1 --body "Probe the proxy."',
        EXIT_WRITE,
    )
)
def instruct(
    phase: Phase,
    milestone: Annotated[
        str | None,
        typer.Option(
            "--milestone", metavar="M", help="At the end of this milestone's section (else the header)."
        ),
    ] = None,
    body: Annotated[str | None, typer.Option("--body", metavar="TEXT", help="The instructions.")] = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Orchestrator: write instructions for the builder into STATUS, in one commit."""
    from loopkit.services.loop import instruct as service

    ctx = _context(workspace, role, no_commit)
    what = f"instructions for {milestone}" if milestone else "instructions"
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, body=_given_body(body, body_file)),
        as_json=as_json,
        human=_committed("{file}: " + what),
        ctx=ctx,
    )
