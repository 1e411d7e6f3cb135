"""The command table: the CLI's commands and the MCP tools are the same commands (SPEC section 8).

The CLI side is read from the click commands typer built, the MCP side from the tools the real
server lists to the SDK's own client; a refusal goes through both shells and must come back as the
same error document, and `no_commit` refused by claim, verdict and done writes nothing in either.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import LOOPKIT, Repo

pytest.importorskip("mcp")

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

# SPEC section 8's tools, in its order
SPEC_TOOLS = (
    "status", "check", "next", "phase_list", "phase_new", "journal_add", "journal_show",
    "journal_parse", "probe_exec", "probe_run", "evidence", "claim", "verdict", "gate", "done",
    "inbox_send", "inbox_list", "inbox_consume", "inbox_wait", "sync",
)  # fmt: skip
# SPEC section 8's argument names: each is some tool's
SPEC_ARGUMENTS = {
    "phase", "milestone", "id", "title", "body", "expect", "expect_not", "expect_exit", "observe",
    "timeout", "note", "summary", "to", "subject", "ids", "all", "no_commit", "sync", "argv", "result",
}  # fmt: skip
SHELL_OPTIONS = {"role", "workspace", "json", "help"}  # fixed when the server starts, or the CLI's own
# what only the CLI takes: a file to read the body from (a tool's body is its argument), how often
# `inbox wait` looks (the server looks every second: a check is one stat)
CLI_ONLY = {("journal_add", "body_file"), ("done", "body_file"), ("inbox_send", "body_file"),
            ("inbox_wait", "interval")}  # fmt: skip
PHASE = "px"
SPEC = """\
phase = "px"
title = "Both shells"

[[milestones]]
id = "M1"
title = "One"

  [[milestones.probes]]
  id = "P1"
  title = "true passes"
  run = "true"
  observe = "exit"
"""


def cli_commands() -> dict[str, Any]:
    """The click command of every CLI command, by its tool name (`inbox send` → inbox_send), with
    its words in `WORDS`."""
    import typer

    from loopkit.cli import app, load_commands

    load_commands(None)
    found: dict[str, Any] = {}

    def walk(command: Any, words: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found["_".join(words).replace("-", "_")] = command
            WORDS["_".join(words).replace("-", "_")] = words
            return
        for name, sub in subcommands.items():
            walk(sub, (*words, name))

    walk(typer.main.get_command(app), ())
    return found


WORDS: dict[str, tuple[str, ...]] = {}


def cli_names(command: Any) -> set[str]:
    """A command's options in snake_case (hidden ones left out) and its arguments, by name."""
    names = set()
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            names.add(param.name)
        else:
            longest = max(param.opts, key=len)
            names.add(longest.lstrip("-").replace("-", "_"))
    return names - SHELL_OPTIONS


def lifted_sync(words: tuple[str, ...]) -> bool:
    """Whether the CLI takes `--sync` after this command (handled around it, not a parameter)."""
    from loopkit.cli import _lift_sync

    lifted = _lift_sync([*words, "--sync"])
    return "--sync" not in lifted


def params(repo: Repo, role: str | None, env: dict[str, str] | None = None) -> StdioServerParameters:
    assert LOOPKIT is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
    if role:
        clean["LOOPKIT_ROLE"] = role
    return StdioServerParameters(
        command=LOOPKIT, args=["mcp"], env={**clean, **(env or {})}, cwd=str(repo.ws)
    )


@asynccontextmanager
async def server(repo: Repo, role: str | None) -> AsyncIterator[ClientSession]:
    async with stdio_client(params(repo, role)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, **arguments: Any) -> tuple[dict[str, Any], bool]:
    result = await session.call_tool(name, arguments)
    assert isinstance(result.structured_content, dict), result
    return result.structured_content, bool(result.is_error)


def listed_tools(repo: Repo) -> dict[str, Any]:
    tools: dict[str, Any] = {}

    async def run() -> None:
        async with server(repo, "builder") as session:
            tools.update({t.name: t for t in (await session.list_tools()).tools})

    anyio.run(run)
    return tools


