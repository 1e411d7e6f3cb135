"""The typer app: parse arguments, call one service function, print text or JSON, exit.

The only module that imports typer, prints, or exits. Every expected failure is one line on
stderr and SPEC's exit code; anything else is a bug: one line asking for a report, exit 70.
"""

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from loopkit.errors import LoopkitError, Refused, UsageError

app = typer.Typer(
    help="Keeps the books of builder / adversary / orchestrator loops in git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
phase_app = typer.Typer(help="Open and list phases.", no_args_is_help=True)
journal_app = typer.Typer(help="Add to, show and parse journals.", no_args_is_help=True)
probe_app = typer.Typer(help="Run probes and record their evidence.", no_args_is_help=True)
inbox_app = typer.Typer(help="Send, list and consume inbox messages.", no_args_is_help=True)
app.add_typer(phase_app, name="phase")
app.add_typer(journal_app, name="journal")
app.add_typer(probe_app, name="probe")
app.add_typer(inbox_app, name="inbox")

Json = Annotated[bool, typer.Option("--json", help="Machine output on stdout.")]
Workspace = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="DIR",
        help="The workspace folder (else LOOPKIT_WORKSPACE, else found upwards).",
    ),
]
Role = Annotated[
    str | None,
    typer.Option("--role", metavar="ROLE", help="builder | adversary | orchestrator (else LOOPKIT_ROLE)."),
]
NoCommit = Annotated[bool, typer.Option("--no-commit", help="Write the files but do not commit them.")]
Phase = Annotated[str, typer.Option("--phase", help="The phase.")]
OptPhase = Annotated[str | None, typer.Option("--phase", help="Only this phase.")]
Milestone = Annotated[str, typer.Option("--milestone", help="The milestone id (M1, M2, …).")]


# --role, --workspace and --json may also come before the command: `loopkit --role builder claim …`
_GLOBAL: dict[str, Any] = {}


@app.callback()
def _global_options(
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
    sync: Annotated[
        bool, typer.Option("--sync", help="Sync with the remote before the command and after it commits.")
    ] = False,
) -> None:
    """Keeps the books of builder / adversary / orchestrator loops in git."""
    _GLOBAL.update(workspace=workspace, role=role, json=as_json)
    _GLOBAL["sync"] = _GLOBAL.get("sync") or sync


def _context(workspace: str | None = None, role: str | None = None, no_commit: bool = False) -> Any:
    from loopkit.services.context import Context

    workspace = workspace or _GLOBAL.get("workspace")
    role = role or _GLOBAL.get("role")
    return Context(
        cwd=Path.cwd(),
        environ=dict(os.environ),
        workspace_dir=workspace,
        role_option=role,
        no_commit=no_commit,
    )


def _emit(
    data: dict[str, Any],
    as_json: bool,
    human: Callable[[dict[str, Any]], str] | None,
    ctx: Any = None,
) -> None:
    if as_json:
        payload = {"schema_version": 1, **{k: v for k, v in data.items() if k != "schema_version"}}
        if ctx is not None:
            payload = ctx.redactor.redact_obj(payload)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
    elif human is not None:
        text = human(data)
        if ctx is not None:
            text = ctx.redactor.redact(text)
        if text:
            sys.stdout.write(text.rstrip("\n") + "\n")


