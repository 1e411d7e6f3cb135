"""`probe exec|run` and `evidence`: probes run by loopkit, their evidence read back."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopkit.cli import _checked, _context, _run, app, probe_app
from loopkit.cli.options import EXIT_READ, Json, Milestone, NoCommit, Phase, Role, Workspace, epilog
from loopkit.cli.text import _lines, _record_text


@probe_app.command(
    "exec",
    epilog=epilog(
        "loopkit --role adversary probe exec --phase px --milestone M1 --id A1 --expect 200 \\\n"
        "    -- curl -s -o /dev/null -w %{http_code} http://127.0.0.1:8080/health",
        "0 PASS, 1 FAIL or ERROR, 2 usage error, 3 refused (a spec probe with another command), "
        "4 bad input, 5 git failed.",
    ),
)
def probe_exec(
    phase: Phase,
    milestone: Milestone,
    probe_id: Annotated[str, typer.Option("--id", metavar="ID", help="The probe id.")],
    command: Annotated[
        list[str], typer.Argument(metavar="-- CMD [ARG…]", help="The command, run without a shell.")
    ],
    title: Annotated[
        str | None, typer.Option("--title", metavar="TITLE", help="What the probe shows.")
    ] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option("--expect", metavar="VALUE", help="An allowed observed value (repeatable)."),
    ] = None,
    expect_not: Annotated[
        list[str] | None,
        typer.Option("--expect-not", metavar="VALUE", help="A forbidden observed value (repeatable)."),
    ] = None,
    expect_exit: Annotated[
        int | None, typer.Option("--expect-exit", metavar="N", help="The exit status it must have.")
    ] = None,
    observe: Annotated[
        str | None,
        typer.Option("--observe", metavar="KIND", help="exit | stdout | regex:<pattern with one group>"),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", metavar="S", help="Seconds before it is killed (default from loopkit.toml, 30)."
        ),
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Run one command and record what was observed in your journal."""
    from loopkit.services.probes import probe_exec as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(
            _checked(ctx),
            phase=phase,
            milestone=milestone,
            probe=probe_id,
            argv=command,
            title=title,
            expect=expect or [],
            expect_not=expect_not or [],
            expect_exit=expect_exit,
            observe=observe,
            timeout=timeout,
        ),
        as_json=as_json,
        human=_record_text,
        ctx=ctx,
        code=lambda d: 0 if d["result"] == "PASS" else 1,
    )


@probe_app.command(
    "run",
    epilog=epilog(
        "loopkit --role builder probe run --phase px --milestone M1",
        "0 every probe PASS, 1 one FAIL or ERROR, 2 usage error, 4 bad input, 5 git failed.",
    ),
)
def probe_run(
    phase: Phase,
    milestone: Annotated[
        str | None, typer.Option("--milestone", metavar="M", help="Only this milestone.")
    ] = None,
    probe_id: Annotated[str | None, typer.Option("--probe", metavar="ID", help="Only this probe.")] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Run the spec's probes (each `run` through sh -c) and record them, in one commit."""
    from loopkit.services.probes import probe_run as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, probe=probe_id),
        as_json=as_json,
        human=_lines("records", _record_text),
        ctx=ctx,
        code=lambda d: 0 if all(r["result"] == "PASS" for r in d["records"]) else 1,
    )


@app.command(epilog=epilog("loopkit evidence --phase px --milestone M1", EXIT_READ))
def evidence(
    phase: Phase,
    milestone: Annotated[
        str | None, typer.Option("--milestone", metavar="M", help="Only this milestone.")
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Evidence per milestone: required probes, the latest record of each, missing, stale."""
    from loopkit.services.probes import evidence as service

    ctx = _context(workspace, role)

    def human(d: dict[str, Any]) -> str:
        out = []
        for m in d["milestones"]:
            errors = [p for p in m["failing"] if (m["latest"].get(p) or {}).get("result") == "ERROR"]
            groups = {
                "passing": m["passing"],
                "failing": [p for p in m["failing"] if p not in errors],
                "error": errors,
                "missing": m["missing"],
                "stale": [_stale(p, m.get("stale_paths", {}).get(p)) for p in m["stale"]],
            }
            out.append(
                f"{m['id']}: " + "; ".join(f"{key} {', '.join(v) or '-'}" for key, v in groups.items())
            )
        return "\n".join(out)

    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone),
        as_json=as_json,
        human=human,
        ctx=ctx,
    )


def _stale(probe: str, paths: list[str] | None) -> str:
    """A stale probe and, when known, the paths that made it so: whose commit it was."""
    from loopkit.scope import few  # lazy: start-up stays light

    return f"{probe} ({few(paths)})" if paths else probe