@pytest.fixture
def px(repo: Repo) -> Repo:
    repo.write("phases/px.toml", SPEC)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "workspace")
    assert repo.lk("phase", "new", PHASE, role="orchestrator").code == 0
    assert repo.git("status", "--porcelain") == ""
    return repo


def test_every_tool_takes_exactly_the_commands_options(repo: Repo) -> None:
    tools = listed_tools(repo)
    assert set(tools) == set(SPEC_TOOLS)
    cli = cli_commands()
    seen: set[str] = set()
    for name, tool in tools.items():
        command = cli[name]
        takes = set(tool.input_schema["properties"])
        expected = cli_names(command) - {o for t, o in CLI_ONLY if t == name}
        if lifted_sync(WORDS[name]):
            expected.add("sync")
        assert takes == expected, (name, takes ^ expected)
        assert set(tool.input_schema["required"]) <= takes
        seen |= takes
    assert seen >= SPEC_ARGUMENTS
    for name in ("claim", "verdict", "done"):  # SPEC: they take no no_commit, in either shell
        assert "no_commit" not in tools[name].input_schema["properties"]
        assert "no_commit" not in cli_names(cli[name])
    assert "body" in tools["done"].input_schema["properties"]
    for name in ("inbox_list", "inbox_consume", "inbox_wait"):  # `to` defaults to the server's role
        assert "to" not in tools[name].input_schema["required"]


def test_the_cli_only_options_are_the_cli_s(repo: Repo) -> None:
    """The exceptions above are real options of those commands (the list cannot go stale)."""
    cli = cli_commands()
    for tool, option in CLI_ONLY:
        assert option in cli_names(cli[tool]), (tool, option)


# each: the role, the CLI's arguments, the tool and its arguments; the exit both give
REFUSALS = {
    "claim-no-commit": ("builder", ("claim", "--phase", PHASE, "--milestone", "M1", "--no-commit"),
                        ("claim", {"phase": PHASE, "milestone": "M1", "no_commit": True}), 2),
    "verdict-no-commit": ("adversary", ("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1", "--no-commit"),
                          ("verdict", {"result": "FAIL", "phase": PHASE, "milestone": "M1", "no_commit": True}), 2),
    "done-no-commit": ("builder", ("done", "--phase", PHASE, "--no-commit"),
                       ("done", {"phase": PHASE, "no_commit": True}), 2),
    "role": ("adversary", ("claim", "--phase", PHASE, "--milestone", "M1"),
             ("claim", {"phase": PHASE, "milestone": "M1"}), 3),
    "bad-phase-name": ("builder", ("claim", "--phase", "../etc", "--milestone", "M1"),
                       ("claim", {"phase": "../etc", "milestone": "M1"}), 4),
    "gate": ("builder", ("claim", "--phase", PHASE, "--milestone", "M1"),
             ("claim", {"phase": PHASE, "milestone": "M1"}), 3),
    "sync-without-a-remote": ("builder", ("sync",), ("sync", {}), 5),
    "empty-message": ("builder", ("inbox", "send", "--to", "adversary"),
                      ("inbox_send", {"to": "adversary"}), 2),
}  # fmt: skip


def test_a_refusal_is_the_same_error_document_through_both_shells(px: Repo) -> None:
    head = px.git("rev-parse", "HEAD")
    by_cli: dict[str, dict[str, Any]] = {}
    for case, (role, argv, _, code) in REFUSALS.items():
        result = px.lk(*argv, "--json", role=role)
        assert result.code == code, (case, result.err)
        by_cli[case] = result.json
    by_mcp: dict[str, tuple[dict[str, Any], bool]] = {}

    async def run() -> None:
        async with AsyncExitStack() as stack:
            sessions = {
                role: await stack.enter_async_context(server(px, role)) for role in ("builder", "adversary")
            }
            for case, (role, _, (tool, arguments), _) in REFUSALS.items():
                by_mcp[case] = await call(sessions[role], tool, **arguments)

    anyio.run(run)
    for case, (doc, is_error) in by_mcp.items():
        assert is_error, case
        assert doc == by_cli[case], case
    assert "unmet" in by_mcp["role"][0]  # a role refusal lists itself as the unmet condition
    assert px.git("rev-parse", "HEAD") == head
    assert px.git("status", "--porcelain") == ""


