"""Commands for agents as clients (SPEC section 8): `mcp`, `next`, `inbox wait`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from loopkit.cli import _GLOBAL, _checked, _context, _run, app, inbox_app
from loopkit.cli.options import EXIT_READ, Json, OptPhase, Role, Workspace, epilog
from loopkit.cli.text import _lines, _message_text
from loopkit.errors import LoopkitError

MCP_MISSING = (
    "loopkit mcp needs the MCP Python SDK, which is not installed: "
    "pip install 'loopkit[mcp]' (or pip install mcp)"
)


@app.command(
    "mcp",
    epilog=epilog("loopkit --role builder mcp", "0 served until stdin closed, 2 no MCP SDK, 4 no workspace."),
)
def mcp_command(workspace: Workspace = None, role: Role = None) -> None:
    """Serve the commands as MCP tools on stdio (for agent hosts). Needs: pip install 'loopkit[mcp]'."""
    import importlib.util

    if importlib.util.find_spec("mcp") is None:  # cheap: finds the SDK without importing it
        sys.stderr.write(f"loopkit: error: {MCP_MISSING}\n")
        raise typer.Exit(2)
    ctx = _context(workspace, role)
    try:
        _checked(ctx)  # an unknown role is exit 2 before anything is served
        _ = ctx.workspace  # no workspace: exit 4 now, not on every tool call
    except LoopkitError as exc:
        sys.stderr.write(f"loopkit: error: {exc.message}\n")
        raise typer.Exit(exc.exit_code) from None
    try:
        from loopkit.mcp_server import serve  # the SDK is imported here and nowhere else
    except ImportError as exc:
        if not (exc.name or "").startswith(("mcp", "anyio", "pydantic")):
            raise
        sys.stderr.write(f"loopkit: error: {MCP_MISSING}\n")
        raise typer.Exit(2) from None
    if ctx.role is None:
        sys.stderr.write("loopkit: warning: mcp runs without a role (--role or LOOPKIT_ROLE): read-only\n")
    try:
        serve(cwd=ctx.cwd, role=ctx.role, workspace=workspace or _GLOBAL.get("workspace"))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _next_text(d: dict[str, Any]) -> str:
    out = []
    for a in d["actions"]:
        where = " ".join(x for x in (a["phase"], a["milestone"]) if x) or "-"
        line = f"{where:<16} {a['action']:<8} {a['command'] or '-'}"
        out.append(f"{line}\n{'':<26}{a['why']}")
    return "\n".join(out)


@app.command("next", epilog=epilog("loopkit --role builder next --json", EXIT_READ))
def next_command(
    phase: OptPhase = None, workspace: Workspace = None, role: Role = None, as_json: Json = False
) -> None:
    """What your role should do next, phase by phase, each action with the exact command."""
    from loopkit.services.next import next_actions

    ctx = _context(workspace, role)
    _run(lambda: next_actions(_checked(ctx), phase=phase), as_json=as_json, human=_next_text, ctx=ctx)


@inbox_app.command(
    "wait",
    epilog=epilog(
        "loopkit --role builder inbox wait --timeout 300",
        "0 a message is pending, 2 usage error, 4 bad input, 124 nothing within --timeout.",
    ),
)
def inbox_wait(
    to: Annotated[
        str | None, typer.Option("--to", metavar="ROLE", help="Whose inbox (default: your own role's).")
    ] = None,
    phase: Annotated[
        str | None,
        typer.Option(
            "--phase",
            metavar="PHASE",
            envvar="LOOPKIT_PHASE",
            help="Only messages about this phase or about no phase (else LOOPKIT_PHASE).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="S", help="Give up after S seconds: exit 124.")
    ] = 600.0,
    interval: Annotated[
        float | None,
        typer.Option("--interval", metavar="S", help="Seconds between checks (default 2; 15 with --sync)."),
    ] = None,
    sync: Annotated[bool, typer.Option("--sync", help="Fetch from the remote before each check.")] = False,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Block until a message is pending, print them as `inbox list` does; consumes nothing."""
    from loopkit.services.wait import wait

    ctx = _context(workspace, role)
    show = _lines("messages", _message_text)

    def human(d: dict[str, Any]) -> str:
        if d["timed_out"]:
            sys.stderr.write(f"loopkit: nothing pending within {timeout:g} s\n")
        return show(d)

    _run(
        lambda: wait(_checked(ctx), to=to, phase=phase, timeout=timeout, interval=interval, sync=sync),
        as_json=as_json,
        human=human,
        ctx=ctx,
        code=lambda d: 124 if d["timed_out"] else 0,
    )


__all__ = ["inbox_wait", "mcp_command", "next_command"]