def _run(
    call: Callable[[], Any],
    *,
    as_json: bool = False,
    human: Callable[[dict[str, Any]], str] | None = None,
    ctx: Any = None,
    code: Callable[[dict[str, Any]], int] | None = None,
    sync: bool = True,
) -> None:
    """Run one service call under the error contract (and `--sync` around it, SPEC section 7)."""
    as_json = as_json or bool(_GLOBAL.get("json"))
    try:
        syncing = _syncing(ctx) if sync and ctx is not None else None
        if syncing is not None:
            syncing.sync_before(ctx, _progress)
        data = call()
        if syncing is not None:
            syncing.sync_after(ctx, _progress)
    except LoopkitError as exc:
        _fail(exc, as_json, ctx)
    except KeyboardInterrupt:
        sys.stderr.write("loopkit: interrupted\n")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if os.environ.get("LOOPKIT_DEBUG"):
            raise
        line = (
            f"internal error ({type(exc).__name__}): this is a bug; please report it "
            "with the command you ran (LOOPKIT_DEBUG=1 shows the traceback)"
        )
        if as_json:
            _emit({"schema_version": 1, "ok": False, "exit": 70, "error": line}, True, None, None)
        sys.stderr.write(f"loopkit: {line}\n")
        raise typer.Exit(70) from None
    _warnings(ctx)
    _emit(data, as_json, human, ctx)
    exit_code = code(data) if code else 0
    if exit_code:
        raise typer.Exit(exit_code)


def _syncing(ctx: Any) -> Any:
    """The sync service when --sync was given (anywhere in the command line) or [git] sync is on."""
    from loopkit.services import sync as syncing

    return syncing if syncing.wanted(ctx, bool(_GLOBAL.get("sync"))) else None


def _progress(text: str) -> None:
    sys.stderr.write(f"loopkit: {text}\n")
    sys.stderr.flush()


def _fail(exc: LoopkitError, as_json: bool, ctx: Any) -> None:
    message = exc.message
    if ctx is not None:
        with contextlib.suppress(LoopkitError):
            message = ctx.redactor.redact(message)
    _warnings(ctx)
    if as_json:
        _emit(error_document(exc, message), True, None, None)
    sys.stderr.write(f"loopkit: error: {message}\n")
    if isinstance(exc, Refused) and not as_json:
        for detail in exc.details:
            sys.stderr.write(f"  - {getattr(detail, 'code', '')}: {getattr(detail, 'message', detail)}\n")
    raise typer.Exit(exc.exit_code)


def error_document(exc: LoopkitError, message: str) -> dict[str, Any]:
    """SPEC section 4: one document for every failure, `unmet` added where a gate lists them."""
    payload: dict[str, Any] = {"schema_version": 1, "ok": False, "exit": exc.exit_code, "error": message}
    if isinstance(exc, Refused):
        unmet = [d.to_json() if hasattr(d, "to_json") else d for d in exc.details]
        payload["unmet"] = unmet or [{"code": "refused", "milestone": None, "message": message}]
    return payload


def _warnings(ctx: Any) -> None:
    for line in getattr(ctx, "warnings", ()) or ():
        sys.stderr.write(f"loopkit: warning: {line}\n")


# -- text for people ------------------------------------------------------------------------------
def _record_text(r: dict[str, Any]) -> str:
    observed = f"observed {r['observed']!r} (exit {r['exit']}, {r['duration']} s)"
    return f"{r['milestone']} {r['probe']} {r['result']}: {observed}"


def _lines(key: str, fmt: Callable[[Any], str]) -> Callable[[dict[str, Any]], str]:
    return lambda data: "\n".join(fmt(item) for item in data[key])


def _committed(what: str) -> Callable[[dict[str, Any]], str]:
    return lambda d: (
        f"{what.format(**d)}" + (f" [{d['commit'][:10]}]" if d.get("commit") else " (not committed)")
    )


# -- commands -------------------------------------------------------------------------------------
@app.command()
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