def test_no_commit_is_refused_by_claim_verdict_and_done_through_mcp_writing_nothing(px: Repo) -> None:
    """Each is refused where it would otherwise have been written: the evidence passes, the claim
    is open, the gate holds."""

    def unchanged(before: str) -> None:
        assert px.git("rev-parse", "HEAD") == before
        assert px.git("status", "--porcelain") == ""

    async def run() -> None:
        async with server(px, "builder") as builder, server(px, "adversary") as adversary:
            ran, is_error = await call(builder, "probe_run", phase=PHASE)
            assert not is_error and ran["records"][0]["result"] == "PASS"
            head = px.git("rev-parse", "HEAD")
            doc, is_error = await call(builder, "claim", phase=PHASE, milestone="M1", no_commit=True)
            assert is_error and doc["exit"] == 2 and "no-commit" in doc["error"], doc
            unchanged(head)
            doc, is_error = await call(builder, "claim", phase=PHASE, milestone="M1")
            assert not is_error and doc["commit"], doc

            head = px.git("rev-parse", "HEAD")
            for result in ("PASS", "FAIL"):
                doc, is_error = await call(
                    adversary, "verdict", phase=PHASE, milestone="M1", result=result, no_commit=True
                )
                assert is_error and doc["exit"] == 2, doc
                unchanged(head)
            assert not (await call(adversary, "inbox_consume", all=True))[1]  # `to`: the server's role
            doc, is_error = await call(adversary, "verdict", phase=PHASE, milestone="M1", result="PASS")
            assert not is_error, doc
            assert not (await call(builder, "inbox_consume", all=True))[1]
            assert (await call(builder, "gate", phase=PHASE))[0]["ok"] is True

            head = px.git("rev-parse", "HEAD")
            doc, is_error = await call(builder, "done", phase=PHASE, no_commit=True, body="the story")
            assert is_error and doc["exit"] == 2, doc
            unchanged(head)
            doc, is_error = await call(builder, "done", phase=PHASE, body="the story")
            assert not is_error and doc["ok"] is True, doc

    anyio.run(run)
    assert "the story" in px.git("log", "-1", "--format=%B")


def test_a_server_without_a_role_says_how_to_start_it_with_one(px: Repo) -> None:
    async def run() -> None:
        async with server(px, None) as session:
            doc, is_error = await call(session, "claim", phase=PHASE, milestone="M1")
            assert is_error and doc["exit"] == 2
            assert "start the server with --role" in doc["error"] and "pass --role" not in doc["error"]

    anyio.run(run)


def test_inbox_send_with_an_empty_stdin_sends_nothing(px: Repo) -> None:
    head = px.git("rev-parse", "HEAD")
    result = px.lk("inbox", "send", "--to", "adversary", input="", role="builder")
    assert result.code == 2, result.err
    assert px.git("rev-parse", "HEAD") == head and px.git("status", "--porcelain") == ""
    assert px.lk("inbox", "send", "--to", "adversary", input="hello\n", role="builder").code == 0


def test_top_level_help_lists_every_exit_code(tmp_path: Path) -> None:
    from conftest import run_loopkit

    text = " ".join(run_loopkit("-h", cwd=tmp_path).out.split())
    codes = text[text.index("Exit codes:") :]
    for code in ("0", "1", "2", "3", "4", "5", "70", "124"):
        assert f" {code} " in codes, (code, codes)


def test_a_table_command_declares_what_each_shell_needs() -> None:
    """The table itself: a tool per SPEC tool, each parameter described, every positional or
    option spelled once, every renderer present."""
    from loopkit.cli import human
    from loopkit.commands import COMMANDS, TOOLS

    assert set(TOOLS) == set(SPEC_TOOLS)
    for command in COMMANDS:
        assert callable(getattr(human, command.renderer)), command.words
        assert command.example.startswith(("loopkit ", "cd ")) and command.exits, command.words
        assert len({p.name for p in command.params}) == len(command.params), command.words
        for p in command.params:
            assert p.help and (p.metavar or p.type == "bool"), (command.words, p.name)
        command.function()  # the service it names exists
