"""`loopkit demo`: a complete loop on a fresh repository."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from loopkit.cli import _GLOBAL, _checked, _context, _run, app
from loopkit.cli.options import Json, Role, epilog

if TYPE_CHECKING:
    from loopkit.documents.report import DemoDocument


@app.command(
    epilog=epilog(
        "loopkit demo --dir /tmp/loopkit-demo", "0 the loop ran, 4 --dir is not empty, 5 git failed."
    )
)
def demo(
    folder: Annotated[
        str | None,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="Where to build the demo repository (default: a new temporary folder).",
        ),
    ] = None,
    signed: Annotated[
        bool,
        typer.Option(
            "--signed", help="Every role signs its commits, with a key per role made by ssh-keygen."
        ),
    ] = False,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """A complete loop on a fresh repository against a local HTTP server."""
    from loopkit.services.demo import demo as service

    def step(text: str) -> None:
        if not (as_json or _GLOBAL.get("json")):
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def human(d: DemoDocument) -> str:
        # exactly what `loopkit status` prints: the renderer the command table gives `status`
        from loopkit.cli.wiring import _renderer
        from loopkit.commands import COMMANDS

        command = next(c for c in COMMANDS if c.words == "status")
        text = _renderer(command, {"phase": None})(d.status)
        log = "\n".join(d.log)
        return f"\n$ loopkit status\n{text}\n\n$ git log --oneline\n{log}"

    def call() -> DemoDocument:
        _checked(_context(None, role))  # the demo plays every role itself; a bad --role is still an error
        return service(folder, step=step, signed=signed)

    _run(call, as_json=as_json, human=human)
