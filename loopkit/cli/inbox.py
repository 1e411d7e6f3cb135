"""`inbox send|list|consume` (`inbox wait` is in agents.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopkit.cli import _checked, _context, _run, inbox_app
from loopkit.cli.options import (
    EXIT_READ,
    EXIT_WRITE,
    Body,
    BodyFile,
    Json,
    NoCommit,
    OptPhase,
    Role,
    Workspace,
    _body,
    epilog,
)
from loopkit.cli.text import _lines, _message_text


@inbox_app.command(
    "send",
    epilog=epilog(
        'loopkit --role orchestrator inbox send --to builder --phase px --subject "M2 next" --body "…"',
        EXIT_WRITE,
    ),
)
def inbox_send(
    to: Annotated[str, typer.Option("--to", metavar="ROLE", help="builder | adversary | orchestrator")],
    phase: Annotated[
        str | None,
        typer.Option(
            "--phase",
            metavar="PHASE",
            envvar="LOOPKIT_PHASE",
            help="The phase it is about (else LOOPKIT_PHASE).",
        ),
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", metavar="TEXT", help="One line.")] = None,
    body: Body = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Append a message to <TO>-INBOX.md and print its id."""
    from loopkit.services.inbox import send as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(
            _checked(ctx), to=to, phase=phase, subject=subject, body=_body(body, body_file, required=True)
        ),
        as_json=as_json,
        human=lambda d: d["id"],
        ctx=ctx,
    )


@inbox_app.command("list", epilog=epilog("loopkit inbox list --to builder --json", EXIT_READ))
def inbox_list(
    to: Annotated[str | None, typer.Option("--to", metavar="ROLE", help="Only this role's inbox.")] = None,
    phase: OptPhase = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Pending messages, oldest first."""
    from loopkit.services.inbox import list_messages as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), to=to, phase=phase),
        as_json=as_json,
        human=_lines("messages", _message_text),
        ctx=ctx,
    )


@inbox_app.command("consume", epilog=epilog("loopkit --role builder inbox consume --all", EXIT_WRITE))
def inbox_consume(
    to: Annotated[
        str | None, typer.Option("--to", metavar="ROLE", help="Whose inbox (default: your own role's).")
    ] = None,
    ids: Annotated[list[str] | None, typer.Argument(metavar="[ID…]", help="The messages to consume.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Consume every pending message.")] = False,
    phase: OptPhase = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Print and archive messages, note them in the journal; the emptied inbox keeps its heading."""
    from loopkit.services.inbox import consume as service

    ctx = _context(workspace, role, no_commit)

    def human(d: dict[str, Any]) -> str:
        return "\n\n".join(f"{_message_text(m)}\n{m['body']}" for m in d["consumed"]) or "nothing to consume"

    _run(
        lambda: service(_checked(ctx), to=to, ids=ids or [], every=every, phase=phase),
        as_json=as_json,
        human=human,
        ctx=ctx,
    )
