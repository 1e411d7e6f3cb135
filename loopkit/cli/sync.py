"""`loopkit sync` and `loopkit merge-driver` (SPEC section 7)."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from loopkit.cli import _checked, _context, _run, app
from loopkit.cli.options import Json, Role, Workspace, epilog


def _progress(text: str) -> None:
    sys.stderr.write(f"loopkit: {text}\n")
    sys.stderr.flush()


def _sync_text(d: dict[str, Any]) -> str:
    how = {
        "none": "nothing to integrate",
        "fast-forward": "fast-forwarded",
        "rebase": "rebased",
        "merge": "merged",
    }
    head = (d["head"] or "")[:10]
    return (
        f"{d['remote']}/{d['branch']}: {d['fetched']} commit(s) in, {d['pushed']} out; "
        f"{how[d['integrated']]}; HEAD {head}"
    )


@app.command(
    epilog=epilog(
        "loopkit --role builder sync", "0 in sync, 2 usage error, 4 bad input, 5 git failed (a conflict)."
    )
)
def sync(
    remote: Annotated[
        str | None,
        typer.Option("--remote", metavar="R", help="The remote (default: upstream, else [git] remote)."),
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Fetch the remote's branch, integrate it (fast-forward or rebase), push; retry if it moved."""
    from loopkit.services.sync import sync as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), remote=remote, progress=_progress),
        as_json=as_json,
        human=_sync_text,
        ctx=ctx,
        sync=False,
    )


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

    def call() -> dict[str, Any]:
        return service(base=base, ours=ours, theirs=theirs, path=path, cwd=Path.cwd())

    def human(d: dict[str, Any]) -> str:
        if d["conflict"]:
            sys.stderr.write(
                f"loopkit: conflict in {d['path']}: the same hand-written lines changed on both sides\n"
            )
        return ""

    _run(call, human=human, code=lambda d: 1 if d["conflict"] else 0, sync=False)
