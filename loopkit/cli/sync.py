"""`loopkit merge-driver` (SPEC section 7); `sync` is generated from the command table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopkit.cli import _run, app
from loopkit.cli.options import epilog

if TYPE_CHECKING:
    from loopkit.documents.sync import Merged


@app.command(
    "merge-driver",
    epilog=epilog(
        "git config merge.loopkit.driver 'loopkit merge-driver %O %A %B %P'", "0 merged, 1 a real conflict."
    ),
)
def merge_driver(
    base: Annotated[str, typer.Argument(metavar="BASE", help="git's %O: the common ancestor's version.")],
    ours: Annotated[str, typer.Argument(metavar="OURS", help="git's %A: this side; the result goes here.")],
    theirs: Annotated[str, typer.Argument(metavar="THEIRS", help="git's %B: the other side.")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="git's %P: the file's path in the repository.")],
) -> None:
    """The merge driver git calls for loopkit's files: 0 merged into OURS, 1 a real conflict."""
    from loopkit.services.sync import merge_driver as service

    def call() -> Merged:
        return service(base=base, ours=ours, theirs=theirs, path=path, cwd=Path.cwd())

    def human(d: Merged) -> str:
        if d.conflict:
            sys.stderr.write(
                f"loopkit: conflict in {d.path}: the same hand-written lines changed on both sides\n"
            )
        return ""

    _run(call, human=human, code=lambda d: 1 if d.conflict else 0, sync=False)
