"""Probes run for real: a local HTTP server, real curl, real processes and signals."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopkit.errors import BadInput
from loopkit.probe import (
    SPECIAL,
    default_observe,
    judge,
    observe_output,
    run,
    validate_observe,
)
from loopkit.redact import REDACTED, Redactor

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/ok" else 404
        body = b"ok\n" if code == 200 else b"nope\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def curl(url: str) -> list[str]:
    # --noproxy: a proxy from the environment must not answer for 127.0.0.1.
    return ["curl", "-s", "--noproxy", "*", "--max-time", "5", "-o", "/dev/null", "-w",
            "%{http_code}", url]  # fmt: skip


def live_members(pgid: int) -> list[int]:
    """Processes of the group that are still alive. A killed process stays a zombie until its
    parent reaps it, and in some containers PID 1 never reaps orphans, so os.killpg(pgid, 0)
    alone can report a group whose members are all dead."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    proc = Path("/proc")
    if not proc.is_dir():
        return [pgid]
    live = []
    for entry in proc.iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            live.append(int(entry.name))
    return live


def wait_for_no_live_members(pgid: int) -> list[int]:
    # SIGKILL is delivered asynchronously; allow the kernel a moment to finish the exits.
    deadline = time.monotonic() + 1.0
    while (live := live_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return live


@needs_curl
def test_curl_sees_200(server: str) -> None:
    out = run(argv=curl(f"{server}/ok"), observe="stdout", expect=["200"])
    assert (out.observed, out.exit, out.result) == ("200", 0, "PASS")
    assert out.stdout == "200"
    assert out.stdout_bytes == 3


@needs_curl
def test_curl_404_against_200_fails(server: str) -> None:
    out = run(argv=curl(f"{server}/missing"), observe="stdout", expect=["200"])
    assert (out.observed, out.result) == ("404", "FAIL")


@needs_curl
def test_curl_through_the_shell(server: str) -> None:
    command = f"curl -s --noproxy '*' -o /dev/null -w '%{{http_code}}' {server}/ok"
    out = run(shell=command, observe="stdout", expect=["200"])
    assert (out.observed, out.result) == ("200", "PASS")


@needs_curl
def test_negative_probe_on_a_closed_port_passes(closed_port: int) -> None:
    out = run(
        argv=curl(f"http://127.0.0.1:{closed_port}/"),
        observe=default_observe((), ["200"]),
        expect_not=["200"],
    )
    assert (out.observed, out.result) == ("000", "PASS")
    assert out.exit == 7  # curl: could not connect


def test_timeout_is_an_error_and_returns_promptly() -> None:
    started = time.monotonic()
    out = run(argv=["sleep", "30"], timeout=1)
    elapsed = time.monotonic() - started
    assert (out.observed, out.exit, out.result) == ("timeout", None, "ERROR")
    assert elapsed < 1 + 2
    assert 0.9 <= out.duration < 3


def test_timeout_kills_the_whole_group_even_when_it_ignores_term(tmp_path: Path) -> None:
    pid_file = tmp_path / "pgid"
    started = time.monotonic()
    out = run(
        shell=f'echo $$ > {pid_file}; trap "" TERM; sleep 60 & sleep 60',
        timeout=1,
        expect_not=["anything"],
    )
    assert time.monotonic() - started < 1 + 2
    assert (out.observed, out.result) == ("timeout", "ERROR")  # never PASS via expect_not
    assert wait_for_no_live_members(int(pid_file.read_text())) == []


def test_expect_timeout_makes_a_timeout_pass() -> None:
    out = run(argv=["sleep", "30"], timeout=0.3, expect=["timeout"])
    assert (out.observed, out.result) == ("timeout", "PASS")


def test_leftover_processes_neither_hold_the_pipes_nor_survive(tmp_path: Path) -> None:
    pid_file = tmp_path / "pgid"
    started = time.monotonic()
    out = run(shell=f"echo $$ > {pid_file}; sleep 30 & echo done", observe="stdout")
    assert time.monotonic() - started < 2
    assert (out.observed, out.exit, out.result) == ("done", 0, "PASS")
    assert wait_for_no_live_members(int(pid_file.read_text())) == []


def test_a_quiet_daemon_is_killed_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "pgid"
    out = run(shell=f"echo $$ > {pid_file}; sleep 30 >/dev/null 2>&1 &")
    assert out.result == "PASS"
    assert wait_for_no_live_members(int(pid_file.read_text())) == []


def test_missing_program_is_not_found() -> None:
    out = run(argv=["loopkit-no-such-program-xyz", "arg"])
    assert (out.observed, out.exit, out.result) == ("not-found", None, "ERROR")
    assert "No such file" in out.stderr
    assert out.stderr_bytes == 0  # the command wrote nothing; that line is loopkit's
    assert out.duration >= 0
    assert run(argv=["loopkit-no-such-program-xyz"], expect=["not-found"]).result == "PASS"


def test_negative_probe_on_a_missing_program_does_not_pass() -> None:
    out = run(argv=["loopkit-no-such-program-xyz"], observe="stdout", expect_not=["200"])
    assert out.result == "ERROR"


def test_file_without_execute_permission_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    out = run(argv=[str(script)])
    assert (out.observed, out.exit, out.result) == ("not-executable", None, "ERROR")


def test_unrunnable_format_is_not_executable(tmp_path: Path) -> None:
    binary = tmp_path / "garbage"
    binary.write_bytes(b"\x00\x01\x02\x03 not a program")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    out = run(argv=[str(binary)])
    assert (out.observed, out.exit, out.result) == ("not-executable", None, "ERROR")


def test_stdin_is_closed_so_cat_returns_at_once() -> None:
    started = time.monotonic()
    out = run(argv=["cat"], timeout=10)
    assert time.monotonic() - started < 5
    assert (out.observed, out.exit, out.result) == ("0", 0, "PASS")


@pytest.mark.parametrize(("code", "observed"), [(127, "not-found"), (126, "not-executable")])
def test_shell_codes_for_missing_and_unrunnable_commands(code: int, observed: str) -> None:
    out = run(shell=f"exit {code}", observe="stdout", expect_not=["200"])
    assert (out.observed, out.exit, out.result) == (observed, code, "ERROR")


def test_shell_missing_command_is_not_found() -> None:
    out = run(shell="loopkit-no-such-program-xyz --version")
    assert (out.observed, out.exit, out.result) == ("not-found", 127, "ERROR")
    assert run(shell="loopkit-no-such-program-xyz", expect=["not-found"]).result == "PASS"


def test_regex_observation() -> None:
    shell = "printf 'name: x\\nversion: 1.2.3 \\n'"
    out = run(shell=shell, observe=r"regex:version:\s*(\S+)", expect=["1.2.3"])
    assert (out.observed, out.result) == ("1.2.3", "PASS")
    missing = run(shell=shell, observe=r"regex:release: (\S+)", expect_not=["1.2.3"])
    assert (missing.observed, missing.result) == ("unobserved", "ERROR")


def test_expect_exit() -> None:
    assert run(shell="exit 3", expect_exit=3).result == "PASS"
    out = run(shell="exit 3", expect_exit=0)
    assert (out.observed, out.exit, out.result) == ("3", 3, "FAIL")
    # All conditions must hold: the observed value and the exit status.
    both = run(shell="echo 200; exit 1", observe="stdout", expect=["200"], expect_exit=0)
    assert both.result == "FAIL"
    assert run(shell="exit 1").result == "FAIL"  # no expectation: exit 0 passes, others fail


def test_empty_stdout_is_unobserved() -> None:
    out = run(argv=["true"], observe="stdout", expect_not=["200"])
    assert (out.observed, out.result) == ("unobserved", "ERROR")


def test_streams_are_apart_and_excerpts_are_exact() -> None:
    out = run(shell="printf 'out\\n\\n'; printf 'err\\n' >&2", observe="stdout", expect=["out"])
    assert (out.stdout, out.stderr) == ("out\n\n", "err\n")
    assert (out.stdout_bytes, out.stderr_bytes) == (5, 4)
    assert out.result == "PASS"


def test_huge_output_is_bounded_and_counted() -> None:
    out = run(shell="head -c 5000000 /dev/zero | tr '\\0' a")
    assert out.result == "PASS"
    assert out.stdout_bytes == 5_000_000
    assert out.stdout == "a" * 3000 + "\n…[4996000 bytes omitted]…\n" + "a" * 1000
    assert len(out.full_stdout) == 1 << 20


def test_excerpt_counts_bytes_of_multibyte_text() -> None:
    out = run(shell="i=0; while [ $i -lt 5000 ]; do printf 'é'; i=$((i+1)); done")
    assert out.stdout_bytes == 10_000
    assert out.stdout == "é" * 3000 + "\n…[2000 bytes omitted]…\n" + "é" * 1000


def test_undecodable_bytes_are_replaced() -> None:
    out = run(shell="printf '\\377ok'", observe="stdout", expect=["\ufffdok"])
    assert (out.stdout, out.stdout_bytes, out.result) == ("\ufffdok", 3, "PASS")


def test_redact_hook_leaves_no_fragment_at_a_cut(tmp_path: Path) -> None:
    secret = "Zq8-secret-value-that-straddles-the-cut"
    payload = tmp_path / "out.txt"
    payload.write_text("x" * 2990 + secret + "y" * 10_000)
    plain = run(argv=["cat", str(payload)])
    assert secret[:10] in plain.stdout  # without the hook a fragment survives the cut
    redactor = Redactor(environ={"SERVICE_TOKEN": secret})
    out = run(argv=["cat", str(payload)], redact=redactor.redact)
    assert secret[:6] not in out.stdout
    assert out.stdout.startswith("x" * 2990 + REDACTED)
    assert secret in out.full_stdout  # the observation itself is never redacted


def test_env_is_passed_through_and_cwd_is_used(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PROBE_VALUE": "xyz"}
    shell = 'printf "%s %s\\n" "$PROBE_VALUE" "${HOME-unset}"; pwd'
    out = run(shell=shell, env=env, cwd=tmp_path)
    value, folder = out.full_stdout.splitlines()
    assert value == "xyz unset"  # exactly the given environment, nothing inherited
    assert os.path.realpath(folder) == os.path.realpath(tmp_path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"argv": ["true"], "shell": "true"},
        {"argv": []},
        {"shell": "  "},
        {"argv": ["true"], "observe": "regex:(a)(b)"},
        {"argv": ["true"], "timeout": 0},
        {"argv": ["true"], "timeout": float("nan")},
        {"argv": ["true"], "cwd": "/nonexistent/loopkit/folder"},
        {"argv": ["bad\0arg"]},
        {"argv": "curl -s http://127.0.0.1/"},
    ],
)
def test_bad_arguments_are_refused_before_running(kwargs: dict[str, object]) -> None:
    with pytest.raises(BadInput):
        run(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["exit", "stdout", r"regex:v(\d+)", "regex:(?P<n>x)(?:y)"])
