"""`loopkit verify` and `loopkit hook pre-receive` (SPEC section 11): the shared remote refuses what
loopkit would refuse. Registers itself on `app`; the rules are services/verify.py's."""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopkit.cli import SETTINGS, _run, app
from loopkit.cli.options import Json, epilog

if TYPE_CHECKING:
    from loopkit.documents.verify import Verified, Violation

EXIT_VERIFY = "0 every change to the books is honest, 1 violations (listed), 2 usage error, 5 git failed."

hook_app = typer.Typer(help="git hooks for a shared remote.", no_args_is_help=True, context_settings=SETTINGS)
app.add_typer(hook_app, name="hook")


def _line(v: "Violation") -> str:
    """One violation, as the pusher reads it after `remote:`."""
    where = f"{v.file}:{v.line}" if v.file and v.line else v.file or ""
    return f"{v.code}: {v.commit[:12]} {where}{': ' if where else ''}{v.message}"


def _lines(data: "Verified") -> str:
    for v in data.violations:
        sys.stderr.write(f"loopkit: {_line(v)}\n")
    if data.ok:
        sys.stderr.write(f"loopkit: {data.commits} commit(s) verified: the books are honest\n")
    return ""


@app.command(epilog=epilog("loopkit verify origin/main..HEAD", EXIT_VERIFY))
def verify(
    range_: Annotated[
        str | None,
        typer.Argument(
            metavar="[RANGE]", help="OLD..NEW (default: the commits HEAD has that its upstream lacks)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Judge the commits of a range as a push would bring them: every change to the books honest."""
    from loopkit.services.verify import verify as service

    _run(
        lambda: service(Path.cwd(), range_, environ=dict(os.environ)),
        as_json=as_json,
        human=_lines,
        code=lambda d: 0 if d.ok else 1,
        sync=False,
    )


@hook_app.command("pre-receive", epilog=epilog("exec loopkit hook pre-receive", EXIT_VERIFY))
def pre_receive() -> None:
    """git's pre-receive hook: verify each pushed branch; any violation rejects the whole push."""
    from loopkit.services.verify import pre_receive as service

    def call() -> "list[tuple[str, Violation]]":
        return service(Path.cwd(), sys.stdin.read(), environ=dict(os.environ))

    def human(found: "list[tuple[str, Violation]]") -> str:
        for ref, violation in found:
            sys.stderr.write(f"loopkit: {ref.removeprefix('refs/heads/')}: {_line(violation)}\n")
        if found:
            sys.stderr.write(
                "loopkit: push rejected: the books must change only through loopkit (docs/remote.md)\n"
            )
        return ""

    _run(call, human=human, code=lambda found: 1 if found else 0, sync=False)