@phase_app.command("new")
def phase_new(
    phase: Annotated[str, typer.Argument(help="The phase name.")],
    title: Annotated[
        str | None, typer.Option("--title", help="The phase title (default: the spec's).")
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


@phase_app.command("update")
def phase_update(
    phase: Annotated[str, typer.Argument(help="The phase name.")],
    note: Annotated[str | None, typer.Option("--note", help="Why the spec changed (in the subject).")] = None,
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


@phase_app.command("list")
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


def _phase_word(p: dict[str, Any]) -> str:
    return "done" if p["done"] else "open" if p["status"] else "planned"


def _checked(ctx: Any) -> Any:
    """Reject an unknown role before anything else, as SPEC asks of every command."""
    _ = ctx.role
    return ctx


def _body(body: str | None, body_file: str | None) -> str | None:
    from loopkit.errors import BadInput
    from loopkit.services.context import stdin_text

    if body is not None and body_file is not None:
        raise UsageError("give --body or --body-file, not both")
    if body_file is not None:
        if body_file == "-":
            return stdin_text(strict=True) or ""
        try:
            data = (Path.cwd() / body_file).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read --body-file {body_file}: {exc.strerror}") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"--body-file {body_file} is not UTF-8 text (byte {exc.start}); nothing was written"
            ) from None
    if body is not None:
        return body
    return stdin_text()


Body = Annotated[str | None, typer.Option("--body", help="The text (else --body-file, else standard input).")]
BodyFile = Annotated[str | None, typer.Option("--body-file", metavar="FILE", help="Read the text from FILE.")]


@journal_app.command("add")
def journal_add(
    phase: Phase,
    title: Annotated[str, typer.Option("--title", help="The entry's title.")],
    body: Body = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Append a timestamped entry to your role's journal."""
    from loopkit.services.journals import journal_add as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, title=title, body=_body(body, body_file)),
        as_json=as_json,
        human=_committed("{file}:{line}: {title}"),
        ctx=ctx,
    )


def _journal_text(d: dict[str, Any]) -> str:
    out = [f"{d['file']}: phase {d['phase']}, {d['role']}, {len(d['entries'])} entries"]
    for entry in d["entries"]:
        out.append(f"{entry['line']:>6}  {entry['at'] or '-':<20}  {entry['title']}")
        for e in entry["evidence"]:
            mark = (
                {"pass": "✓", "fail": "✗"}.get(e.get("mark") or "", "")
                if e["source"] == "free-form"
                else e["result"]
            )
            code = f" [{e['code']}]" if e.get("code") else ""
            shown = f"{e['command'] or '(no command)'} → {e['observed'][:80]}{code} {mark}".strip()
            out.append(f"{e['line']:>6}    {shown}")
    for w in d["warnings"]:
        out.append(f"warning: line {w['line']}: {w['message']}")
    return "\n".join(out)


@journal_app.command("show")
def journal_show(
    phase: Phase,
    of: Annotated[str | None, typer.Option("--of", help="Whose journal (default: the builder's).")] = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """The parsed journal of a role."""
    from loopkit.services.journals import journal_show as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), phase=phase, of=of),
        as_json=as_json,
        human=_journal_text,
        ctx=ctx,
    )


@journal_app.command("parse")
def journal_parse(
    file: Annotated[str, typer.Argument(help="Any journal file, loopkit's or hand-written.")],
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Parse any journal file."""
    from loopkit.services.journals import journal_parse as service

    ctx = _context(None, role)
    _run(lambda: service(_checked(ctx), file), as_json=as_json, human=_journal_text, ctx=ctx, sync=False)


@probe_app.command("exec")
def probe_exec(
    phase: Phase,
    milestone: Milestone,
    probe_id: Annotated[str, typer.Option("--id", help="The probe id.")],
    command: Annotated[
        list[str], typer.Argument(metavar="-- CMD [ARG…]", help="The command, run without a shell.")
    ],
    title: Annotated[str | None, typer.Option("--title", help="What the probe shows.")] = None,
    expect: Annotated[
        list[str] | None, typer.Option("--expect", help="An allowed observed value (repeatable).")
    ] = None,
    expect_not: Annotated[
        list[str] | None,
        typer.Option("--expect-not", help="A forbidden observed value (repeatable)."),
    ] = None,
    expect_exit: Annotated[
        int | None, typer.Option("--expect-exit", help="The exit status it must have.")
    ] = None,
    observe: Annotated[
        str | None, typer.Option("--observe", help="exit | stdout | regex:<pattern with one group>")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds before it is killed (default from loopkit.toml, 30)."),
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


@probe_app.command("run")
def probe_run(
    phase: Phase,
    milestone: Annotated[str | None, typer.Option("--milestone", help="Only this milestone.")] = None,
    probe_id: Annotated[str | None, typer.Option("--probe", help="Only this probe.")] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Run the spec's probes (each `run` through sh -c) and record each."""
    from loopkit.services.probes import probe_run as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, probe=probe_id),
        as_json=as_json,
        human=_lines("records", _record_text),
        ctx=ctx,
        code=lambda d: 0 if all(r["result"] == "PASS" for r in d["records"]) else 1,
    )


