"""THE command table: each command declared once. `cli/` builds its typer commands from it and
`mcp_server.py` its tools, so the two shells cannot drift; a rule (who may claim, that a claim
takes no `no_commit`, that a message needs a body) lives in the service, never in a shell.

A command is its words (`inbox send`; the MCP tool is `inbox_send`), its parameters, the service
function it calls (named, imported on use: a run imports only its own service), the name of its
human renderer in `loopkit.cli.human`, and what it does: writes (it takes `--no-commit`),
`committed_only` (it writes, but only as loopkit's own commit: `--no-commit` reaches the service,
which refuses it), syncs (`--sync` around it), `tool` (an MCP tool too, SPEC section 8).

To add a command:
1. write its service (`loopkit/services/<module>.py`, `def name(ctx, *, ...) -> Document`, its
   shape in `loopkit/documents/<kind>.py`);
2. append a `Command(...)` to `COMMANDS`: its words, one-line help, "module:function", its
   `Param`s, an example and its exit codes; `tool=False` unless SPEC section 8 lists it as a tool;
   `exit_code` when a result that is no error still exits non-zero (`check`: 1);
3. write its human renderer in `cli/human.py` (named as the tool, or as `human=` says);
4. a new group of words (`hook pre-receive`): its one-line help in `GROUP_HELP`.
The CLI command, its help and the MCP tool follow; `tests/test_commands.py` checks them.
A command that cannot be a table command (it reads git's stdin, it serves, it builds its own
workspace) is hand-written in its own `cli/` module, named in `cli.COMMAND_MODULES`.

Imported on every run: it holds data only (no service, no typer, no SDK at import).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopkit.errors import LoopkitError, error_document
from loopkit.model import SCHEMA_VERSION

if TYPE_CHECKING:
    from loopkit.documents import Document
    from loopkit.services.context import Context

Doc = dict[str, Any]

JSON_TYPES = {"str": "string", "bool": "boolean", "int": "integer", "float": "number", "strs": "array"}
ROLES = ["builder", "adversary", "orchestrator"]
PHASE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


@dataclass(frozen=True)
class Param:
    """One parameter: the CLI's `--flag` (or positional argument) and the MCP tool's argument."""

    name: str  # snake_case: the MCP argument, the CLI's --flag (dashes) unless `flag` says otherwise
    type: str  # str | bool | int | float | strs (a list of strings)
    help: str
    metavar: str = ""  # the CLI's; bool flags have none
    required: bool = False
    default: Any = None
    mcp_default: Any = None  # where the tool's default differs (inbox_wait's 50 s); "role": the server's
    flag: str | None = None  # the CLI spelling when it is not --<name with dashes>
    positional: bool = False  # a CLI argument, not an option
    envvar: str | None = None  # the CLI's (and the server's) default from the environment
    kwarg: str | None = None  # the service's keyword when it is not `name`
    schema: Mapping[str, Any] = field(default_factory=dict)  # JSON schema beyond type/description
    body: str | None = None  # "stdin": --body, --body-file or standard input; "given": no stdin
    cli: bool = True
    mcp: bool = True  # False: the CLI's only (how often to look, a file to read)

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def keyword(self) -> str:
        return self.kwarg or self.name

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": JSON_TYPES[self.type], "description": self.help}
        if self.type == "strs":
            out["items"] = {"type": "string"}
        default = self.mcp_default if self.mcp_default not in (None, "role") else self.default
        if default is not None and default != []:
            out["default"] = default
        return {**out, **self.schema}


@dataclass(frozen=True)
class Command:
    words: str  # "inbox send"
    help: str  # one line: the CLI's summary and the tool's description
    service: str  # "module:function" under loopkit.services
    params: tuple[Param, ...] = ()
    human: str | None = None  # a function of loopkit.cli.human; default the tool's name
    example: str = ""
    exits: str = ""
    writes: bool = False  # takes --no-commit
    committed_only: bool = False  # writes only as loopkit's own commit: no_commit goes to the service
    syncs: bool = True  # `--sync` (or [git] sync) syncs before it and after it commits
    workspace: bool = True  # takes --workspace
    tool: bool = True  # an MCP tool (SPEC section 8 lists them)
    read_only: bool = False
    progress: bool = False  # the service reports progress (`progress=`), as the shell shows it
    exit_code: Callable[[Any], int] | None = None  # a result that is no error but not exit 0
    details: str = ""  # more for the tool's description (what an agent needs to know)

    @property
    def name(self) -> str:
        """The MCP tool's name."""
        return self.words.replace(" ", "_").replace("-", "_")

    @property
    def renderer(self) -> str:
        return self.human or self.name

    def function(self) -> Callable[..., Document]:
        module, _, attr = self.service.partition(":")
        found: Callable[..., Document] = getattr(importlib.import_module(f"loopkit.services.{module}"), attr)
        return found

    def mcp_params(self) -> list[Param]:
        return [p for p in self.params if p.mcp]

    def input_schema(self, *, environ: Mapping[str, str]) -> dict[str, Any]:
        """The tool's JSON schema; what the server's environment supplies (LOOPKIT_PHASE) is optional."""
        properties = {p.name: p.json_schema() for p in self.mcp_params()}
        if self.writes:
            properties["no_commit"] = NO_COMMIT.json_schema()
        if self.syncs:
            properties["sync"] = SYNC.json_schema()
        required = [
            p.name for p in self.mcp_params() if p.required and not (p.envvar and environ.get(p.envvar))
        ]
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def call(self, ctx: Context, args: Mapping[str, Any], **shell: Any) -> Document:
        """The service with these arguments (by the table's names), plus what the shell supplies."""
        given = {k: v for k, v in args.items() if v is not None}  # None: not given, in either shell
        kwargs = {p.keyword: given.get(p.name, p.default) for p in self.params}
        return self.function()(ctx, **{**kwargs, **shell})


