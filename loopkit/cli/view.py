"""`status` and `check`: the orchestrator's view and every problem."""

from __future__ import annotations

import sys
from typing import Any

from loopkit.cli import _checked, _context, _run, app
from loopkit.cli.options import EXIT_READ, Json, OptPhase, Role, Workspace, epilog


@app.command(epilog=epilog("loopkit status --phase px", EXIT_READ))
def status(
    phase: OptPhase = None, workspace: Workspace = None, role: Role = None, as_json: Json = False
) -> None:
    """The orchestrator's view of every phase: what needs someone first (--phase P: the detail)."""
    from loopkit.services.status import status as service

    ctx = _context(workspace, role)

    def human(data: dict[str, Any]) -> str:
        from loopkit.cli.text import status_renderer  # lazy: --json never renders text

        return str(status_renderer(phase=phase, stream=sys.stdout)(data))

    _run(lambda: service(_checked(ctx), phase=phase), as_json=as_json, human=human, ctx=ctx)


@app.command(
    epilog=epilog("loopkit check --json", "0 no problems, 1 problems found, 2 usage error, 4 bad input.")
)
def check(
    phase: OptPhase = None, workspace: Workspace = None, role: Role = None, as_json: Json = False
) -> None:
    """Every problem loopkit can see; exit 1 when any."""
    from loopkit.services.view import check as service

    ctx = _context(workspace, role)

    def human(d: dict[str, Any]) -> str:
        if d["ok"]:
            return "no problems"
        return "\n".join(f"{_where(p)}: {p['code']}: {p['message']}" for p in d["problems"])

    _run(
        lambda: service(_checked(ctx), phase=phase),
        as_json=as_json,
        human=human,
        ctx=ctx,
        code=lambda d: 0 if d["ok"] else 1,
    )


def _where(problem: dict[str, Any]) -> str:
    """`file:line`, as compilers write it; the file (or phase) alone when no line is known."""
    place = problem["file"] or problem["phase"] or "workspace"
    return f"{place}:{problem['line']}" if problem["line"] else place
