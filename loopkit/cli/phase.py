"""`init`: the workspace (the phase commands are generated from the command table)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from loopkit.cli import _checked, _context, _run, app
from loopkit.cli.options import Json, Role, epilog

if TYPE_CHECKING:
    from loopkit.documents.phases import InitDocument


# -- commands -------------------------------------------------------------------------------------
@app.command(
    epilog=epilog("cd docs && loopkit init", "0 done, 2 usage error, 4 loopkit.toml exists already.")
)
def init(
    folder: Annotated[
        str | None,
        typer.Argument(metavar="[DIR]", help="Where to create the workspace (default: here)."),
    ] = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Write loopkit.toml (every default spelled out) and phases/; never overwrites."""
    from loopkit.services.phases import init as service

    ctx = _context(None, role)

    def human(d: InitDocument) -> str:
        lines = [f"wrote {p}" for p in d.written]
        if d.warning:
            sys.stderr.write(f"loopkit: warning: {d.warning}\n")
        return "\n".join(lines)

    _run(lambda: service(_checked(ctx), folder), as_json=as_json, human=human)