def run(
    command: Command,
    ctx: Context,
    args: Mapping[str, Any],
    *,
    sync: bool,
    progress: Callable[[str], None] | None = None,
    **shell: Any,
) -> Document:
    """One command, in either shell: `--sync` before and after it (SPEC section 7), the service.
    `shell`: what only the shell can give the service (how to sleep, how to report progress)."""
    _ = ctx.role  # an unknown role is a usage error before anything else, in every command
    syncing: Any = None
    if command.syncs and ctx.wants_sync(sync):
        from loopkit.services import sync as syncing_module

        syncing = syncing_module
        syncing.sync_before(ctx, progress)
    if command.progress:
        shell["progress"] = progress
    data = command.call(ctx, args, **shell)
    if syncing is not None:
        syncing.sync_after(ctx, progress)
    return data


def document(ctx: Context | None, data: Document | Mapping[str, Any]) -> Doc:
    """A command's document as `--json` prints it and a tool returns it: schema_version first (the
    one place it is added), redacted. A Mapping is an error document (errors.error_document)."""
    fields = data if isinstance(data, Mapping) else data.to_json()
    doc: Doc = {"schema_version": SCHEMA_VERSION, **fields}
    if ctx is not None:
        redacted: Doc = ctx.redactor.redact_obj(doc)
        return redacted
    return doc


def failure(ctx: Context | None, exc: LoopkitError) -> Doc:
    """The error document of a failure, its message redacted (SPEC section 4)."""
    message = exc.message
    if ctx is not None:
        with contextlib.suppress(LoopkitError):
            message = ctx.redactor.redact(message)
    return error_document(exc, message)


# -- the parameters several commands share ---------------------------------------------------------
def _phase(help: str = "The phase (else LOOPKIT_PHASE).", *, required: bool = True, **kw: Any) -> Param:
    return Param(
        "phase",
        "str",
        help,
        metavar="PHASE",
        required=required,
        envvar="LOOPKIT_PHASE",
        schema={"pattern": PHASE_PATTERN},
        **kw,
    )


PHASE = _phase()
ONLY_PHASE = _phase("Only this phase (else LOOPKIT_PHASE; default every phase).", required=False)
MILESTONE = Param(
    "milestone",
    "str",
    "The milestone id (M1, M2, …).",
    metavar="M",
    required=True,
    schema={"pattern": ID_PATTERN},
)
ONLY_MILESTONE = Param(
    "milestone", "str", "Only this milestone.", metavar="M", schema={"pattern": ID_PATTERN}
)
NOTE = Param(
    "note", "str", "A one-line note (in STATUS, the commit subject and the message it sends).", metavar="TEXT"
)
NO_COMMIT = Param(
    "no_commit",
    "bool",
    "Write the files but do not commit them (such records count for no gate).",
    default=False,
)
SYNC = Param(
    "sync", "bool", "Sync with the shared remote before the command and after it commits.", default=False
)
TO_OWN = Param(
    "to",
    "str",
    "Whose inbox (default: your own role's).",
    metavar="ROLE",
    mcp_default="role",
    schema={"enum": ROLES},
)


def _body(help: str, *, stdin: bool) -> Param:
    return Param("body", "str", help, metavar="TEXT", body="stdin" if stdin else "given")


