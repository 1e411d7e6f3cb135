"""`journal add|show|parse`."""

from __future__ import annotations

from typing import Annotated

import typer

from loopkit.cli import _checked, _context, _run, journal_app
from loopkit.cli.options import (
    EXIT_READ,
    EXIT_WRITE,
    Body,
    BodyFile,
    Json,
    NoCommit,
    Phase,
    Role,
    Workspace,
    _body,
    epilog,
)
from loopkit.cli.text import _committed, _journal_text


@journal_app.command(
    "add",
    epilog=epilog('loopkit --role builder journal add --phase px --title "Proxy up" --body "…"', EXIT_WRITE),
)
def journal_add(
    phase: Phase,
    title: Annotated[str, typer.Option("--title", metavar="TITLE", help="The entry's title.")],
    body: Body = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Append a timestamped entry to your role's journal."""
    from loopkit.services.journals import journal_add as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, title=title, body=_body(body, body_file, required=True)),
        as_json=as_json,
        human=_committed("{file}:{line}: {title}"),
        ctx=ctx,
    )


@journal_app.command(
    "show", epilog=epilog("loopkit journal show --phase px --of adversary --json", EXIT_READ)
)
def journal_show(
    phase: Phase,
    of: Annotated[
        str | None, typer.Option("--of", metavar="ROLE", help="Whose journal (default: the builder's).")
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """The parsed journal of a role."""
    from loopkit.services.journals import journal_show as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), phase=phase, of=of),
        as_json=as_json,
        human=_journal_text,
        ctx=ctx,
    )


@journal_app.command("parse", epilog=epilog("loopkit journal parse old/JOURNAL-px.md --json", EXIT_READ))
def journal_parse(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Any journal file, loopkit's or hand-written.")],
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Parse any journal file."""
    from loopkit.services.journals import journal_parse as service

    ctx = _context(None, role)
    _run(lambda: service(_checked(ctx), file), as_json=as_json, human=_journal_text, ctx=ctx, sync=False)
