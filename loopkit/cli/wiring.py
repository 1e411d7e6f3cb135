"""The typer commands, generated from the command table (loopkit/commands.py).

Each table command becomes a typer command whose signature is built with `inspect.Signature` and
`Annotated[..., typer.Option(...)]` parameters, as a hand-written one would declare them: the
table's parameters, then `--body-file` beside a `--body`, `--workspace`, `--role`, `--no-commit`
(hidden where the service refuses it) and `--json`. The callback reads the body, makes the
Context, and runs the command under the one error boundary (`cli._run`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopkit.cli import _GLOBAL, SETTINGS, _context, _progress, _run, app
from loopkit.cli.options import (
    BodyFile,
    Committed,
    Json,
    NoCommit,
    Role,
    Workspace,
    _body,
    _given_body,
    epilog,
)
from loopkit.commands import GROUP_HELP, Command, Param, run

if TYPE_CHECKING:
    from loopkit.documents import Document

GROUPS: dict[str, typer.Typer] = {"": app}
_BASE: dict[str, Any] = {"str": str, "bool": bool, "int": int, "float": float, "strs": list[str]}
_REGISTERED: set[str] = set()


def _annotation(p: Param) -> Any:
    base = _BASE[p.type]
    if p.positional:
        info: Any = typer.Argument(metavar=p.metavar, help=p.help, envvar=p.envvar, show_default=False)
    else:
        info = typer.Option(
            p.option, metavar=p.metavar or None, help=p.help, envvar=p.envvar, show_default=p.type == "float"
        )
    optional = not p.required and p.type != "bool" and p.default in (None, [])
    return Annotated[base | None if optional else base, info]


def _parameter(p: Param) -> inspect.Parameter:
    if p.required:
        default: Any = inspect.Parameter.empty
    else:
        default = None if p.default == [] else p.default
    return inspect.Parameter(
        p.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_annotation(p)
    )


def signature(command: Command) -> inspect.Signature:
    """The typer signature of a command: its parameters, then the options every command shares."""
    params = [_parameter(p) for p in command.params if p.cli]
    shared: list[tuple[str, Any, Any]] = []
    if any(p.body for p in command.params):
        shared.append(("body_file", BodyFile, None))
    if command.workspace:
        shared.append(("workspace", Workspace, None))
    shared.append(("role", Role, None))
    if command.writes:
        shared.append(("no_commit", NoCommit, False))
    elif command.committed_only:
        shared.append(("no_commit", Committed, False))  # hidden: the service refuses it, in both shells
    shared.append(("as_json", Json, False))
    kind = inspect.Parameter.KEYWORD_ONLY
    params += [inspect.Parameter(name, kind, default=d, annotation=a) for name, a, d in shared]
    return inspect.Signature(params, return_annotation=None)


def _renderer(command: Command, args: Mapping[str, Any]) -> Callable[[Document], str]:
    def human(doc: Document) -> str:
        from loopkit.cli import human as renderers  # only when text is printed, never under --json

        render: Callable[[Document, Mapping[str, Any]], str] = getattr(renderers, command.renderer)
        return render(doc, args)

    return human


def callback(command: Command) -> Callable[..., None]:
    def invoke(**given: Any) -> None:
        as_json = bool(given.pop("as_json", False))
        body_file = given.pop("body_file", None)
        ctx = _context(
            given.pop("workspace", None), given.pop("role", None), bool(given.pop("no_commit", False))
        )
        args = dict(given)
        body = next((p for p in command.params if p.body), None)

        def call() -> Document:
            if body is not None:
                text, file = args.get(body.name), body_file
                args[body.name] = (
                    _body(text, file, required=True) if body.body == "stdin" else _given_body(text, file)
                )
            return run(command, ctx, args, sync=bool(_GLOBAL.get("sync")), progress=_progress)

        _run(
            call,
            as_json=as_json,
            human=_renderer(command, args),
            ctx=ctx,
            code=command.exit_code,
            sync=False,  # commands.run syncs around the service, as the MCP server does
        )

    invoke.__name__ = command.name
    invoke.__doc__ = command.help
    invoke.__signature__ = signature(command)  # type: ignore[attr-defined]
    return invoke


def register(command: Command) -> None:
    """Add one table command to its typer group (once)."""
    if command.words in _REGISTERED:
        return
    _REGISTERED.add(command.words)
    group, _, leaf = command.words.rpartition(" ")
    if group not in GROUPS:  # a new group of words: its typer group, made once
        GROUPS[group] = typer.Typer(help=GROUP_HELP[group], no_args_is_help=True, context_settings=SETTINGS)
        app.add_typer(GROUPS[group], name=group)
    GROUPS[group].command(leaf, help=command.help, epilog=epilog(command.example, command.exits))(
        callback(command)
    )
