"""The typer app and the one error boundary: parse arguments, call one service function, print text
or JSON, exit. The commands live one module per group (phase, journal, probe, loop, inbox, view,
agents, report, sync, demo), the shared options in options.py, the human renderers in text.py.

The only module that imports typer, prints, or exits. Every expected failure is one line on
stderr and SPEC's exit code; anything else is a bug: one line asking for a report, exit 70.
"""

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from loopkit.cli.options import EXIT_ALL, Json, Role, Workspace, epilog
from loopkit.errors import LoopkitError, Refused, UsageError, bug_line, error_document, failure_document

# `loopkit --help` lists the commands in the order a loop uses them, not in the order of their code
LOOP_ORDER = (
    "init", "phase", "journal", "probe", "evidence", "claim", "verdict", "gate", "done", "instruct",
    "inbox", "status", "check", "next", "report", "sync", "demo", "mcp", "merge-driver",
)  # fmt: skip


class LoopOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: n for n, name in enumerate(LOOP_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), names.index(name)))


SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    cls=LoopOrder,
    help="Keeps the books of builder / adversary / orchestrator loops in git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=SETTINGS,
)


# --role, --workspace and --json may also come before the command: `loopkit --role builder claim …`
_GLOBAL: dict[str, Any] = {}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"loopkit {version('loopkit')}\n")
        raise typer.Exit(0)


@app.callback(epilog=epilog("loopkit --role builder claim --phase px --milestone M1", EXIT_ALL))
def _global_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print loopkit's version and exit."),
    ] = False,
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
    if role is not None and _GLOBAL.get("role") is not None and role != _GLOBAL["role"]:
        raise UsageError(
            f"--role {_GLOBAL['role']} before the command and --role {role} after it disagree: give one"
        )
    role = role or _GLOBAL.get("role")
    return Context(
        cwd=Path.cwd(),
        environ=dict(os.environ),
        workspace_dir=workspace,
        role_option=role,
        no_commit=no_commit,
    )


def _emit(
    data: Any,  # a Document, or an error document (a dict)
    as_json: bool,
    human: Callable[[Any], str] | None,
    ctx: Any = None,
) -> None:
    if as_json:
        from loopkit.commands import document

        payload = document(ctx, data)
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
    human: Callable[[Any], str] | None = None,
    ctx: Any = None,
    code: Callable[[Any], int] | None = None,
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
        raise typer.Exit(_bug(exc, as_json)) from None
    _warnings(ctx)
    _emit(data, as_json, human, ctx)
    exit_code = code(data) if code else 0
    if exit_code:
        raise typer.Exit(exit_code)


def _syncing(ctx: Any) -> Any:
    """The sync service when --sync was given (anywhere in the command line) or [git] sync is on."""
    if not ctx.wants_sync(bool(_GLOBAL.get("sync"))):
        return None
    from loopkit.services import sync as syncing

    return syncing


def _progress(text: str) -> None:
    sys.stderr.write(f"loopkit: {text}\n")
    sys.stderr.flush()


def _fail(exc: LoopkitError, as_json: bool, ctx: Any) -> None:
    from loopkit.commands import failure

    doc = failure(ctx, exc)  # the one error document, its message redacted
    _warnings(ctx)
    if as_json:
        _emit(doc, True, None, None)
    sys.stderr.write(f"loopkit: error: {doc['error']}\n")
    if isinstance(exc, Refused) and not as_json:
        for detail in exc.details:
            sys.stderr.write(f"  - {getattr(detail, 'code', '')}: {getattr(detail, 'message', detail)}\n")
    raise typer.Exit(exc.exit_code)


def _bug(exc: Exception, as_json: bool) -> int:
    """A bug in loopkit: one line (and the error document under --json), exit 70; re-raised
    under LOOPKIT_DEBUG."""
    if os.environ.get("LOOPKIT_DEBUG"):
        raise exc
    line = bug_line(exc, what="the command you ran")
    if as_json:
        _emit(failure_document(70, line), True, None, None)
    sys.stderr.write(f"loopkit: {line}\n")
    return 70


def _warnings(ctx: Any) -> None:
    for line in getattr(ctx, "warnings", ()) or ():
        sys.stderr.write(f"loopkit: warning: {line}\n")


def _checked(ctx: Any) -> Any:  # the hand-written commands' (commands.run does it for the table's)
    """Reject an unknown role before anything else, as SPEC asks of every command."""
    _ = ctx.role
    return ctx


def main() -> None:
    """The entry point. Click's own usage errors become one `loopkit: error:` line and exit 2."""
    as_json = "--json" in sys.argv[1 : sys.argv.index("--")] if "--" in sys.argv else "--json" in sys.argv[1:]
    try:
        load_commands(sys.argv[1:])
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
        sys.exit(_bug(exc, as_json))
    sys.exit(code if isinstance(code, int) else 0)


def _no_sync() -> tuple[tuple[str, ...], ...]:
    """The commands that never sync around themselves: the table's, and the hand-written ones."""
    from loopkit.commands import COMMANDS

    table = tuple(tuple(c.words.split()) for c in COMMANDS if not c.syncs)
    return (("init",), ("demo",), ("merge-driver",), ("mcp",), *table)


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
    if any(tuple(words[: len(name)]) == name for name in _no_sync()):
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
    exec_ = context is not None and context.command_path.endswith("probe exec")
    if name == "NoSuchOption" and exec_ and "--" not in sys.argv[1:]:
        text = f"put -- before the command: loopkit probe exec … -- CMD [ARG…] ({text})"
    if as_json:
        _emit(failure_document(exit_code, text), True, None, None)
    sys.stderr.write(f"loopkit: error: {text}\n")
    sys.exit(exit_code)


# The commands of the table (loopkit/commands.py) are generated (cli/wiring.py); the few that do
# not fit it (init and demo make their own workspace, report writes a page, mcp serves, merge-driver
# is git's) live in their own modules and register themselves on `app` when imported. A run
# registers only the command(s) it was given: agents call loopkit dozens of times an hour, and
# each command costs typer some work. Help, a bad command, or none registers them all.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "init": ("phase",), "mcp": ("agents",), "report": ("report",), "merge-driver": ("sync",),
    "demo": ("demo",), "verify": ("remote_hook",), "hook": ("remote_hook",),
}  # fmt: skip
_VALUED = ("--workspace", "--role")


def _command_word(argv: list[str]) -> str | None:
    """The command a command line names, past the global options; None for none (or `--help`)."""
    n = 0
    while n < len(argv):
        word = argv[n]
        if word in ("-h", "--help", "--version", "--"):
            return None
        if not word.startswith("-"):
            return word
        n += 2 if word in _VALUED else 1
    return None


def load_commands(argv: list[str] | None = None) -> None:
    """Register the commands `argv` needs on `app` (every command when argv is None or unknown)."""
    from importlib import import_module

    from loopkit.cli.wiring import register
    from loopkit.commands import COMMANDS

    word = _command_word(argv) if argv is not None else None
    table = [c for c in COMMANDS if c.words.split()[0] == word]
    if table or word in COMMAND_MODULES:
        modules = COMMAND_MODULES.get(word or "", ())
    else:
        table, modules = (
            list(COMMANDS),
            tuple(dict.fromkeys(m for ms in COMMAND_MODULES.values() for m in ms)),
        )
    for command in table:
        register(command)
    for name in modules:
        import_module(f"loopkit.cli.{name}")
