"""`loopkit mcp` driven by the SDK's own client: the installed command as the server, one server
per role (the role in its environment), a whole phase played through tool calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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

SPEC_TOOLS = {
    "status", "check", "next", "phase_list", "phase_new", "journal_add", "journal_show",
    "journal_parse", "probe_exec", "probe_run", "evidence", "claim", "verdict", "gate", "done",
    "inbox_send", "inbox_list", "inbox_consume", "inbox_wait", "sync",
}  # fmt: skip
PHASE = "px"
SPEC = """\
phase = "px"
title = "Served over MCP"

[[milestones]]
id = "M1"
title = "The app says fixed"

  [[milestones.probes]]
  id = "P1"
  title = "src/app.py says fixed"
  run = 'grep -q fixed "$(git rev-parse --show-toplevel)/src/app.py"'
  observe = "exit"
"""


class Tools:
    """One server's session: call a tool, get (its JSON document, is_error)."""

    def __init__(self, session: ClientSession, role: str) -> None:
        self.session = session
        self.role = role

    async def call(self, name: str, **arguments: Any) -> tuple[dict[str, Any], bool]:
        result = await self.session.call_tool(name, arguments)
        doc = result.structured_content
        assert isinstance(doc, dict), result
        # the same JSON as text, schema_version first, as `--json` prints it
        assert [c.type for c in result.content] == ["text"]
        assert json.loads(result.content[0].text) == doc  # type: ignore[union-attr]
        assert next(iter(doc)) == "schema_version" and doc["schema_version"] == 1
        if result.is_error:
            assert doc["ok"] is False and isinstance(doc["exit"], int) and doc["error"], doc
        return doc, bool(result.is_error)

    async def ok(self, name: str, **arguments: Any) -> dict[str, Any]:
        doc, is_error = await self.call(name, **arguments)
        assert not is_error, (self.role, name, doc)
        return doc


def server_params(
    repo: Repo, role: str | None, *, extra_env: dict[str, str] | None = None
) -> StdioServerParameters:
    assert LOOPKIT is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
    if role:
        env["LOOPKIT_ROLE"] = role
    return StdioServerParameters(
        command=LOOPKIT, args=["mcp"], env={**env, **(extra_env or {})}, cwd=str(repo.ws)
    )


