"""Probe evidence end to end: the installed `loopkit` in real git repositories, real curl against a
real HTTP server on 127.0.0.1, real processes, real timeouts (SPEC section 3 "Probe evidence",
"Redaction", the claim gate; section 4's evidence record and `evidence --json`)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import socket
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import LOOPKIT, NOW, Repo, Result

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")

PHASE = "p"
JOURNAL = "JOURNAL-p.md"
# Every key SPEC section 4 shows for an evidence record, schema_version first.
RECORD_KEYS = [
    "schema_version", "source", "phase", "milestone", "probe", "title", "command", "observe",
    "observed", "exit", "expect", "expect_not", "result", "duration", "at", "head", "dirty",
    "stdout", "stderr", "line",
]  # fmt: skip


# -- a real HTTP server -------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/ok"
        body = b"ok\n" if ok else b"not found\n"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`http://127.0.0.1:PORT`: 200 on /ok, 404 elsewhere."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def curl_code(url: str) -> list[str]:
    return ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url]


# -- workspace helpers --------------------------------------------------------------------------
def toml_value(value: Any) -> str:
    return json.dumps(value)  # JSON strings and lists of strings are valid TOML


def spec_text(milestones: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f'phase = "{PHASE}"', 'title = "Evidence end to end"', ""]
    for mid, probes in milestones.items():
        lines += ["[[milestones]]", f'id = "{mid}"', f'title = "milestone {mid}"', ""]
        for probe in probes:
            lines.append("  [[milestones.probes]]")
            lines += [f"  {key} = {toml_value(value)}" for key, value in probe.items()]
            lines.append("")
    return "\n".join(lines)


def setup_phase(
    repo: Repo, milestones: dict[str, list[dict[str, Any]]] | None = None, *, open_phase: bool = False
) -> None:
    """Write phases/p.toml, commit the workspace (a clean tree), optionally `phase new`.

    The default spec defines P0 only, so `probe exec --id P1 -- <any command>` is a free probe:
    a spec-defined id is recorded only with the spec's own command (SPEC section 3).
    """
    if milestones is None:
        milestones = {"M1": [{"id": "P0", "title": "served", "run": "true"}]}
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(spec_text(milestones), encoding="utf-8")
    repo.git("add", "docs")
    repo.git("commit", "-q", "-m", "workspace")
    if open_phase:
        result = repo.lk("phase", "new", PHASE, role="orchestrator")
        assert result.code == 0, result.err


def exec_probe(
    repo: Repo,
    *options: str,
    cmd: list[str],
    probe: str = "P1",
    milestone: str = "M1",
    env: dict[str, str] | None = None,
) -> Result:
    return repo.lk(
        "probe", "exec", "--phase", PHASE, "--milestone", milestone, "--id", probe, "--json", *options, "--", *cmd,
        role="builder",
        env=env,
    )  # fmt: skip


def record_of(result: Result) -> dict[str, Any]:
    assert result.out.strip(), f"no JSON on stdout (exit {result.code}): {result.err}"
    data = result.json
    assert isinstance(data, dict)
    return data


def subject(repo: Repo, rev: str = "HEAD") -> str:
    return repo.git("log", "-1", "--format=%s", rev).strip()


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def journal_text(repo: Repo) -> str:
    return (repo.ws / JOURNAL).read_text(encoding="utf-8")


def probe_records(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for entry in shown["entries"] for e in entry["evidence"] if e.get("source") == "probe"]


def without_commit(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "commit"}


def milestone_of(doc: dict[str, Any], mid: str) -> dict[str, Any]:
    found = [m for m in doc["milestones"] if m["id"] == mid]
    assert len(found) == 1, doc
    return found[0]


# -- probe exec: one command, its record, its commit, its journal block --------------------------
@needs_curl
def test_exec_pass_prints_full_record_commits_and_reads_back(docs_repo: Repo, server: str) -> None:
    setup_phase(docs_repo, open_phase=True)
    before = head(docs_repo)
    argv = curl_code(f"{server}/ok")
    result = exec_probe(docs_repo, "--expect", "200", cmd=argv)
    assert result.code == 0, result.err
    rec = record_of(result)

    assert next(iter(rec)) == "schema_version" and rec["schema_version"] == 1
    assert [k for k in RECORD_KEYS if k not in rec] == []
    assert rec["source"] == "probe"
    assert (rec["phase"], rec["milestone"], rec["probe"]) == (PHASE, "M1", "P1")
    assert isinstance(rec["title"], str) and rec["title"]
    assert shlex.split(rec["command"]) == argv
    assert rec["observe"] == "stdout"
    assert rec["observed"] == "200"
    assert rec["exit"] == 0
    assert rec["expect"] == ["200"] and rec["expect_not"] == []
    assert rec["result"] == "PASS"
    assert isinstance(rec["duration"], int | float) and 0 <= rec["duration"] < 30
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["at"]), rec["at"]
    assert rec["at"] == NOW
    assert rec["head"] == before
    assert rec["dirty"] is False
    assert rec["stdout"] == "200"
    assert rec["stderr"] == ""
    assert isinstance(rec["line"], int) and rec["line"] > 0

    # One evidence commit, authored by the builder, touching only the journal it wrote.
    assert subject(docs_repo) == "evidence(p): M1 P1 PASS"
    assert docs_repo.git("rev-parse", "HEAD~1").strip() == before
    assert docs_repo.git("log", "-1", "--format=%an <%ae>").strip() == "builder <builder@loopkit.invalid>"
    assert docs_repo.git("show", "--name-only", "--format=", "HEAD").split() == [f"docs/{JOURNAL}"]
    assert docs_repo.git("status", "--porcelain") == ""
    trailers = docs_repo.git("log", "-1", "--format=%(trailers:only,unfold)")
    for trailer in (
        "Loopkit-Phase: p",
        "Loopkit-Action: evidence",
        "Loopkit-Role: builder",
        "Loopkit-Milestone: M1",
    ):
        assert trailer in trailers.splitlines(), trailers

    # The journal reads like the corpus: the command, then `→ 200` with a ✓.
    lines = journal_text(docs_repo).split("\n")
    command_at = [
        i for i, line in enumerate(lines) if "curl -s -o /dev/null" in line and not line.startswith("<!--")
    ]
    assert len(command_at) == 1, lines
    arrow = lines[command_at[0] + 1]
    assert arrow.startswith("→ 200"), arrow
    assert "✓" in arrow and "✗" not in arrow
    heading = max(i for i, line in enumerate(lines) if line.startswith("## ") and i < command_at[0])
    assert heading < rec["line"] <= command_at[0] + 2  # `line` points into this entry

    shown = docs_repo.lk("journal", "show", "--phase", PHASE, "--json", role="builder")
    assert shown.code == 0, shown.err
    records = probe_records(shown.json)
    assert len(records) == 1
    assert records[0] == without_commit(rec)
    assert shown.json["warnings"] == []


@needs_curl
def test_exec_fail_is_recorded_and_a_hand_edit_cannot_turn_it_into_a_pass(
    docs_repo: Repo, server: str
) -> None:
    argv = curl_code(f"{server}/missing")
    spec = {"id": "P1", "title": "served", "run": shlex.join(argv), "observe": "stdout", "expect": ["200"]}
    setup_phase(docs_repo, {"M1": [spec]})
    before = head(docs_repo)
    result = exec_probe(docs_repo, "--expect", "200", cmd=argv)
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"], rec["exit"]) == ("FAIL", "404", 0)
    assert subject(docs_repo) == "evidence(p): M1 P1 FAIL"
    assert docs_repo.git("rev-parse", "HEAD~1").strip() == before
    text = journal_text(docs_repo)
    arrows = [line for line in text.split("\n") if line.startswith("→ ")]
    assert len(arrows) == 1 and arrows[0].startswith("→ 404") and "✗" in arrows[0]

    # A person "fixes" the block by hand and commits it.
    assert text.count("→ 404") == 1
    (docs_repo.ws / JOURNAL).write_text(text.replace("→ 404", "→ 200"), encoding="utf-8")
    docs_repo.git("commit", "-q", "-am", "looks fine to me")

    check = docs_repo.lk("check", "--json")
    assert check.code == 1, check.out + check.err
    assert check.json["ok"] is False
    mismatches = [p for p in check.json["problems"] if p["code"] == "evidence-mismatch"]
    assert mismatches, check.json
    assert mismatches[0]["phase"] == PHASE

    evidence = docs_repo.lk("evidence", "--phase", PHASE, "--json")
    assert evidence.code == 0, evidence.err
    m1 = milestone_of(evidence.json, "M1")
    assert m1["passing"] == [] and m1["failing"] == ["P1"]
    assert m1["latest"]["P1"]["result"] == "FAIL"
    assert m1["latest"]["P1"]["observed"] == "404"


@needs_curl
def test_negative_probe_against_a_closed_port_passes_with_000(docs_repo: Repo) -> None:
    setup_phase(docs_repo)
    result = exec_probe(
        docs_repo, "--expect-not", "200", cmd=curl_code(f"http://127.0.0.1:{closed_port()}/ok")
    )
    assert result.code == 0, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observe"], rec["observed"]) == ("PASS", "stdout", "000")
    assert rec["expect"] == [] and rec["expect_not"] == ["200"]
    assert rec["exit"] != 0  # curl could not connect, yet the observation was made
    assert subject(docs_repo) == "evidence(p): M1 P1 PASS"


def test_timeout_is_error_fast_and_kills_the_whole_process_group(docs_repo: Repo) -> None:
    setup_phase(docs_repo)
    # loopkit's own start-up and commit, measured here so that a loaded machine cannot fail the test
    started = time.monotonic()
    assert exec_probe(docs_repo, cmd=["true"], probe="P0").code == 0
    baseline = time.monotonic() - started

    started = time.monotonic()
    result = exec_probe(docs_repo, "--timeout", "1", cmd=["sleep", "30"])
    wall = time.monotonic() - started
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"]) == ("ERROR", "timeout")
    assert 1 <= rec["duration"] < 2.5, rec["duration"]
    assert wall < max(3.0, baseline + 2.0), (
        f"probe exec --timeout 1 took {wall:.2f}s (baseline {baseline:.2f}s)"
    )
    assert subject(docs_repo) == "evidence(p): M1 P1 ERROR"

    marker = f"60.{os.getpid()}{time.time_ns() % 10**9:09d}"
    script = f"sleep {marker} & sleep {marker}"
    result = exec_probe(docs_repo, "--timeout", "1", cmd=["sh", "-c", script], probe="P2")
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"]) == ("ERROR", "timeout")
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    survivors = [line for line in ps.splitlines() if marker in line]
    for line in survivors:  # clean up after a failure, only our own marked processes
        pid = int(line.split()[0])
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    assert survivors == [], survivors


def test_a_command_that_cannot_start_is_error_never_pass(docs_repo: Repo) -> None:
    setup_phase(docs_repo)
    missing = "loopkit-e2e-no-such-command"
    result = exec_probe(docs_repo, cmd=[missing, "--version"])
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"]) == ("ERROR", "not-found")
    assert subject(docs_repo) == "evidence(p): M1 P1 ERROR"

    # A negative probe cannot pass by accident because the tool is missing.
    result = exec_probe(docs_repo, "--expect-not", "200", cmd=[missing], probe="P1-neg")
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"]) == ("ERROR", "not-found")
    assert rec["expect_not"] == ["200"]

    script = docs_repo.write("src/not-executable.sh", "#!/bin/sh\necho 200\n")
    script.chmod(0o644)
    result = exec_probe(docs_repo, "--expect-not", "500", cmd=[str(script)], probe="P2")
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["result"], rec["observed"]) == ("ERROR", "not-executable")


def test_cat_gets_no_stdin_and_returns_at_once(docs_repo: Repo) -> None:
    """loopkit's own stdin stays open (a terminal, an agent's pipe): the probe must not inherit it."""
    setup_phase(docs_repo)
    assert LOOPKIT is not None
    read_end, write_end = os.pipe()
    try:
        started = time.monotonic()
        proc = subprocess.run(
            [LOOPKIT, "probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "P1",
             "--timeout", "20", "--json", "--", "cat"],
            cwd=docs_repo.ws,
            stdin=read_end,
            capture_output=True,
            text=True,
            env={**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": "builder"},
            timeout=15,
        )  # fmt: skip
        wall = time.monotonic() - started
    finally:
        os.close(read_end)
        os.close(write_end)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert (rec["result"], rec["observe"], rec["observed"], rec["exit"]) == ("PASS", "exit", "0", 0)
    assert rec["stdout"] == ""
    assert rec["duration"] < 5 and wall < 10


def test_observe_regex_expect_exit_and_expected_timeout(docs_repo: Repo) -> None:
    setup_phase(docs_repo)
    # regex: the one group is the observation
    result = exec_probe(
        docs_repo, "--observe", r"regex:version=(\S+)", "--expect", "1.2.3",
        cmd=["sh", "-c", "echo 'name=x version=1.2.3 build=7'; echo 'version=9.9.9 on stderr' >&2"], probe="RX",
    )  # fmt: skip
    assert result.code == 0, result.err
    rec = record_of(result)
    assert (rec["observe"], rec["observed"], rec["result"]) == (r"regex:version=(\S+)", "1.2.3", "PASS")
    assert rec["stdout"].strip() == "name=x version=1.2.3 build=7"  # stdout and stderr apart
    assert rec["stderr"].strip() == "version=9.9.9 on stderr"

    # no match: unobserved, an ERROR even for a negative probe
    result = exec_probe(
        docs_repo, "--observe", r"regex:version=(\S+)", "--expect-not", "1.2.3",
        cmd=["echo", "nothing here"], probe="RX-neg",
    )  # fmt: skip
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["observed"], rec["result"]) == ("unobserved", "ERROR")

    # --expect-exit alone: observe defaults to exit, exit 3 expected
    result = exec_probe(docs_repo, "--expect-exit", "3", cmd=["sh", "-c", "exit 3"], probe="EX")
    assert result.code == 0, result.err
    rec = record_of(result)
    assert (rec["observe"], rec["observed"], rec["exit"], rec["result"]) == ("exit", "3", 3, "PASS")

    # all conditions must hold: the right stdout with the wrong exit status fails
    result = exec_probe(
        docs_repo, "--expect", "200", "--expect-exit", "0", cmd=["sh", "-c", "echo 200; exit 1"], probe="EX2"
    )
    assert result.code == 1, result.err
    rec = record_of(result)
    assert (rec["observed"], rec["exit"], rec["result"]) == ("200", 1, "FAIL")

    # --expect timeout makes a timeout the expected outcome
    result = exec_probe(docs_repo, "--expect", "timeout", "--timeout", "1", cmd=["sleep", "30"], probe="TO")
    assert result.code == 0, result.err
    rec = record_of(result)
    assert (rec["observed"], rec["result"]) == ("timeout", "PASS")
    assert subject(docs_repo) == "evidence(p): M1 TO PASS"


# -- probe run and evidence ---------------------------------------------------------------------
@needs_curl
def test_probe_run_uses_sh_and_evidence_json_has_spec_shape(docs_repo: Repo, server: str) -> None:
    port = closed_port()
    setup_phase(
        docs_repo,
        {
            "M1": [
                {
                    "id": "P1",
                    "title": "answers 200",
                    # shell quoting and a pipe: only `sh -c` gives 200 here
                    "run": f"curl -s -o /dev/null -w '%{{http_code}}' {server}/ok | cat",
                    "observe": "stdout",
                    "expect": ["200"],
                },
                {
                    "id": "P1-neg",
                    "title": "a dead server is not healthy",
                    "run": f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 http://127.0.0.1:{port}/",
                    "observe": "stdout",
                    "expect_not": ["200"],
                },
            ],
            "M2": [
                {"id": "P2", "title": "other page", "run": f"curl -s -o /dev/null -w '%{{http_code}}' {server}/x",
                 "expect": ["200"]},
                {"id": "P3", "title": "never run", "run": "true"},
            ],
        },
    )  # fmt: skip
    before = head(docs_repo)
    run = docs_repo.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", "--json", role="builder")
    assert run.code == 0, run.err
    assert next(iter(run.json)) == "schema_version"
    records = run.json["records"]
    assert [(r["milestone"], r["probe"]) for r in records] == [("M1", "P1"), ("M1", "P1-neg")]
    assert [(r["observed"], r["result"]) for r in records] == [("200", "PASS"), ("000", "PASS")]
    assert all(r["source"] == "probe" and r["dirty"] is False for r in records)
    # each records the HEAD it ran at: the run's probes all run before its one evidence commit
    assert [r["head"] for r in records] == [before, before]
    assert all(not [k for k in RECORD_KEYS if k not in r] for r in records)

    log = docs_repo.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert log == ["evidence(p): 2 probes, 2 PASS"]  # one commit for the run (issue 12)
    assert docs_repo.git("show", "--name-only", "--format=", "HEAD").split() == [f"docs/{JOURNAL}"]

    fail = exec_probe(docs_repo, "--expect", "200", cmd=curl_code(f"{server}/x"), milestone="M2", probe="P2")
    assert fail.code == 1, fail.err

    evidence = docs_repo.lk("evidence", "--phase", PHASE, "--json")
    assert evidence.code == 0, evidence.err
    doc = evidence.json
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == 1
    assert doc["phase"] == PHASE
    assert [m["id"] for m in doc["milestones"]] == ["M1", "M2"]
    m1, m2 = doc["milestones"]
    for m in (m1, m2):
        assert {"id", "required", "passing", "failing", "missing", "stale", "latest"} <= set(m)
    assert m1["required"] == ["P1", "P1-neg"]
    assert (m1["passing"], m1["failing"], m1["missing"], m1["stale"]) == (["P1", "P1-neg"], [], [], [])
    assert sorted(m1["latest"]) == ["P1", "P1-neg"]
    assert m1["latest"]["P1"] == without_commit(records[0])
    assert m1["latest"]["P1-neg"] == without_commit(records[1])
    assert m2["required"] == ["P2", "P3"]
    assert (m2["passing"], m2["failing"], m2["missing"], m2["stale"]) == ([], ["P2"], ["P3"], [])
    assert sorted(m2["latest"]) == ["P2"] and m2["latest"]["P2"]["result"] == "FAIL"


@needs_curl
def test_staleness_follows_committed_code_outside_the_workspace(docs_repo: Repo, server: str) -> None:
    repo = docs_repo
    url = f"{server}/ok"
    setup_phase(
        repo,
        {"M1": [{"id": "P1", "title": "ok", "run": f"curl -s -o /dev/null -w '%{{http_code}}' {url}",
                 "expect": ["200"]}]},
        open_phase=True,
    )  # fmt: skip

    def run_p1() -> dict[str, Any]:
        result = repo.lk("probe", "run", "--phase", PHASE, "--json", role="builder")
        assert result.code == 0, result.err
        (record,) = result.json["records"]
        assert record["result"] == "PASS"
        return record

    def m1() -> dict[str, Any]:
        result = repo.lk("evidence", "--phase", PHASE, "--json")
        assert result.code == 0, result.err
        return milestone_of(result.json, "M1")

    assert run_p1()["dirty"] is False

    # A docs-only commit (inside the workspace) keeps the evidence fresh.
    repo.commit_code("docs/notes.md", "# notes\n", "docs: notes")
    fresh = m1()
    assert (fresh["passing"], fresh["stale"]) == (["P1"], [])

    # A code commit outside the workspace makes it stale, and the claim gate names it.
    repo.commit_code("src/app.py", "print('changed')\n", "fix: change the code")
    stale = m1()
    assert (stale["passing"], stale["stale"]) == ([], ["P1"])
    before = head(repo)
    claim = repo.lk("claim", "--phase", PHASE, "--milestone", "M1", "--json", role="builder")
    assert claim.code == 3, claim.out + claim.err
    assert claim.json["ok"] is False
    assert any("P1" in item["message"] for item in claim.json["unmet"]), claim.json
    assert head(repo) == before and repo.git("status", "--porcelain") == ""  # nothing written

    # Recorded while a tracked file outside the workspace has uncommitted changes: stale at once.
    repo.write("src/app.py", "print('work in progress')\n")
    repo.write("src/untracked_scratch.py", "# untracked\n")
    assert run_p1()["dirty"] is True
    dirty = m1()
    assert (dirty["passing"], dirty["stale"]) == ([], ["P1"])

    # Commit the code; an untracked file alone does not make the tree dirty, nor does an
    # uncommitted change inside the workspace: fresh again.
    repo.git("add", "src/app.py")
    repo.git("commit", "-q", "-m", "fix: finish")
    repo.write("docs/notes.md", "# notes\n\nstill writing\n")
    assert (repo.root / "src/untracked_scratch.py").exists()
    committed = head(repo)
    rec = run_p1()
    assert rec["dirty"] is False and rec["head"] == committed
    again = m1()
    assert (again["passing"], again["stale"]) == (["P1"], [])
    claim = repo.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder")
    assert claim.code == 0, claim.out + claim.err
    assert subject(repo) == "status(p): claim M1"


# -- redaction ----------------------------------------------------------------------------------
def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_secrets(port: int) -> dict[str, Any]:
    rng = random.Random(20260613)
    upper = string.ascii_uppercase + string.digits
    pem_lines = [_alnum(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(3)]
    jwt_payload = _b64url(json.dumps({"sub": _alnum(rng, 16), "iat": 1781358240}).encode())
    jwt_sig = _b64url(rng.randbytes(32))
    s = {
        "gh_env": "ghp_" + _alnum(rng, 36),
        "my_secret": _alnum(rng, 20),
        "db_password": _alnum(rng, 18),
        "url_password": _alnum(rng, 14),
        "bearer": _alnum(rng, 32),
        "cookie": _alnum(rng, 24),
        "ghp": "ghp_" + _alnum(rng, 36),
        "glpat": "glpat-" + _alnum(rng, 20),
        "aws": "AKIA" + _alnum(rng, 16, upper),
        "slack": f"xoxb-{_alnum(rng, 11, string.digits)}-{_alnum(rng, 12, string.digits)}-{_alnum(rng, 24)}",
        "jwt": f"{_b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{jwt_payload}.{jwt_sig}",
    }
    s["pem"] = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(pem_lines) + "\n-----END RSA PRIVATE KEY-----"
    s["url"] = f"https://user:{s['url_password']}@127.0.0.1:{port}/ok"
    s["env"] = {"GITHUB_TOKEN": s["gh_env"], "MY_SECRET": s["my_secret"], "DB_PASSWORD": s["db_password"]}
    s["needles"] = {
        "GITHUB_TOKEN value": s["gh_env"],
        "MY_SECRET value": s["my_secret"],
        "DB_PASSWORD value": s["db_password"],
        "URL password": s["url_password"],
        "basic auth": base64.b64encode(f"user:{s['url_password']}".encode()).decode(),
        "bearer token": s["bearer"],
        "cookie value": s["cookie"],
        **{f"PEM line {i}": line for i, line in enumerate(pem_lines)},
        "GitHub token": s["ghp"],
        "GitLab token": s["glpat"],
        "AWS key": s["aws"],
        "Slack token": s["slack"],
        "JWT": s["jwt"],
        "JWT payload": jwt_payload,
        "JWT signature": jwt_sig,
    }
    s["text"] = "\n".join(
        [
            f"env values: {s['gh_env']} {s['my_secret']} {s['db_password']}",
            f"url: {s['url']}",
            f"Authorization: Bearer {s['bearer']}",
            f"Cookie: session={s['cookie']}",
            s["pem"],
            f"github {s['ghp']} gitlab {s['glpat']}",
            f"aws {s['aws']} slack {s['slack']}",
            f"jwt {s['jwt']}",
        ]
    )
    return s


def leaks_in(text: str, needles: dict[str, str]) -> list[str]:
    return [name for name, value in needles.items() if value in text]


def work_tree_text(root: Path) -> dict[str, str]:
    files = {}
    for path in root.rglob("*"):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        files[str(path.relative_to(root))] = path.read_bytes().decode("utf-8", errors="replace")
    return files


@needs_curl
def test_no_secret_reaches_any_file_commit_or_json(docs_repo: Repo, server: str) -> None:
    repo = docs_repo
    port = int(server.rsplit(":", 1)[1])
    s = make_secrets(port)
    env = s["env"]
    setup_phase(repo)
    outputs: list[str] = []

    def lk(*args: str, role: str = "builder") -> Result:
        result = repo.lk(*args, role=role, env=env)
        assert result.code in (0, 1), result.err
        outputs.append(result.out)
        return result

    # The environment's values, seen only in the output.
    lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "ENV", "--json", "--",
       "sh", "-c", 'printf "%s\\n" "$GITHUB_TOKEN" "$MY_SECRET" "$DB_PASSWORD"; echo "$MY_SECRET" >&2')  # fmt: skip
    # Every shape in the command line, its title, its stdout and its stderr.
    lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "SHAPES", "--json",
       "--title", f"shapes {s['ghp']} {s['aws']}", "--",
       "sh", "-c", 'printf "%s\\n" "$@"; printf "%s\\n" "$@" >&2', "_",
       s["gh_env"], s["my_secret"], s["db_password"], s["url"], f"Authorization: Bearer {s['bearer']}",
       f"Cookie: session={s['cookie']}", s["pem"], s["ghp"], s["glpat"], s["aws"], s["slack"], s["jwt"])  # fmt: skip
    # A real request carrying userinfo and both headers; curl -v echoes them on stderr.
    real = lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "CURL", "--json", "--expect", "200",
              "--", "curl", "-sv", "-o", "/dev/null", "-w", "%{http_code}",
              "-H", f"Authorization: Bearer {s['bearer']}", "-H", f"Cookie: session={s['cookie']}",
              f"http://user:{s['url_password']}@127.0.0.1:{port}/ok")  # fmt: skip
    assert real.json["result"] == "PASS", real.json
    # The PEM block printed by printf, not passed whole on the command line.
    body = "\\n".join(s["pem"].split("\n"))
    lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "PEM", "--json", "--",
       "sh", "-c", f"printf '{body}\\n'")  # fmt: skip
    # Journal entries and inbox messages carrying them in titles, subjects and bodies.
    lk("journal", "add", "--phase", PHASE, "--title", f"deploy with {s['ghp']} and {s['gh_env']}",
       "--body", s["text"], "--json")  # fmt: skip
    lk("inbox", "send", "--to", "adversary", "--phase", PHASE, "--subject", f"token {s['glpat']}",
       "--body", s["text"], "--json")  # fmt: skip
    lk("inbox", "consume", "--to", "adversary", "--all", "--json", role="adversary")
    lk("journal", "show", "--phase", PHASE, "--json")

    needles = s["needles"]
    found: dict[str, list[str]] = {}
    files = work_tree_text(repo.root)
    assert f"docs/{JOURNAL}" in files and any(name.startswith("docs/inbox-archive/") for name in files), files
    for name, text in files.items():
        if hits := leaks_in(text, needles):
            found[name] = hits
    history = repo.git("log", "-p", "--all", "--format=%H%n%an%n%B")
    if hits := leaks_in(history, needles):
        found["git log -p --all"] = hits
    for i, out in enumerate(outputs):
        if hits := leaks_in(out, needles):
            found[f"--json output {i}"] = hits
    assert found == {}

    # Not vacuous: what was recorded is there, with the secrets replaced.
    assert files[f"docs/{JOURNAL}"].count("[REDACTED") >= 12
    assert "[REDACTED" in history
    assert all("[REDACTED" in out for out in outputs), outputs
    assert repo.git("status", "--porcelain") == ""


def test_a_secret_straddling_an_excerpt_cut_leaves_no_fragment(docs_repo: Repo) -> None:
    """Output is kept as a bounded excerpt (head … tail): a secret cut in two at either edge must
    not survive as a readable piece."""
    setup_phase(docs_repo)
    rng = random.Random(7)
    secret = _alnum(rng, 32)
    token = "ghp_" + _alnum(rng, 36)
    env = {"MY_SECRET": secret, "TOK": token}  # TOK is no secret name: only its shape identifies it
    outputs = []
    for probe, first, last in (("P1", "MY_SECRET", "TOK"), ("P2", "TOK", "MY_SECRET")):
        # `first` crosses the head cut (3,000 characters), `last` the tail cut (the last 1,000).
        script = (
            'pad() { head -c "$1" /dev/zero | tr "\\0" .; }; '
            f'pad 2984; printf %s "${first}"; pad 6000; printf %s "${last}"; pad 990'
        )
        result = exec_probe(docs_repo, cmd=["sh", "-c", script], env=env, probe=probe)
        assert result.code == 0, result.err
        rec = record_of(result)
        assert rec["result"] == "PASS"
        assert "omitted" in rec["stdout"] and len(rec["stdout"]) < 5000  # it was cut
        outputs.append(result.out)
    pieces = {
        f"{name}[{i}:{i + 8}]": value[i : i + 8]
        for name, value in (("MY_SECRET", secret), ("TOK", token[4:]))
        for i in range(len(value) - 7)
    }
    everywhere = "\n".join([*outputs, journal_text(docs_repo), docs_repo.git("log", "-p", "--all")])
    assert leaks_in(everywhere, pieces) == []


def test_two_tokens_written_back_to_back_are_both_redacted(docs_repo: Repo) -> None:
    """Tokens glued together (a concatenated dump, `env | tr -d '\\n'`) are still two tokens."""
    setup_phase(docs_repo)
    rng = random.Random(11)
    first, second = "ghp_" + _alnum(rng, 36), "ghp_" + _alnum(rng, 36)
    result = exec_probe(docs_repo, cmd=["sh", "-c", 'printf %s%s "$A" "$B"'], env={"A": first, "B": second})
    assert result.code == 0, result.err
    needles = {"first token": first[4:], "second token": second[4:]}
    everywhere = "\n".join([result.out, journal_text(docs_repo), docs_repo.git("log", "-p", "--all")])
    assert leaks_in(everywhere, needles) == []
    assert "[REDACTED]" in record_of(result)["stdout"]


# -- fences -------------------------------------------------------------------------------------
def test_backtick_runs_in_command_and_output_read_back_identically(docs_repo: Repo) -> None:
    setup_phase(docs_repo)
    argv = ["printf", "%s\\n", "```", "````", "x```y", "~~~", "``` not closed", "--> <!-- end"]
    result = exec_probe(docs_repo, "--title", "fences ``` and ````", "--expect-not", "200", cmd=argv)
    assert result.code == 0, result.err
    rec = record_of(result)
    assert rec["result"] == "PASS"
    assert shlex.split(rec["command"]) == argv
    assert rec["stdout"] == "```\n````\nx```y\n~~~\n``` not closed\n--> <!-- end\n"
    assert rec["observed"] == rec["stdout"].strip()
    # A later entry must still be its own entry, not swallowed by an unclosed fence.
    after = exec_probe(docs_repo, cmd=["true"], probe="P2")
    assert after.code == 0, after.err

    shown = docs_repo.lk("journal", "show", "--phase", PHASE, "--json", role="builder")
    assert shown.code == 0, shown.err
    assert shown.json["warnings"] == []
    records = probe_records(shown.json)
    assert [r["probe"] for r in records] == ["P1", "P2"]
    assert records[0] == without_commit(rec)
    assert records[1] == without_commit(after.json)
    assert len(shown.json["entries"]) == 2

    check = docs_repo.lk("check", "--json")
    assert check.code == 0, check.out + check.err
    assert check.json["problems"] == []