@app.command()
def evidence(
    phase: Phase,
    milestone: Annotated[str | None, typer.Option("--milestone", help="Only this milestone.")] = None,
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
            out.append(
                f"{m['id']}: "
                + "; ".join(
                    f"{key} {', '.join(m[key]) or '-'}" for key in ("passing", "failing", "missing", "stale")
                )
            )
        return "\n".join(out)

    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone),
        as_json=as_json,
        human=human,
        ctx=ctx,
    )


Note = Annotated[str | None, typer.Option("--note", help="A one-line note.")]


@app.command()
def claim(
    phase: Phase,
    milestone: Milestone,
    note: Note = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Builder: claim a milestone whose evidence holds on committed code."""
    from loopkit.services.loop import claim as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, note=note),
        as_json=as_json,
        human=_committed("claimed {milestone} at {head:.10}"),
        ctx=ctx,
    )


@app.command()
def verdict(
    result: Annotated[str, typer.Argument(metavar="PASS|FAIL", help="The verdict.")],
    phase: Phase,
    milestone: Milestone,
    note: Note = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Adversary: record PASS or FAIL on the latest claim of a milestone."""
    from loopkit.services.loop import verdict as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), phase=phase, milestone=milestone, result=result, note=note),
        as_json=as_json,
        human=_committed("{milestone} {result}"),
        ctx=ctx,
    )


def _unmet_text(d: dict[str, Any]) -> str:
    if d["ok"]:
        return "gate met: DONE may be written"
    return "\n".join(f"unmet: {u['code']}: {u['message']}" for u in d["unmet"])


@app.command()
def gate(phase: Phase, workspace: Workspace = None, role: Role = None, as_json: Json = False) -> None:
    """What `done` would check, writing nothing: exit 0 when met, 3 when not."""
    from loopkit.services.loop import gate as service

    ctx = _context(workspace, role)

    def call() -> dict[str, Any]:
        unmet = service(_checked(ctx), phase=phase)
        return {"ok": not unmet, "unmet": [u.to_json() for u in unmet]}

    _run(call, as_json=as_json, human=_unmet_text, ctx=ctx, code=lambda d: 0 if d["ok"] else 3)


@app.command()
def done(
    phase: Phase,
    summary: Annotated[
        str | None, typer.Option("--summary", help="A one-line summary for the DONE commit.")
    ] = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Builder: the DONE gate, then ## DONE in STATUS and the DONE commit."""
    from loopkit.services.loop import done as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: {"ok": True, **service(_checked(ctx), phase=phase, summary=summary)},
        as_json=as_json,
        human=_committed("{phase}: ## DONE"),
        ctx=ctx,
    )