@asynccontextmanager
async def serve(repo: Repo, role: str) -> AsyncIterator[Tools]:
    async with (
        stdio_client(server_params(repo, role)) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.server_info.name == "loopkit"
        assert role in (init.instructions or "")
        yield Tools(session, role)


@pytest.fixture
def px(repo: Repo) -> Repo:
    repo.write("phases/px.toml", SPEC)
    repo.git("add", "phases/px.toml")
    repo.git("commit", "-q", "-m", "spec")
    return repo


def test_three_servers_play_a_phase_from_open_to_done(px: Repo) -> None:
    repo = px

    async def play() -> None:
        async with AsyncExitStack() as stack:
            orch = await stack.enter_async_context(serve(repo, "orchestrator"))
            builder = await stack.enter_async_context(serve(repo, "builder"))
            adversary = await stack.enter_async_context(serve(repo, "adversary"))

            # every tool SPEC lists, each schema saying what is required, none taking a role
            listed = {t.name: t for t in (await orch.session.list_tools()).tools}
            assert set(listed) == SPEC_TOOLS
            assert set(listed["probe_exec"].input_schema["required"]) == {"phase", "milestone", "id", "argv"}
            assert listed["verdict"].input_schema["properties"]["result"]["enum"] == ["PASS", "FAIL"]
            for tool in listed.values():
                assert tool.description and "role" not in tool.input_schema["properties"]
                assert "workspace" not in tool.input_schema["properties"]
                for name, prop in tool.input_schema["properties"].items():
                    assert prop.get("description"), (tool.name, name)

            nxt = await orch.ok("next")
            assert nxt["actions"][0]["tool"] == {"name": "phase_new", "arguments": {"phase": PHASE}}
            opened = await orch.ok("phase_new", phase=PHASE)
            assert opened["commit"] and opened["phase"] == PHASE

            # the builder waits; a message sent meanwhile wakes it; waiting consumed nothing
            async with anyio.create_task_group() as tg:
                woke: dict[str, Any] = {}

                async def wait_for_it() -> None:
                    woke.update(await builder.ok("inbox_wait", timeout=30))

                tg.start_soon(wait_for_it)
                await anyio.sleep(1.5)
                sent = await orch.ok("inbox_send", to="builder", phase=PHASE, subject="M1 first", body="Go.")
            assert woke["timed_out"] is False
            assert [m["id"] for m in woke["messages"]] == [sent["id"]]
            assert [m["id"] for m in (await builder.ok("inbox_list", to="builder"))["messages"]] == [
                sent["id"]
            ]
            consumed = await builder.ok("inbox_consume", to="builder", ids=[sent["id"]])
            assert [m["subject"] for m in consumed["consumed"]] == ["M1 first"]

            # a refused claim: isError, exit 3, each unmet condition listed; nothing written
            head = repo.git("rev-parse", "HEAD")
            refused, is_error = await builder.call("claim", phase=PHASE, milestone="M1")
            assert is_error and refused["exit"] == 3
            assert [(u["code"], u["milestone"]) for u in refused["unmet"]] == [("missing-evidence", "M1")]
            assert repo.git("rev-parse", "HEAD") == head
            # a role rule: exit 3 too; a bad argument: exit 2 naming it; a bad name: exit 4
            wrong_role, is_error = await adversary.call("claim", phase=PHASE, milestone="M1")
            assert is_error and wrong_role["exit"] == 3 and "builder" in wrong_role["error"]
            bad, is_error = await adversary.call("verdict", phase=PHASE, milestone="M1", result="MAYBE")
            assert is_error and bad["exit"] == 2 and "result" in bad["error"]
            missing, is_error = await builder.call("claim", milestone="M1")
            assert is_error and missing["exit"] == 2 and "'phase' is required" in missing["error"]
            bad_name, is_error = await builder.call("claim", phase="../etc", milestone="M1")
            assert is_error and bad_name["exit"] == 4

            # a probe that fails its expectation is a FAIL record, not an error
            failed = await builder.ok("probe_run", phase=PHASE, milestone="M1")
            assert [r["result"] for r in failed["records"]] == ["FAIL"]
            gate = await builder.ok("gate", phase=PHASE)  # an unmet gate is a result too
            assert gate["ok"] is False and gate["unmet"]

            repo.commit_code("src/app.py", "print('fixed')\n", "fix")
            passed = await builder.ok("probe_run", phase=PHASE, milestone="M1")
            assert [r["result"] for r in passed["records"]] == ["PASS"]
            journal = await builder.ok("journal_add", phase=PHASE, title="M1 ready", body="P1 passes.")
            assert journal["commit"]
            claim = await builder.ok("claim", phase=PHASE, milestone="M1", note="first try")

            # the adversary: its own break-it probe (argv, no shell), then FAIL
            msgs = await adversary.ok("inbox_wait", timeout=5)
            assert [m["subject"] for m in msgs["messages"]] == ["claim M1 — first try"]
            await adversary.ok("inbox_consume", to="adversary", all=True)
            review = await adversary.ok("next", phase=PHASE)
            assert [a["action"] for a in review["actions"]] == ["review"]
            assert review["actions"][0]["command"] == f"loopkit verdict --phase {PHASE} --milestone M1 PASS"
            probe = await adversary.ok(
                "probe_exec",
                phase=PHASE,
                milestone="M1",
                id="A1",
                argv=[sys.executable, "-c", "print('fixed, really?')"],
                expect=["fixed, really"],
            )
            assert probe["result"] == "FAIL" and probe["observed"] == "fixed, really?"
            fail = await adversary.ok(
                "verdict", phase=PHASE, milestone="M1", result="FAIL", note="not really"
            )
            assert fail["claim_commit"] == claim["commit"]

            # the builder fixes and claims again; the adversary passes the new claim
            verdict_msg = await builder.ok("inbox_wait", timeout=5, phase=PHASE)
            assert "FAIL" in verdict_msg["messages"][0]["subject"]
            todo = await builder.ok("next", phase=PHASE)
            assert [a["action"] for a in todo["actions"]] == ["consume", "fix"]
            assert "not really" in todo["actions"][1]["why"]
            await builder.ok("inbox_consume", to="builder", all=True)
            repo.commit_code("src/app.py", "print('fixed, really')\n", "fix again")
            await builder.ok("probe_run", phase=PHASE)
            reclaim = await builder.ok("claim", phase=PHASE, milestone="M1", note="again")
            assert reclaim["commit"] != claim["commit"]
            await adversary.ok("inbox_consume", to="adversary", all=True)
            ok = await adversary.ok("verdict", phase=PHASE, milestone="M1", result="PASS", note="holds")
            assert ok["claim_commit"] == reclaim["commit"]

            # DONE: refused while the PASS message is unread, then written
            refused, is_error = await builder.call("done", phase=PHASE)
            assert is_error and refused["exit"] == 3
            assert [u["code"] for u in refused["unmet"]] == ["inbox-pending"]
            await builder.ok("inbox_consume", to="builder", all=True)
            assert (await builder.ok("gate", phase=PHASE))["ok"] is True
            done = await builder.ok("done", phase=PHASE, summary="fixed for real")
            assert done["ok"] is True and done["commit"]

            status = await orch.ok("status")
            assert status["phases"][0]["state"] == "done"
            assert (await orch.ok("check"))["ok"] is True
            assert (await orch.ok("phase_list"))["phases"][0]["done"] is True
            shown = await orch.ok("journal_show", phase=PHASE)
            assert any(e["title"] == "M1 ready" for e in shown["entries"])
            assert (await orch.ok("evidence", phase=PHASE))["milestones"][0]["passing"] == ["P1"]

            # nothing for the orchestrator: inbox_wait times out within its timeout, no error
            started = time.monotonic()
            quiet = await orch.ok("inbox_wait", timeout=1)
            assert quiet == {"schema_version": 1, "messages": [], "timed_out": True}
            assert time.monotonic() - started < 5

    anyio.run(play)
    assert "## DONE" in repo.git("log", "-1", "--format=%s")
    authors = set(repo.git("log", "--format=%ae", "-n", "14").split())
    assert authors <= {f"{r}@loopkit.invalid" for r in ("builder", "adversary", "orchestrator")} | {
        "person@example.invalid"
    }


def test_a_server_without_a_workspace_or_with_a_bad_role_does_not_start(tmp_path: Path) -> None:
    assert LOOPKIT is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
    nowhere = subprocess.run(
        [LOOPKIT, "mcp"], cwd=tmp_path, env=env, input="", capture_output=True, text=True, timeout=60
    )
    assert nowhere.returncode == 4 and nowhere.stdout == ""
    bad_role = subprocess.run(
        [LOOPKIT, "mcp", "--role", "boss"],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr and bad_role.stdout == ""


def test_without_the_sdk_loopkit_mcp_says_how_to_get_it(repo: Repo) -> None:
    code = "import sys; sys.modules['mcp'] = None; sys.argv = ['loopkit', 'mcp']; from loopkit.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.ws, input="", capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "pip install 'loopkit[mcp]'" in proc.stderr and "Traceback" not in proc.stderr


def test_no_other_command_imports_the_sdk() -> None:
    code = (
        "import sys, loopkit.cli; print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "loopkit", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert timed.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m == "mcp" or m.startswith(("mcp.", "mcp_types"))}


def test_tools_never_read_the_protocol_stdin(px: Repo) -> None:
    """A journal body never comes from stdin under mcp, and a probe that reads stdin sees EOF
    at once: the server keeps answering afterwards."""

    async def run() -> None:
        async with serve(px, "orchestrator") as orch:
            await orch.ok("phase_new", phase=PHASE)
        async with serve(px, "builder") as builder:
            entry = await builder.ok("journal_add", phase=PHASE, title="no body")
            assert entry["commit"]
            cat = await builder.ok(
                "probe_exec", phase=PHASE, milestone="M1", id="X1", argv=["cat"], expect_exit=0, timeout=10
            )
            assert cat["result"] == "PASS" and cat["stdout"] == ""
            assert (await builder.ok("phase_list"))["phases"][0]["phase"] == PHASE
            parsed = await builder.ok("journal_parse", file="JOURNAL-px.md")
            assert parsed["file"] == "JOURNAL-px.md"
            assert any(e["title"] == "no body" for e in parsed["entries"])

    anyio.run(run)
    journal = (px.ws / "JOURNAL-px.md").read_text("utf-8")
    assert "no body" in journal and "jsonrpc" not in journal


def test_phase_defaults_to_loopkit_phase(px: Repo) -> None:
    async def run() -> None:
        params = server_params(px, "orchestrator", extra_env={"LOOPKIT_PHASE": PHASE})
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert "phase" not in tools["phase_new"].input_schema["required"]
            result = await session.call_tool("phase_new", {})
            assert not result.is_error and result.structured_content["phase"] == PHASE  # type: ignore[index]

    anyio.run(run)


def test_a_client_gone_mid_wait_does_not_hold_the_server(repo: Repo) -> None:
    """stdin closes while inbox_wait sleeps: the server exits at once, not at the wait's timeout."""
    assert LOOPKIT is not None
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}, "LOOPKIT_ROLE": "builder"}
    proc = subprocess.Popen(
        [LOOPKIT, "mcp"], cwd=repo.ws, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None
    assert proc.stdout is not None

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
        proc.stdin.flush()

    client = {"name": "test", "version": "0"}
    send(
        {
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client},
        }
    )
    assert json.loads(proc.stdout.readline())["id"] == 1
    send({"method": "notifications/initialized"})
    send({"id": 2, "method": "tools/call", "params": {"name": "inbox_wait", "arguments": {"timeout": 60}}})
    time.sleep(2)
    closed = time.monotonic()
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert time.monotonic() - closed < 10
