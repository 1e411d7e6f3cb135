"""loopkit demo: a whole loop, three roles, one fresh repository, a real HTTP server on 127.0.0.1.

It drives the same service functions the commands call, so what it shows is what they do.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from loopkit.documents.loop import Verdicted
from loopkit.documents.report import DemoDocument
from loopkit.documents.status import StatusDocument
from loopkit.errors import BadInput, Refused
from loopkit.render import data_dir, render
from loopkit.services import inbox, journals, loop, phases, probes, status, view
from loopkit.services.context import Context

WORKSPACE = "loop"


@contextlib.contextmanager
def _server(app: Path) -> Iterator[int]:
    """Serves /api/version from app/version.json (404 while it is missing) and /health."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/api/version" and (app / "version.json").is_file():
                self._answer(200, (app / "version.json").read_bytes())
            elif self.path == "/health" and (app / "health.txt").is_file():
                self._answer(200, b"ok\n")
            else:
                self._answer(404, b"not found\n")

        def _answer(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _folder(target: str | None) -> Path:
    if target is None:
        return Path(tempfile.mkdtemp(prefix="loopkit-demo-"))
    path = Path(target).resolve()
    if path.exists() and any(path.iterdir()):
        raise BadInput(f"--dir {target}: not empty; the demo builds a fresh repository")
    path.mkdir(parents=True, exist_ok=True)
    return path


SIGNED_ROLES = ("adversary", "builder", "orchestrator")


def _make_keys(root: Path) -> dict[str, Path]:
    """One SSH key per role, inside the repository's `.git` (git never tracks it, so no secret can
    be committed): the demo plays all three roles, each signing with its own key."""
    import subprocess

    from loopkit.gitrepo.signing import find_ssh_keygen

    folder = root / ".git" / "loopkit-demo-keys"
    folder.mkdir(mode=0o700)
    keys: dict[str, Path] = {}
    for role in SIGNED_ROLES:
        key = folder / role
        argv = ["-q", "-t", "ed25519", "-N", "", "-C", f"loopkit demo {role}", "-f", str(key)]
        proc = subprocess.run([find_ssh_keygen(), *argv], capture_output=True, check=False)
        if proc.returncode != 0:
            said = proc.stderr.decode("utf-8", "replace").strip()
            raise BadInput(f"demo --signed: ssh-keygen could not make a key: {said or proc.returncode}")
        keys[role] = key
    return keys


def _allowed_signers(keys: dict[str, Path], emails: dict[str, str]) -> str:
    lines = []
    for role, key in keys.items():
        kind, blob = Path(f"{key}.pub").read_text(encoding="utf-8").split()[:2]
        lines.append(f"{emails[role]} {kind} {blob}\n")
    return "".join(lines)


class _Loop:
    """One demo run: the repository, the server's port, and a fresh context per step for each role."""

    def __init__(self, root: Path, *, step: Callable[[str], None], signed: bool) -> None:
        self.root = root
        self.ws = root / WORKSPACE
        self.step = step
        self.signed = signed
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
        self.keys = _make_keys(root) if signed else {}
        self.port = 0

    def as_role(self, role: str) -> Context:
        """A fresh context per step, as each command gets: its own clock reading, its own reads,
        and (with --signed) its own role's key."""
        env = self.environ
        if role in self.keys:
            env = {**env, "LOOPKIT_SIGNING_KEY": str(self.keys[role])}
        return Context(cwd=self.ws, environ=env, role_option=role)

    def code_commit(self, role: str, files: dict[str, str], subject: str) -> None:
        """A plain commit of code, signed as the role's commits are (SPEC 10: every commit)."""
        import secrets

        from loopkit.gitrepo import committer

        root = self.root
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        ctx = self.as_role(role)
        scratch = secrets.token_hex(6)
        built = committer.build(
            root,
            ctx.workspace.git_dir,
            paths=list(files),
            parent=committer.current_head(root),
            message=subject + "\n",
            identity=ctx.workspace.config.identities[role],
            when=None,
            scratch=scratch,
            sign=ctx.sign_args(),
        )
        if built is not None:
            committer.publish(root, ctx.workspace.git_dir, built, subject=subject, scratch=scratch)

    def set_up(self) -> None:
        """The workspace, the demo spec aimed at the server, and (with --signed) a key per role."""
        ws, environ = self.ws, self.environ
        spec = (data_dir("phases") / "demo.toml").read_text("utf-8")
        spec = (
            spec.replace("@PYTHON@", shlex.quote(sys.executable))
            .replace("@PORT@", str(self.port))
            .replace("@CLOSED@", str(_closed_port()))
        )
        phases.init(Context(cwd=self.root, environ=environ), WORKSPACE)
        (ws / "phases" / "demo.toml").write_text(spec, encoding="utf-8")
        self.step(f"HTTP server on 127.0.0.1:{self.port}; workspace {WORKSPACE}/ with phases/demo.toml")
        signing: dict[str, str] = {}
        if self.signed:
            config_path = ws / "loopkit.toml"
            text = config_path.read_text("utf-8")
            roles = ", ".join(f'"{r}"' for r in SIGNED_ROLES)
            config_path.write_text(text.replace("signed = []", f"signed = [{roles}]", 1), encoding="utf-8")
            identities = self.as_role("orchestrator").workspace.config.identities
            emails = {r: i.email for r, i in identities.items()}
            signing[f"{WORKSPACE}/allowed_signers"] = _allowed_signers(self.keys, emails)
            self.step(
                f"signing on: a key per role in {self.keys['builder'].parent}, {WORKSPACE}/allowed_signers"
            )
        self.code_commit(
            "orchestrator",
            {
                **signing,
                "app/health.txt": "ok\n",
                "tools/http_code.py": render("demo/http_code.py.j2"),
                "plans/demo.md": render("demo/plan.md.j2"),
                f"{WORKSPACE}/loopkit.toml": (ws / "loopkit.toml").read_text("utf-8"),
                f"{WORKSPACE}/phases/README.md": (ws / "phases" / "README.md").read_text("utf-8"),
                f"{WORKSPACE}/.gitattributes": (ws / ".gitattributes").read_text("utf-8"),
                f"{WORKSPACE}/phases/demo.toml": spec,
            },
            "chore: the demo service, its probe tool and the demo phase spec",
        )

    def open_phase(self) -> None:
        opened = phases.phase_new(self.as_role("orchestrator"), "demo", None)
        self.step(f"orchestrator: opened phase demo — {opened.title}")
        sent = inbox.send(
            self.as_role("orchestrator"),
            to="builder",
            phase="demo",
            subject="phase demo is open",
            body="Plan: plans/demo.md. M1 first.",
        )
        self.step(f"orchestrator → builder: {sent.message.id}")
        self.consume("builder", report=True)

    def consume(self, role: str, *, report: bool) -> None:
        got = inbox.consume(self.as_role(role), to=role, ids=[], every=True, phase=None)
        if report:
            self.step(f"{role}: consumed {len(got.consumed)} message(s)")

    def run_probes(self, milestone: str) -> None:
        ran = probes.probe_run(self.as_role("builder"), phase="demo", milestone=milestone, probe=None)
        for r in (w.record for w in ran.records):
            self.step(f"builder: probe {r.milestone} {r.probe} → {r.observed} {r.result}")

    def claim(self, milestone: str, note: str | None) -> str:
        c = loop.claim(self.as_role("builder"), phase="demo", milestone=milestone, note=note)
        return loop.claim_words(c)

    def verdict(self, milestone: str, result: str, note: str) -> Verdicted:
        return loop.verdict(
            self.as_role("adversary"), phase="demo", milestone=milestone, result=result, note=note
        )

    def break_it(self) -> None:
        """The adversary's own probe: the version must be a release."""
        url = f"http://127.0.0.1:{self.port}/api/version"
        r = probes.probe_exec(
            self.as_role("adversary"),
            phase="demo",
            milestone="M1",
            probe="A1",
            argv=[sys.executable, "tools/http_code.py", "--body", url],
            title="the version is a release, not dev",
            expect=["1.0.0"],
            expect_not=[],
            expect_exit=None,
            observe=r'regex:"version":\s*"([^"]+)"',
            timeout=10,
        )
        self.step(f"adversary: break-it probe A1 → {r.record.observed} {r.record.result}")

    def version(self, role: str, version: str, subject: str) -> None:
        self.code_commit(role, {"app/version.json": json.dumps({"version": version}) + "\n"}, subject)

    def milestone_one(self) -> None:
        """M1: refused without the endpoint, claimed, FAILed by the break-it probe, fixed, PASSed."""
        self.run_probes("M1")
        try:
            self.claim("M1", None)
        except Refused as exc:
            self.step(f"builder: claim M1 refused (exit 3): {exc.details[0].message}")
        self.version("builder", "dev", "feat(app): version endpoint")
        self.step("builder: committed the version endpoint")
        self.run_probes("M1")
        self.step(f"builder: {self.claim('M1', 'version endpoint')}")
        self.break_it()
        v = self.verdict("M1", "FAIL", "version is 'dev', not a release")
        self.step(f"adversary: M1 {v.result} — version is 'dev'")
        self.consume("builder", report=False)
        self.version("builder", "1.0.0", "fix(app): release version 1.0.0")
        self.step("builder: fixed the version and committed")
        self.run_probes("M1")
        self.step(f"builder: {self.claim('M1', 'release version')}, again")
        self.break_it()
        v = self.verdict("M1", "PASS", "release version served")
        self.step(f"adversary: M1 PASS (claim {(v.claim_commit or '')[:10]})")

    def milestone_two(self) -> None:
        self.run_probes("M2")
        self.step(f"builder: {self.claim('M2', None)}")
        self.verdict("M2", "PASS", "health answers 200")
        self.step("adversary: M2 PASS")
        self.consume("adversary", report=False)

    def finish(self) -> StatusDocument:
        """The gate waits on the inbox, the builder empties it and writes DONE; the final status."""
        inbox.send(
            self.as_role("orchestrator"),
            to="builder",
            phase="demo",
            subject="write DONE when the gate holds",
            body="",
        )
        unmet = loop.gate_issues(self.as_role("builder"), phase="demo")
        self.step("builder: gate → " + ("; ".join(f"{u.code}" for u in unmet) or "met"))
        self.consume("builder", report=True)
        journals.journal_add(
            self.as_role("builder"),
            phase="demo",
            title="M1+M2 PASS received",
            body="Both verdicts are in; writing DONE.",
        )
        d = loop.done(self.as_role("builder"), phase="demo", summary="version endpoint serves a release")
        self.step(f"builder: ## DONE [{(d.commit or '')[:10]}]")
        final = status.status(self.as_role("orchestrator"), phase=None)
        if self.signed:
            problems = view.check(self.as_role("orchestrator"), phase=None).problems
            self.step("orchestrator: check → " + ("; ".join(p.code for p in problems) or "no problems"))
        return final


def demo(target: str | None, *, step: Callable[[str], None], signed: bool = False) -> DemoDocument:
    """The whole loop; returns the final `status` document (the CLI prints it as `loopkit status`
    does) and the repository's log."""
    from loopkit.gitrepo import init_repo

    root = _folder(target)
    repo = init_repo(root)
    run = _Loop(root, step=step, signed=signed)
    step(f"demo repository: {root}")
    with _server(root / "app") as port:
        run.port = port
        run.set_up()
        run.open_phase()
        run.milestone_one()
        run.milestone_two()
        final = run.finish()
    return DemoDocument(str(root), final, tuple(repo.log_oneline(limit=100).splitlines()))
