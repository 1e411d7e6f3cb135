"""`loopkit mcp`: the commands as MCP tools over stdio, on the official SDK's low-level server.

Each tool is a thin call into the same service function its command calls, and returns the
command's `--json` document, as structured content and as JSON text. A refusal or an error is
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from loopkit import __version__
from loopkit.errors import LoopkitError, Refused, UsageError
from loopkit.services.context import Context

Args = Mapping[str, Any]
Call = Callable[[Context, Args], dict[str, Any]]

WAIT_TIMEOUT = 50.0  # agent hosts time a tool call out after about 60 s
WAIT_INTERVAL = 1.0  # a check is one stat of the inbox file
# Set when the client has gone: a wait still sleeping in its worker thread ends at once, instead
# of holding the process (worker threads are joined at exit) until its timeout.
CLOSING = threading.Event()


# -- argument schemas -----------------------------------------------------------------------------
def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _bool(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": False}


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


ROLE_ENUM = ["builder", "adversary", "orchestrator"]
PHASE = _str(
    "The phase name (phases/<phase>.toml, STATUS-<phase>.md): [a-z0-9][a-z0-9._-]{0,63}.",
    pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
)
ONLY_PHASE = {**PHASE, "description": "Only this phase (default: every phase)."}
MILESTONE = _str(
    "The milestone id, as in the phase spec (M1, M2, …).", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
)
NO_COMMIT = _bool("Write the files but do not commit them (such records count for no gate).")
SYNC = _bool("Sync with the shared remote before the command (and after it, when it committed).")
NOTE = _str("A one-line note, shown in STATUS, the commit subject and the message it sends.")


@dataclass(frozen=True)
class ToolDef:
    """One MCP tool: its name, description, input schema and the service call behind it."""

    name: str
    description: str
    call: Call
    properties: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    read_only: bool = False

    def schema(self, *, phase_default: bool) -> dict[str, Any]:
        properties = dict(self.properties)
        if self.name != "sync":
            properties.setdefault("sync", SYNC)
        required = [r for r in self.required if not (phase_default and r == "phase")]
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }


def _tools() -> list[ToolDef]:
    # imported on the first tools/list or tools/call, not at start: `initialize` is answered first
    from loopkit.services import inbox, journals, loop, phases, probes, status, view
    from loopkit.services.next import next_actions

    def gate(ctx: Context, a: Args) -> dict[str, Any]:
        return loop.gate(ctx, phase=a["phase"])

    def done(ctx: Context, a: Args) -> dict[str, Any]:
        return {"ok": True, **loop.done(ctx, phase=a["phase"], summary=a.get("summary"))}

    return [
        ToolDef(
            "next",
            "What this server's role should do next, phase by phase: pending messages first, then each "
            "action (consume|probe|claim|fix|done|review|open|wait|nothing) with the exact command, the "
            "same move as a tool call (`tool`), and why. Start here.",
            lambda ctx, a: next_actions(ctx, phase=a.get("phase")),
            {"phase": ONLY_PHASE},
            read_only=True,
        ),
        ToolDef(
            "status",
            "The orchestrator's view of every phase: state, milestones with claim, verdict and "
            "evidence, inbox counts, problems.",
            lambda ctx, a: status.status(ctx, phase=a.get("phase")),
            {"phase": ONLY_PHASE},
            read_only=True,
        ),
        ToolDef(
            "check",
            "Every problem loopkit can see (forged or removed records, stale evidence, bad specs). "
            "Problems are the result, not an error: `ok` is false when there are any.",
            lambda ctx, a: view.check(ctx, phase=a.get("phase")),
            {"phase": ONLY_PHASE},
            read_only=True,
        ),
        ToolDef(
            "phase_list",
            "Phases found: specs and STATUS files, whether each is open and done.",
            lambda ctx, a: phases.phase_list(ctx),
            read_only=True,
        ),
        ToolDef(
            "phase_new",
            "Open a phase (orchestrator): STATUS and JOURNAL from templates, from phases/<phase>.toml; "
            "one commit.",
            lambda ctx, a: phases.phase_new(ctx, a["phase"], a.get("title")),
            {
                "phase": PHASE,
                "title": _str("The phase title (default: the spec's)."),
                "no_commit": NO_COMMIT,
            },
            ("phase",),
        ),
        ToolDef(
            "journal_add",
            "Append a timestamped entry to this role's journal of a phase and commit it.",
            lambda ctx, a: journals.journal_add(ctx, phase=a["phase"], title=a["title"], body=a.get("body")),
            {
                "phase": PHASE,
                "title": _str("The entry's title (one line)."),
                "body": _str("The entry's Markdown text (optional)."),
                "no_commit": NO_COMMIT,
            },
            ("phase", "title"),
        ),
        ToolDef(
            "journal_show",
            "The parsed journal of a role for a phase: entries and the evidence in them.",
            lambda ctx, a: journals.journal_show(ctx, phase=a["phase"], of=a.get("of")),
            {"phase": PHASE, "of": _str("Whose journal (default: the builder's).", enum=ROLE_ENUM)},
            ("phase",),
            read_only=True,
        ),
        ToolDef(
            "journal_parse",
            "Parse any journal file, loopkit's or hand-written, into entries and free-form evidence.",
            lambda ctx, a: journals.journal_parse(ctx, a["file"]),
            {"file": _str("The file, relative to the folder the server started in.")},
            ("file",),
            read_only=True,
        ),
        ToolDef(
            "probe_exec",
            "Run one command (argv, no shell) and record what was observed as evidence in this role's "
            "journal. A probe that fails its expectation is a FAIL record, not an error. A probe id "
            "the spec defines must be run exactly as the spec says (use probe_run for those).",
            lambda ctx, a: probes.probe_exec(
                ctx,
                phase=a["phase"],
                milestone=a["milestone"],
                probe=a["id"],
                argv=list(a["argv"]),
                title=a.get("title"),
                expect=list(a.get("expect") or []),
                expect_not=list(a.get("expect_not") or []),
                expect_exit=a.get("expect_exit"),
                observe=a.get("observe"),
                timeout=a.get("timeout"),
            ),
            {
                "phase": PHASE,
                "milestone": MILESTONE,
                "id": _str("The probe id (P1, A1-break, …).", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"),
                "argv": {**_strings("The command and its arguments, run without a shell."), "minItems": 1},
                "title": _str("What the probe shows."),
                "expect": _strings("Allowed observed values (any one passes)."),
                "expect_not": _strings("Forbidden observed values (a negative probe)."),
                "expect_exit": {"type": "integer", "description": "The exit status it must have."},
                "observe": _str(
                    "What is observed: exit | stdout | regex:<pattern with one group> (default: stdout "
                    "with expect/expect_not, else exit)."
                ),
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Seconds before it is killed (default from loopkit.toml, 30).",
                },
                "no_commit": NO_COMMIT,
            },
            ("phase", "milestone", "id", "argv"),
        ),
        ToolDef(
            "probe_run",
            "Run the spec's probes (each `run` through sh -c) and record each as evidence; FAIL records "
            "are results, not errors.",
            lambda ctx, a: probes.probe_run(
                ctx, phase=a["phase"], milestone=a.get("milestone"), probe=a.get("probe")
            ),
            {
                "phase": PHASE,
                "milestone": {**MILESTONE, "description": "Only this milestone."},
                "probe": _str("Only this probe id."),
                "no_commit": NO_COMMIT,
            },
            ("phase",),
        ),
        ToolDef(
            "evidence",
            "Evidence per milestone: required probes, the latest record of each, passing, failing, "
            "missing, stale.",
            lambda ctx, a: probes.evidence(ctx, phase=a["phase"], milestone=a.get("milestone")),
            {"phase": PHASE, "milestone": {**MILESTONE, "description": "Only this milestone."}},
            ("phase",),
            read_only=True,
        ),
        ToolDef(
            "claim",
            "Builder: claim a milestone whose required probes pass on committed code; writes the claim "
            "and a message to the adversary in one commit. Refused (exit 3, `unmet` lists each missing, "
            "failing or stale probe) otherwise.",
            lambda ctx, a: loop.claim(ctx, phase=a["phase"], milestone=a["milestone"], note=a.get("note")),
            {"phase": PHASE, "milestone": MILESTONE, "note": NOTE, "no_commit": NO_COMMIT},
            ("phase", "milestone"),
        ),
        ToolDef(
            "verdict",
            "Adversary: record PASS or FAIL on the latest claim of a milestone, with a message to the "
            "builder. PASS needs an open claim; FAIL is always allowed (say why in `note`).",
            lambda ctx, a: loop.verdict(
                ctx, phase=a["phase"], milestone=a["milestone"], result=a["result"], note=a.get("note")
            ),
            {
                "phase": PHASE,
                "milestone": MILESTONE,
                "result": _str("The verdict.", enum=["PASS", "FAIL"]),
                "note": NOTE,
                "no_commit": NO_COMMIT,
            },
            ("phase", "milestone", "result"),
        ),
        ToolDef(
            "gate",
            "What `done` would check, writing nothing: `ok` and each `unmet` condition. An unmet gate "
            "is the result, not an error.",
            gate,
            {"phase": PHASE},
            ("phase",),
            read_only=True,
        ),
        ToolDef(
            "done",
            "Builder: the DONE gate, then `## DONE` in STATUS and the DONE commit. Refused (exit 3, "
            "`unmet` listed) while any condition fails.",
            done,
            {
                "phase": PHASE,
                "summary": _str("A one-line summary for the DONE commit."),
                "no_commit": NO_COMMIT,
            },
            ("phase",),
        ),
        ToolDef(
            "inbox_send",
            "Send a message to a role's inbox; returns its id.",
            lambda ctx, a: inbox.send(
                ctx, to=a["to"], phase=a.get("phase"), subject=a.get("subject"), body=a.get("body")
            ),
            {
                "to": _str("Whose inbox.", enum=ROLE_ENUM),
                "phase": {**PHASE, "description": "The phase it is about (optional)."},
                "subject": _str("One line (default: the body's first line)."),
                "body": _str("The message text."),
                "no_commit": NO_COMMIT,
            },
            ("to",),
        ),
        ToolDef(
            "inbox_list",
            "Pending messages, oldest first; reading consumes nothing.",
            lambda ctx, a: inbox.list_messages(ctx, to=a.get("to"), phase=a.get("phase")),
            {
                "to": _str("Only this role's inbox (default: every inbox).", enum=ROLE_ENUM),
                "phase": {**PHASE, "description": "Only messages about this phase."},
            },
            read_only=True,
        ),
        ToolDef(
            "inbox_consume",
            "Archive messages from an inbox (this role's own), noting them in the journal; returns them.",
            lambda ctx, a: inbox.consume(
                ctx,
                to=a["to"],
                ids=list(a.get("ids") or []),
                every=bool(a.get("all")),
                phase=a.get("phase"),
            ),
            {
                "to": _str("Whose inbox (your own role).", enum=ROLE_ENUM),
                "ids": _strings("The message ids to consume (or set `all`)."),
                "all": _bool("Consume every pending message (instead of `ids`)."),
                "phase": {**PHASE, "description": "Only messages about this phase."},
                "no_commit": NO_COMMIT,
            },
            ("to",),
        ),
        ToolDef(
            "inbox_wait",
            "Wait until a message for a role is pending (consuming nothing), at most `timeout` seconds: "
            "returns the pending messages with timed_out false, or no messages with timed_out true. "
            "Keep `timeout` below your host's tool-call timeout.",
            _wait,
            {
                "to": _str("Whose inbox (default: this server's role).", enum=ROLE_ENUM),
                "phase": {**PHASE, "description": "Only messages about this phase or about no phase."},
                "timeout": {
                    "type": "number",
                    "minimum": 0,
                    "default": WAIT_TIMEOUT,
                    "description": f"Seconds to wait at most (default {WAIT_TIMEOUT:g}).",
                },
                "sync": _bool("Fetch from the shared remote before each check (every 15 s)."),
            },
            read_only=True,
        ),
        ToolDef(
            "sync",
            "Fetch the shared remote's branch, integrate it, push; reports what came in and went out.",
            lambda ctx, a: _sync(ctx, remote=a.get("remote")),
            {"remote": _str("The remote (default: [git] remote, origin).")},
        ),
    ]


def _wait(ctx: Context, a: Args) -> dict[str, Any]:
    from loopkit.services.wait import DEFAULT_SYNC_INTERVAL, wait

    sync = bool(a.get("sync"))
    return wait(
        ctx,
        to=a.get("to"),
        phase=a.get("phase"),
        timeout=float(a.get("timeout", WAIT_TIMEOUT)),
        interval=DEFAULT_SYNC_INTERVAL if sync else WAIT_INTERVAL,
        sync=sync,
        sleep=CLOSING.wait,
        stop=CLOSING.is_set,
    )


def _sync(ctx: Context, *, remote: str | None = None) -> dict[str, Any]:
    """`loopkit sync` is being built alongside; call it when this build has it."""
    import importlib

    try:
        service = importlib.import_module("loopkit.services.sync")
    except ImportError:
        raise UsageError("sync is not available in this build of loopkit") from None
    result: dict[str, Any] = service.sync(ctx, remote=remote)
    return result


# -- calling a tool -------------------------------------------------------------------------------
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
}


def check_arguments(tool: ToolDef, args: Args, *, phase_default: str | None) -> dict[str, Any]:
    """The arguments against the tool's schema: every problem at once, as a usage error (exit 2)."""
    schema = tool.schema(phase_default=phase_default is not None)
    props: dict[str, Any] = schema["properties"]
    problems = [f"unknown argument {k!r}" for k in args if k not in props]
    out = dict(args)
    if phase_default is not None and "phase" in tool.required and out.get("phase") is None:
        out["phase"] = phase_default  # SPEC: --phase defaults to LOOPKIT_PHASE
    for name in schema["required"]:
        if out.get(name) is None:
            problems.append(f"{name!r} is required")
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
        raise UsageError(f"{tool.name}: {'; '.join(problems)} (it takes: {takes})")
    return out