def test_valid_observe_kinds(kind: str) -> None:
    validate_observe(kind)


@pytest.mark.parametrize("kind", ["", "stderr", "regex:", "regex:nogroup", "regex:(a)(b)", "regex:("])
def test_invalid_observe_kinds(kind: str) -> None:
    with pytest.raises(BadInput):
        validate_observe(kind)


def test_observe_output() -> None:
    assert observe_output("exit", exit=0, stdout="x") == "0"
    assert observe_output("exit", exit=None, stdout="x") == "unobserved"
    assert observe_output("stdout", exit=0, stdout="  200\n") == "200"
    assert observe_output("stdout", exit=0, stdout=" \n") == "unobserved"
    assert observe_output("regex:code=(\\d*)", exit=0, stdout="code=") == "unobserved"
    assert observe_output("regex:a(b)?", exit=0, stdout="a") == "unobserved"
    assert default_observe((), ()) == "exit"
    assert default_observe(["200"], ()) == "stdout"


def test_judge_treats_a_bare_string_as_one_value() -> None:
    assert judge(observed="2", exit=0, expect="200", expect_not=(), expect_exit=None) == "FAIL"


OBSERVED = [*sorted(SPECIAL), "200", "404", "000", "0", "1", ""]
VALUES = st.sampled_from(OBSERVED) | st.text(max_size=5)
EXITS = st.none() | st.integers(-15, 130)


@given(
    observed=VALUES,
    exit=EXITS,
    expect=st.lists(VALUES, max_size=3),
    expect_not=st.lists(VALUES, max_size=3),
    expect_exit=EXITS,
)
def test_judge_properties(
    observed: str,
    exit: int | None,
    expect: list[str],
    expect_not: list[str],
    expect_exit: int | None,
) -> None:
    result = judge(
        observed=observed, exit=exit, expect=expect, expect_not=expect_not, expect_exit=expect_exit
    )
    assert result in ("PASS", "FAIL", "ERROR")
    exit_ok = expect_exit is None or exit == expect_exit
    if observed in SPECIAL:
        assert result != "FAIL"
        assert (result == "PASS") == (observed in expect and exit_ok)
    else:
        assert result != "ERROR"
        holds = exit_ok and (not expect or observed in expect) and observed not in expect_not
        if not expect and not expect_not and expect_exit is None:
            holds = exit == 0
        assert (result == "PASS") == holds
