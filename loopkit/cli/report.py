"""`loopkit report`: the HTML page for people (SPEC section 9). Registers itself on `app`."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from loopkit.cli import _GLOBAL, _checked, _context, _run, app
from loopkit.cli.options import Json, OptPhase, Role, Workspace, epilog
from loopkit.commands import EXIT_READ
from loopkit.errors import UsageError

if TYPE_CHECKING:
    from loopkit.documents.report import ReportDocument


@app.command(epilog=epilog("loopkit report --out loopkit-report.html", EXIT_READ))
def report(
    phase: OptPhase = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Where to write the page (default loopkit-report.html; - for stdout).",
        ),
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """One self-contained HTML page of every phase: summary first, then each phase's timelines."""
    from loopkit.services.report import report as service

    ctx = _context(workspace, role)

    def call() -> ReportDocument:
        if out == "-" and (as_json or _GLOBAL.get("json")):
            raise UsageError("--out - writes the page to stdout, where --json would go: give a FILE")
        data = service(_checked(ctx), phase=phase, out=out)
        if data.html is not None:
            sys.stdout.write(data.html)
        return replace(data, html=None)

    def human(d: ReportDocument) -> str:
        if d.out == "-":
            return ""
        sys.stderr.write(f"wrote {d.out} ({d.phases} phases, {d.bytes / 1000:.0f} kB)\n")
        return ""

    _run(call, as_json=as_json, human=human, ctx=ctx)