def error_document(exc: LoopkitError, message: str) -> dict[str, Any]:
    """SPEC section 4's error document."""
    doc: dict[str, Any] = {"schema_version": 1, "ok": False, "exit": exc.exit_code, "error": message}
    if isinstance(exc, Refused) and exc.details:
        doc["unmet"] = [d.to_json() if hasattr(d, "to_json") else d for d in exc.details]
    return doc


@dataclass
class Loopkit:
    """The server's fixed settings: where it started, its role, its workspace, its environment."""

    cwd: Path
    environ: dict[str, str]
    role: str | None
    workspace: str | None

    @cached_property
    def tools(self) -> dict[str, ToolDef]:
        return {t.name: t for t in _tools()}

    @property
    def phase_default(self) -> str | None:
        return self.environ.get("LOOPKIT_PHASE") or None

    def context(self, *, no_commit: bool = False) -> Context:
        return Context(
            cwd=self.cwd,
            environ=dict(self.environ),
            workspace_dir=self.workspace,
            role_option=self.role,
            no_commit=no_commit,
        )

    def call(self, name: str, args: Args) -> tuple[dict[str, Any], bool]:
        """(the document, is it an error) for one tool call: never raises."""
        ctx = self.context(no_commit=bool(args.get("no_commit")))
        try:
            tool = self.tools.get(name)
            if tool is None:
                raise UsageError(f"no tool {name!r}: the tools are {', '.join(sorted(self.tools))}")
            checked = check_arguments(tool, args, phase_default=self.phase_default)
            # `sync` of inbox_wait is its own (fetch before each check); elsewhere it wraps the call
            around = name not in ("sync", "inbox_wait") and bool(checked.pop("sync", False))
            if around:
                _sync(ctx)
            data = tool.call(ctx, checked)
            if around and data.get("commit"):
                _sync(self.context())
        except LoopkitError as exc:
            return error_document(exc, _redacted(ctx, exc.message)), True
        except Exception as exc:
            if self.environ.get("LOOPKIT_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            message = (
                f"internal error ({type(exc).__name__}): this is a bug; please report it "
                "with the tool call you made (LOOPKIT_DEBUG=1 shows the traceback)"
            )
            return {"schema_version": 1, "ok": False, "exit": 70, "error": message}, True
        doc = {"schema_version": 1, **{k: v for k, v in data.items() if k != "schema_version"}}
        return _redacted_obj(ctx, doc), False


def _redacted(ctx: Context, text: str) -> str:
    try:
        return ctx.redactor.redact(text)
    except LoopkitError:
        return text


def _redacted_obj(ctx: Context, doc: dict[str, Any]) -> dict[str, Any]:
    redacted: dict[str, Any] = ctx.redactor.redact_obj(doc)
    return redacted


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
        phase_default = app.phase_default is not None
        return [
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=t.schema(phase_default=phase_default),
                annotations=types.ToolAnnotations(read_only_hint=t.read_only, open_world_hint=False),
            )
            for t in app.tools.values()
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