@inbox_app.command("send")
def inbox_send(
    to: Annotated[str, typer.Option("--to", help="builder | adversary | orchestrator")],
    phase: OptPhase = None,
    subject: Annotated[str | None, typer.Option("--subject", help="One line.")] = None,
    body: Body = None,
    body_file: BodyFile = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Append a message to <TO>-INBOX.md and print its id."""
    from loopkit.services.inbox import send as service

    ctx = _context(workspace, role, no_commit)
    _run(
        lambda: service(_checked(ctx), to=to, phase=phase, subject=subject, body=_body(body, body_file)),
        as_json=as_json,
        human=lambda d: d["id"],
        ctx=ctx,
    )


def _message_text(m: dict[str, Any]) -> str:
    return f"{m['id']}  {m['from']} → {m['to']}  [{m['phase'] or '-'}]  {m['subject']}"


@inbox_app.command("list")
def inbox_list(
    to: Annotated[str | None, typer.Option("--to", help="Only this role's inbox.")] = None,
    phase: OptPhase = None,
    workspace: Workspace = None,
    role: Role = None,
    as_json: Json = False,
) -> None:
    """Pending messages, oldest first."""
    from loopkit.services.inbox import list_messages as service

    ctx = _context(workspace, role)
    _run(
        lambda: service(_checked(ctx), to=to, phase=phase),
        as_json=as_json,
        human=_lines("messages", _message_text),
        ctx=ctx,
    )


@inbox_app.command("consume")
def inbox_consume(
    to: Annotated[str, typer.Option("--to", help="Whose inbox.")],
    ids: Annotated[list[str] | None, typer.Argument(metavar="[ID…]", help="The messages to consume.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Consume every pending message.")] = False,
    phase: OptPhase = None,
    workspace: Workspace = None,
    role: Role = None,
    no_commit: NoCommit = False,
    as_json: Json = False,
) -> None:
    """Print and archive messages, note them in the journal, remove the inbox file once empty."""
    from loopkit.services.inbox import consume as service

    ctx = _context(workspace, role, no_commit)

    def human(d: dict[str, Any]) -> str:
        return "\n\n".join(f"{_message_text(m)}\n{m['body']}" for m in d["consumed"]) or "nothing to consume"

    _run(
        lambda: service(_checked(ctx), to=to, ids=ids or [], every=every, phase=phase),
        as_json=as_json,
        human=human,
        ctx=ctx,
    )


def _status_text(d: dict[str, Any]) -> str:
    out = []
    for p in d["phases"]:
        inbox = " ".join(f"{k}:{v}" for k, v in p["inbox"].items() if v)
        out.append(f"{p['phase']}  {p['state']}  {p['title']}" + (f"  (inbox {inbox})" if inbox else ""))
        for m in p["milestones"]:
            ev = m["evidence"]
            detail = f"evidence {len(ev['passing'])}/{len(ev['required'])}"
            if ev["stale"]:
                detail += f", stale {', '.join(ev['stale'])}"
            out.append(f"  {m['id']:<8} {m['state']:<8} {detail}  {m['title']}")
        for problem in p["problems"]:
            out.append(f"  problem: {problem['code']}: {problem['message']}")
    return "\n".join(out) or "no phases"


@app.command()
def status(
    phase: OptPhase = None, workspace: Workspace = None, role: Role = None, as_json: Json = False
) -> None:
    """The orchestrator's view of every phase: what needs someone first (--phase P: the detail)."""
    from loopkit.cli.text import status_renderer
    from loopkit.services.view import status as service

    ctx = _context(workspace, role)
    human = status_renderer(phase=phase, stream=sys.stdout)
    _run(lambda: service(_checked(ctx), phase=phase), as_json=as_json, human=human, ctx=ctx)


@app.command()
def check(
    phase: OptPhase = None, workspace: Workspace = None, role: Role = None, as_json: Json = False
) -> None:
    """Every problem loopkit can see; exit 1 when any."""
    from loopkit.services.view import check as service

    ctx = _context(workspace, role)

    def human(d: dict[str, Any]) -> str:
        if d["ok"]:
            return "no problems"
        return "\n".join(
            f"{p['file'] or p['phase']}:{p['line'] or ''}: {p['code']}: {p['message']}" for p in d["problems"]
        )

    _run(
        lambda: service(_checked(ctx), phase=phase),
        as_json=as_json,
        human=human,
        ctx=ctx,
        code=lambda d: 0 if d["ok"] else 1,
    )


@app.command()
def demo(
    folder: Annotated[
        str | None,
        typer.Option(
            "--dir",
            metavar="D",
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

    def human(d: dict[str, Any]) -> str:
        log = "\n".join(d["log"])
        return f"\n$ loopkit status\n{_status_text(d['status'])}\n\n$ git log --oneline\n{log}"

    def call() -> dict[str, Any]:
        _checked(_context(None, role))  # the demo plays every role itself; a bad --role is still an error
        return service(folder, step=step, signed=signed)

    _run(call, as_json=as_json, human=human)


def main() -> None:
    """The entry point. Click's own usage errors become one `loopkit: error:` line and exit 2."""
    as_json = "--json" in sys.argv[1 : sys.argv.index("--")] if "--" in sys.argv else "--json" in sys.argv[1:]
    try:
        code = app(args=_lift_sync(sys.argv[1:]), standalone_mode=False)
    except LoopkitError as exc:  # raised outside a command's own error contract
        if as_json:
            _emit(error_document(exc, exc.message), True, None, None)
        sys.stderr.write(f"loopkit: error: {exc.message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("loopkit: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        _click_failure(exc, as_json)
        if os.environ.get("LOOPKIT_DEBUG"):
            raise
        line = (
            f"internal error ({type(exc).__name__}): this is a bug; please report it "
            "(LOOPKIT_DEBUG=1 shows the traceback)"
        )
        if as_json:
            _emit({"schema_version": 1, "ok": False, "exit": 70, "error": line}, True, None, None)
        sys.stderr.write(f"loopkit: {line}\n")
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


_NO_SYNC = (
    ("init",),
    ("demo",),
    ("journal", "parse"),
    ("merge-driver",),
    ("mcp",),
    ("sync",),
    ("inbox", "wait"),
)


def _lift_sync(argv: list[str]) -> list[str]:
    """`--sync` is accepted after any command (SPEC section 7) without a parameter on each one:
    it is taken out of the arguments here and handled around the command by `_run`. Commands that
    never sync refuse it as the unknown option it is for them."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--sync" not in argv[:end]:
        return argv
    words = [
        a
        for n, a in enumerate(argv[:end])
        if not a.startswith("-") and (n == 0 or argv[n - 1] not in ("--workspace", "--role"))
    ]
    if any(tuple(words[: len(name)]) == name for name in _NO_SYNC):
        return argv
    _GLOBAL["sync"] = True
    return [a for a in argv[:end] if a != "--sync"] + argv[end:]


def _click_failure(exc: Exception, as_json: bool) -> None:
    """Click's exceptions (typer vendors click in some versions, so they are matched by shape)."""
    name = type(exc).__name__
    if name == "Abort":
        sys.stderr.write("loopkit: interrupted\n")
        sys.exit(130)
    exit_code = getattr(exc, "exit_code", None)
    message = getattr(exc, "format_message", None)
    if not isinstance(exit_code, int) or not callable(message):
        return
    if name == "NoArgsIsHelpError":
        sys.stdout.write(str(message()).rstrip("\n") + "\n")
        sys.exit(exit_code)
    context = getattr(exc, "ctx", None)
    where = f" (see `{context.command_path} --help`)" if context is not None else ""
    text = " ".join(str(message()).split()) + where
    if as_json:
        _emit({"schema_version": 1, "ok": False, "exit": exit_code, "error": text}, True, None, None)
    sys.stderr.write(f"loopkit: error: {text}\n")
    sys.exit(exit_code)


# Command groups that live in their own modules register themselves on `app` when imported.
# (Each is imported here, after everything they use from this module is defined.)
from loopkit.cli import agents as _agents  # noqa: E402, F401  (mcp, next, inbox wait)
from loopkit.cli import report as _report  # noqa: E402, F401
from loopkit.cli import sync as _sync_commands  # noqa: E402, F401
