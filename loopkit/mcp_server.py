"""`loopkit mcp`: the commands as MCP tools over stdio, on the official SDK's low-level server.

The tools are generated from the command table (loopkit/commands.py), as the CLI's commands are:
each calls the same service through `commands.run` and returns the command's `--json` document,
as structured content and as JSON text. A refusal or an error is
an `isError` result holding SPEC section 4's error document. The role and the workspace are
fixed when the server starts; every call gets a fresh Context, as every command does.

The only module that imports `mcp`, and only `loopkit mcp` imports it (the SDK takes about a
second to import; no other command pays for it). While serving, the SDK points fd 0 at the null
device and fd 1 at stderr, so nothing a tool runs can read the protocol's stdin or write into
its stdout; bodies come from arguments only, never from stdin.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from loopkit import __version__
from loopkit.commands import TOOLS, Command, document, failure, run
from loopkit.errors import LoopkitError, UsageError, bug_line, failure_document
from loopkit.services.context import Context

Args = Mapping[str, Any]

ROLE_HINT = "start the server with --role ROLE or LOOPKIT_ROLE set (a tool call cannot give one)"
WAIT_INTERVAL = 1.0  # a check is one stat of the inbox file
# Set when the client has gone: a wait still sleeping in its worker thread ends at once, instead
# of holding the process (worker threads are joined at exit) until its timeout.
CLOSING = threading.Event()


def _wait_shell(args: Args) -> dict[str, Any]:
    """What only the server gives `inbox wait`: a short interval (a check is one stat of the inbox
    file), and a sleep that a closing client interrupts."""
    from loopkit.services.wait import DEFAULT_SYNC_INTERVAL

    return {
        "interval": DEFAULT_SYNC_INTERVAL if args.get("sync") else WAIT_INTERVAL,
        "sleep": CLOSING.wait,
        "stop": CLOSING.is_set,
    }


# -- calling a tool -------------------------------------------------------------------------------
def check_arguments(
    command: Command, args: Args, *, environ: Mapping[str, str], role: str | None
) -> dict[str, Any]:
    """The arguments against the tool's schema, every problem at once as a usage error (exit 2);
    then the defaults the server supplies: LOOPKIT_PHASE, its own role for `to`, the table's."""
    schema = command.input_schema(environ=environ)
    props: dict[str, Any] = schema["properties"]
    hidden = {"no_commit"} if command.committed_only else set()  # the service refuses it, as the CLI's
    problems = [f"unknown argument {k!r}" for k in args if k not in props and k not in hidden]
    out = {k: v for k, v in args.items() if v is not None}
    for p in command.mcp_params():
        if p.name in out:
            continue
        if p.envvar and environ.get(p.envvar):
            out[p.name] = environ[p.envvar]  # SPEC: --phase defaults to LOOPKIT_PHASE
        elif p.mcp_default == "role":
            out[p.name] = role
        elif p.mcp_default is not None:
            out[p.name] = p.mcp_default
    problems += [f"{name!r} is required" for name in schema["required"] if out.get(name) is None]
    for name, value in args.items():
        prop = props.get(name)
        if prop is None or value is None:
            continue
        kind = prop["type"]
        if not isinstance(value, _TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool)):
            problems.append(f"{name!r} must be a {kind}")
        elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
            problems.append(f"{name!r} must be a list of strings")
        elif "enum" in prop and value not in prop["enum"]:
            problems.append(f"{name!r} must be one of {', '.join(prop['enum'])}")
    if problems:
        takes = ", ".join(sorted(props))
        raise UsageError(f"{command.name}: {'; '.join(problems)} (it takes: {takes})")
    return out


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
}


@dataclass
class Loopkit:
    """The server's fixed settings: where it started, its role, its workspace, its environment."""

    cwd: Path
    environ: dict[str, str]
    role: str | None
    workspace: str | None

    def context(self, *, no_commit: bool = False) -> Context:
        return Context(
            cwd=self.cwd,
            environ=dict(self.environ),
            workspace_dir=self.workspace,
            role_option=self.role,
            no_commit=no_commit,
            role_hint=ROLE_HINT,
        )

    def call(self, name: str, args: Args) -> tuple[dict[str, Any], bool]:
        """(the document, is it an error) for one tool call: never raises."""
        ctx = self.context(no_commit=bool(args.get("no_commit")))
        try:
            command = TOOLS.get(name)
            if command is None:
                raise UsageError(f"no tool {name!r}: the tools are {', '.join(sorted(TOOLS))}")
            checked = check_arguments(command, args, environ=self.environ, role=self.role)
            sync = bool(checked.pop("sync", False)) if command.syncs else False
            shell = _wait_shell(checked) if command.words == "inbox wait" else {}
            data = run(command, ctx, checked, sync=sync, **shell)
        except LoopkitError as exc:
            return document(None, failure(ctx, exc)), True  # its message redacted by failure
        except Exception as exc:
            if self.environ.get("LOOPKIT_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            return document(None, failure_document(70, bug_line(exc, what="the tool call you made"))), True
        return document(ctx, data), False


# -- the server -----------------------------------------------------------------------------------
def _instructions(role: str | None) -> str:
    who = f"You are the {role}." if role else "This server has no role: it can read, not write."
    return (
        f"loopkit keeps the books of a builder / adversary / orchestrator loop in git. {who} "
        "Call `next` to learn what to do: it lists each action with the tool call that does it. "
        "Wait for messages with `inbox_wait`, consume them with `inbox_consume`. Refusals come back "
        "as errors whose JSON says why (`error`, `exit`, and `unmet` for gates)."
    )


def build_server(app: Loopkit) -> Server[Any]:
    def listed() -> list[types.Tool]:
        return [
            types.Tool(
                name=c.name,
                description=" ".join(x for x in (c.help, c.details) if x),
                input_schema=c.input_schema(environ=app.environ),
                annotations=types.ToolAnnotations(read_only_hint=c.read_only, open_world_hint=False),
            )
            for c in TOOLS.values()
        ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await anyio.to_thread.run_sync(listed))

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        # the services block (git, probes, waiting): run them off the event loop, so the server
        # still answers pings and other calls meanwhile;
        # a cancelled wait may be abandoned (it writes nothing); a writing tool always finishes
        # its transaction, so a cancel never leaves half a record behind
        doc, is_error = await anyio.to_thread.run_sync(
            partial(app.call, params.name, dict(params.arguments or {})),
            abandon_on_cancel=params.name == "inbox_wait",
        )
        text = json.dumps(doc, ensure_ascii=False, indent=2)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=doc,
            is_error=is_error,
        )

    return Server(
        "loopkit",
        version=__version__,
        instructions=_instructions(app.role),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve(*, cwd: Path, role: str | None, workspace: str | None) -> None:
    """Serve until the client closes stdin."""
    app = Loopkit(cwd=cwd, environ=dict(os.environ), role=role, workspace=workspace)
    server = build_server(app)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        CLOSING.set()
