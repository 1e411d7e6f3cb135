"""`init` and `phase new|update|list`: the workspace and its phases."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from loopkit.cli import _checked, _context, _run, app, phase_app
from loopkit.cli.options import EXIT_READ, EXIT_WRITE, Json, NoCommit, Role, Workspace, epilog
from loopkit.cli.text import _committed, _lines, _phase_word


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

    def human(d: dict[str, Any]) -> str:
        lines = [f"wrote {p}" for p in d["written"]]
        if d.get("warning"):
            sys.stderr.write(f"loopkit: warning: {d['warning']}\n")
        return "\n".join(lines)

    _run(lambda: service(_checked(ctx), folder), as_json=as_json, human=human)


@phase_app.command("new", epilog=epilog("loopkit --role orchestrator phase new px", EXIT_WRITE))
def phase_new(
    phase: Annotated[str, typer.Argument(metavar="PHASE", help="The phase name.")],
    title: Annotated[
        str | None, typer.Option("--title", metavar="TITLE", help="The phase title (default: the spec's).")
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Open a phase: STATUS and JOURNAL from templates, from phases/<phase>.toml when present."""
    from loopkit.services.phases import phase_new as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(ctx, phase, title),
        as_json=as_json,
        human=_committed("opened {phase}: {title}"),
        ctx=ctx,
    )


@phase_app.command(
    "update",
    epilog=epilog('loopkit --role orchestrator phase update px --note "P2 checks the proxy"', EXIT_WRITE),
)
def phase_update(
    phase: Annotated[str, typer.Argument(metavar="PHASE", help="The phase name.")],
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Why the spec changed (in the subject).")
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Orchestrator: commit phases/<phase>.toml as it now stands; gates use it from then on."""
    from loopkit.services.phases import phase_update as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(ctx, phase, note),
        as_json=as_json,
        human=lambda d: (
            f"spec of {d['phase']} committed [{d['commit'][:10]}]"
            if d.get("commit")
            else f"spec of {d['phase']} unchanged: the orchestrator's version already"
        ),
        ctx=ctx,
    )


@phase_app.command("list", epilog=epilog("loopkit phase list --json", EXIT_READ))
def phase_list(workspace: Workspace = None, role: Role = None, as_json: Json = False) -> None:
    """Phases found: specs and STATUS files."""
    from loopkit.services.phases import phase_list as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx)),
        as_json=as_json,
        human=_lines(
            "phases",
            lambda p: f"{p['phase']:<24} {_phase_word(p):<8} {p['title']}",
        ),
        ctx=ctx,
    )