def _nonzero(key: str, code: int) -> Callable[[Any], int]:
    return lambda d: 0 if getattr(d, key) else code


def _probe_results(d: Any) -> int:
    records = getattr(d, "records", [d])  # probe run's, or probe exec's one
    return 0 if all(r.record.result == "PASS" for r in records) else 1


EXIT_READ = "0 done, 2 usage error, 4 bad input (no workspace, bad name, invalid file)."
EXIT_WRITE = "0 done, 2 usage error, 3 refused by a role rule, 4 bad input, 5 git failed."
EXIT_GATE = "0 done, 2 usage error, 3 refused by the gate or a role rule, 4 bad input, 5 git failed."

# -- the table, in the order a loop uses the commands ---------------------------------------------
COMMANDS: tuple[Command, ...] = (
    Command(
        "phase new",
        "Open a phase: STATUS and JOURNAL from templates, from phases/<phase>.toml when present.",
        "phases:phase_new",
        (
            _phase("The phase name.", positional=True),
            Param("title", "str", "The phase title (default: the spec's).", metavar="TITLE"),
        ),
        human="phase_new",
        example="loopkit --role orchestrator phase new px",
        exits=EXIT_WRITE,
        writes=True,
    ),
    Command(
        "phase update",
        "Orchestrator: commit phases/<phase>.toml as it now stands; gates use it from then on.",
        "phases:phase_update",
        (
            _phase("The phase name.", positional=True),
            Param("note", "str", "Why the spec changed (in the subject).", metavar="TEXT"),
        ),
        example='loopkit --role orchestrator phase update px --note "P2 checks the proxy"',
        exits=EXIT_WRITE,
        writes=True,
        tool=False,
    ),
    Command(
        "phase list",
        "Phases found: specs and STATUS files, whether each is open and done.",
        "phases:phase_list",
        example="loopkit phase list --json",
        exits=EXIT_READ,
        read_only=True,
    ),
    Command(
        "journal add",
        "Append a timestamped entry to your role's journal.",
        "journals:journal_add",
        (
            PHASE,
            Param("title", "str", "The entry's title (one line).", metavar="TITLE", required=True),
            _body("The entry's Markdown text (else --body-file, else standard input).", stdin=True),
        ),
        example='loopkit --role builder journal add --phase px --title "Proxy up" --body "…"',
        exits=EXIT_WRITE,
        writes=True,
    ),
    Command(
        "journal show",
        "The parsed journal of a role: entries and the evidence in them.",
        "journals:journal_show",
        (
            PHASE,
            Param(
                "of", "str", "Whose journal (default: the builder's).", metavar="ROLE", schema={"enum": ROLES}
            ),
        ),
        example="loopkit journal show --phase px --of adversary --json",
        exits=EXIT_READ,
        read_only=True,
    ),
    Command(
        "journal parse",
        "Parse any journal file, loopkit's or hand-written, into entries and free-form evidence.",
        "journals:journal_parse",
        (
            Param(
                "file",
                "str",
                "Any journal file, relative to the folder loopkit runs in.",
                metavar="FILE",
                required=True,
                positional=True,
            ),
        ),
        example="loopkit journal parse old/JOURNAL-px.md --json",
        exits=EXIT_READ,
        syncs=False,
        workspace=False,
        read_only=True,
    ),
    Command(
        "probe exec",
        "Run one command and record what was observed in your journal.",
        "probes:probe_exec",
        (
            PHASE,
            MILESTONE,
            Param(
                "id",
                "str",
                "The probe id (P1, A1-break, …).",
                metavar="ID",
                required=True,
                kwarg="probe",
                schema={"pattern": ID_PATTERN},
            ),
            Param(
                "argv",
                "strs",
                "The command and its arguments, run without a shell.",
                metavar="-- CMD [ARG…]",
                required=True,
                positional=True,
                schema={"minItems": 1},
            ),
            Param("title", "str", "What the probe shows.", metavar="TITLE"),
            Param(
                "expect",
                "strs",
                "An allowed observed value (repeatable; any one passes).",
                metavar="VALUE",
                default=[],
            ),
            Param(
                "expect_not", "strs", "A forbidden observed value (repeatable).", metavar="VALUE", default=[]
            ),
            Param("expect_exit", "int", "The exit status it must have.", metavar="N"),
            Param(
                "observe",
                "str",
                "exit | stdout | regex:<pattern with one group> (default: stdout with --expect or "
                "--expect-not, else exit).",
                metavar="KIND",
            ),
            Param(
                "timeout",
                "float",
                "Seconds before it is killed (default from loopkit.toml, 30).",
                metavar="S",
                schema={"exclusiveMinimum": 0},
            ),
        ),
        human="probe_record",
        example=(
            "loopkit --role adversary probe exec --phase px --milestone M1 --id A1 --expect 200 \\\n"
            "    -- curl -s -o /dev/null -w %{http_code} http://127.0.0.1:8080/health"
        ),
        exits="0 PASS, 1 FAIL or ERROR, 2 usage error, 3 refused (a spec probe with another command), "
        "4 bad input, 5 git failed.",
        writes=True,
        exit_code=_probe_results,
        details="A probe that fails its expectation is a FAIL record, not an error. A probe id the "
        "spec defines must be run exactly as the spec says (use probe_run for those).",
    ),
    Command(
        "probe run",
        "Run the spec's probes (each `run` through sh -c) and record them, in one commit.",
        "probes:probe_run",
        (PHASE, ONLY_MILESTONE, Param("probe", "str", "Only this probe id.", metavar="ID")),
        example="loopkit --role builder probe run --phase px --milestone M1",
        exits="0 every probe PASS, 1 one FAIL or ERROR, 2 usage error, 4 bad input, 5 git failed.",
        writes=True,
        exit_code=_probe_results,
        details="FAIL records are results, not errors.",
    ),
    Command(
        "evidence",
        "Evidence per milestone: required probes, the latest record of each, missing, stale.",
        "probes:evidence",
        (PHASE, ONLY_MILESTONE),
        example="loopkit evidence --phase px --milestone M1",
        exits=EXIT_READ,
        read_only=True,
    ),
    Command(
        "claim",
        "Builder: claim a milestone whose evidence holds on committed code.",
        "loop:claim",
        (PHASE, MILESTONE, NOTE),
        example='loopkit --role builder claim --phase px --milestone M1 --note "health gate"',
        exits=EXIT_GATE,
        committed_only=True,
        details="Writes the claim and a message to the adversary in one commit. Refused (exit 3, "
        "`unmet` lists each missing, failing or stale probe) otherwise.",
    ),
    Command(
        "verdict",
        "Adversary: record PASS or FAIL on the latest claim of a milestone.",
        "loop:verdict",
        (
            Param(
                "result",
                "str",
                "The verdict.",
                metavar="PASS|FAIL",
                required=True,
                positional=True,
                schema={"enum": ["PASS", "FAIL"]},
            ),
            PHASE,
            MILESTONE,
            NOTE,
        ),
        example='loopkit --role adversary verdict FAIL --phase px --milestone M1 --note "404"',
        exits=EXIT_GATE,
        committed_only=True,
        details="With a message to the builder. PASS needs an open claim; FAIL is always allowed "
        "(say why in `note`).",
    ),
    Command(
        "gate",
        "What `done` would check, writing nothing: exit 0 when met, 3 when not.",
        "loop:gate",
        (PHASE,),
        human="unmet",
        example="loopkit gate --phase px --json",
        exits="0 the gate holds, 2 usage error, 3 it does not, 4 bad input.",
        read_only=True,
        exit_code=_nonzero("ok", 3),
        details="An unmet gate is the result (`ok` false, each `unmet` condition), not an error.",
    ),
    Command(
        "done",
        "Builder: the DONE gate, then ## DONE in STATUS and the DONE commit.",
        "loop:done",
        (
            PHASE,
            Param("summary", "str", "A one-line summary for the DONE commit's subject.", metavar="TEXT"),
            _body("The DONE commit's narrative, before the list of verdicts.", stdin=False),
        ),
        example='loopkit --role builder done --phase px --body "M2 verified: deployed at 13:43Z"',
        exits=EXIT_GATE,
        committed_only=True,
        details="Refused (exit 3, `unmet` listed) while any condition fails.",
    ),
    Command(
        "instruct",
        "Orchestrator: write instructions for the builder into STATUS, in one commit.",
        "loop:instruct",
        (
            PHASE,
            Param(
                "milestone",
                "str",
                "At the end of this milestone's section (else the header).",
                metavar="M",
                schema={"pattern": ID_PATTERN},
            ),
            _body("The instructions.", stdin=False),
        ),
        example='loopkit --role orchestrator instruct --phase px --milestone M1 --body "Probe the proxy."',
        exits=EXIT_WRITE,
        writes=True,
        tool=False,
    ),
    Command(
        "inbox send",
        "Append a message to <TO>-INBOX.md and print its id.",
        "inbox:send",
        (
            Param("to", "str", "Whose inbox.", metavar="ROLE", required=True, schema={"enum": ROLES}),
            _phase("The phase it is about (else LOOPKIT_PHASE).", required=False),
            Param("subject", "str", "One line (default: the body's first line).", metavar="TEXT"),
            _body("The message text (else --body-file, else standard input).", stdin=True),
        ),
        human="message_id",
        example=(
            'loopkit --role orchestrator inbox send --to builder --phase px --subject "M2 next" --body "…"'
        ),
        exits=EXIT_WRITE,
        writes=True,
    ),
    Command(
        "inbox list",
        "Pending messages, oldest first; reading consumes nothing.",
        "inbox:list_messages",
        (
            Param(
                "to",
                "str",
                "Only this role's inbox (default: every inbox; a server's: its own role's).",
                metavar="ROLE",
                mcp_default="role",
                schema={"enum": ROLES},
            ),
            ONLY_PHASE,
        ),
        human="messages",
        example="loopkit inbox list --to builder --json",
        exits=EXIT_READ,
        read_only=True,
    ),
    Command(
        "inbox consume",
        "Print and archive messages, note them in the journal; the emptied inbox keeps its heading.",
        "inbox:consume",
        (
            TO_OWN,
            Param(
                "ids",
                "strs",
                "The messages to consume (or --all).",
                metavar="[ID…]",
                positional=True,
                default=[],
            ),
            Param("all", "bool", "Consume every pending message.", default=False, kwarg="every"),
            ONLY_PHASE,
        ),
        example="loopkit --role builder inbox consume --all",
        exits=EXIT_WRITE,
        writes=True,
    ),
    Command(
        "inbox wait",
        "Block until a message is pending, print them as `inbox list` does; consumes nothing.",
        "wait:wait",
        (
            TO_OWN,
            _phase("Only messages about this phase or about no phase (else LOOPKIT_PHASE).", required=False),
            Param(
                "timeout",
                "float",
                "Give up after S seconds (the CLI: exit 124; a tool: timed_out true).",
                metavar="S",
                default=600.0,
                mcp_default=50.0,  # agent hosts time a tool call out after about 60 s
                schema={"minimum": 0},
            ),
            Param(
                "interval",
                "float",
                "Seconds between checks (default 2; 15 with --sync).",
                metavar="S",
                mcp=False,
            ),
            Param("sync", "bool", "Fetch from the shared remote before each check.", default=False),
        ),
        human="waited",
        example="loopkit --role builder inbox wait --timeout 300",
        exits="0 a message is pending, 2 usage error, 4 bad input, 124 nothing within --timeout.",
        syncs=False,
        read_only=True,
        exit_code=lambda d: 124 if d.timed_out else 0,
        details="Keep `timeout` below your host's tool-call timeout.",
    ),
    Command(
        "status",
        "The orchestrator's view of every phase: what needs someone first (--phase P: the detail).",
        "status:status",
        (ONLY_PHASE,),
        example="loopkit status --phase px",
        exits=EXIT_READ,
        read_only=True,
    ),
    Command(
        "check",
        "Every problem loopkit can see; exit 1 when any.",
        "view:check",
        (ONLY_PHASE,),
        example="loopkit check --json",
        exits="0 no problems, 1 problems found, 2 usage error, 4 bad input.",
        read_only=True,
        exit_code=_nonzero("ok", 1),
        details="Problems are the result, not an error: `ok` is false when there are any.",
    ),
    Command(
        "next",
        "What your role should do next, phase by phase, each action with the exact command.",
        "next:next_actions",
        (ONLY_PHASE,),
        example="loopkit --role builder next --json",
        exits=EXIT_READ,
        read_only=True,
        details="Pending messages first, then each action (consume|probe|claim|fix|done|review|open|"
        "wait|nothing) with the same move as a tool call (`tool`), and why. Start here.",
    ),
    Command(
        "sync",
        "Fetch the remote's branch, integrate it (fast-forward or rebase), push; retry if it moved.",
        "sync:sync",
        (Param("remote", "str", "The remote (default: upstream, else [git] remote).", metavar="R"),),
        example="loopkit --role builder sync",
        exits="0 in sync, 2 usage error, 4 bad input, 5 git failed (a conflict).",
        syncs=False,
        progress=True,
    ),
)

# the help of each group of words (`loopkit phase --help`)
GROUP_HELP = {
    "phase": "Open, update and list phases.",
    "journal": "Add to, show and parse journals.",
    "probe": "Run probes and record their evidence.",
    "inbox": "Send, list, consume and wait for inbox messages.",
}
TOOLS: dict[str, Command] = {c.name: c for c in COMMANDS if c.tool}
