"""`loopkit mcp` (SPEC section 8); `next` and `inbox wait` are generated from the command table."""

from __future__ import annotations

import sys

import typer

from loopkit.cli import _GLOBAL, _checked, _context, app
from loopkit.cli.options import Role, Workspace, epilog
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
