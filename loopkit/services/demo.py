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
        proc = subprocess.run(
            [
                find_ssh_keygen(),
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"loopkit demo {role}",
                "-f",
                str(key),
            ],
            capture_output=True,
            check=False,
        )
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


def demo(target: str | None, *, step: Callable[[str], None], signed: bool = False) -> dict[str, Any]:
    from loopkit.gitrepo import committer, init_repo

    root = _folder(target)
    repo = init_repo(root)
    ws = root / WORKSPACE
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKIT_")}
    keys = _make_keys(root) if signed else {}

    def as_role(role: str) -> Context:
        """A fresh context per step, as each command gets: its own clock reading, its own reads,
        and (with --signed) its own role's key."""
        env = {**environ, "LOOPKIT_SIGNING_KEY": str(keys[role])} if role in keys else environ
        return Context(cwd=ws, environ=env, role_option=role)

    def code_commit(role: str, files: dict[str, str], subject: str) -> None:
        """A plain commit of code, signed as the role's commits are (SPEC 10: every commit)."""
        import secrets

        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        ctx = as_role(role)
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

    step(f"demo repository: {root}")
    with _server(root / "app") as port:
        python = shlex.quote(sys.executable)
        spec = (data_dir("phases") / "demo.toml").read_text("utf-8")
        spec = (
            spec.replace("@PYTHON@", python)
            .replace("@PORT@", str(port))
            .replace("@CLOSED@", str(_closed_port()))
        )
        phases.init(Context(cwd=root, environ=environ), WORKSPACE)
        (ws / "phases" / "demo.toml").write_text(spec, encoding="utf-8")
        step(f"HTTP server on 127.0.0.1:{port}; workspace {WORKSPACE}/ with phases/demo.toml")
        signing: dict[str, str] = {}
        if signed:
            config_path = ws / "loopkit.toml"
            text = config_path.read_text("utf-8")
            roles = ", ".join(f'"{r}"' for r in SIGNED_ROLES)
            config_path.write_text(text.replace("signed = []", f"signed = [{roles}]", 1), encoding="utf-8")
            emails = {r: i.email for r, i in as_role("orchestrator").workspace.config.identities.items()}
            signing[f"{WORKSPACE}/allowed_signers"] = _allowed_signers(keys, emails)
            step(f"signing on: a key per role in {keys['builder'].parent}, {WORKSPACE}/allowed_signers")
        code_commit(
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

        opened = phases.phase_new(as_role("orchestrator"), "demo", None)
        step(f"orchestrator: opened phase demo — {opened['title']}")
        sent = inbox.send(
            as_role("orchestrator"),
            to="builder",
            phase="demo",
            subject="phase demo is open",
            body="Plan: plans/demo.md. M1 first.",
        )
        step(f"orchestrator → builder: {sent['id']}")
        got = inbox.consume(as_role("builder"), to="builder", ids=[], every=True, phase=None)
        step(f"builder: consumed {len(got['consumed'])} message(s)")

        def run_probes(milestone: str) -> None:
            for r in probes.probe_run(as_role("builder"), phase="demo", milestone=milestone, probe=None)[
                "records"
            ]:
                step(f"builder: probe {r['milestone']} {r['probe']} → {r['observed']} {r['result']}")

        run_probes("M1")
        try:
            loop.claim(as_role("builder"), phase="demo", milestone="M1", note=None)
        except Refused as exc:
            step(f"builder: claim M1 refused (exit 3): {exc.details[0].message}")
        code_commit(
            "builder",
            {"app/version.json": json.dumps({"version": "dev"}) + "\n"},
            "feat(app): version endpoint",
        )
        step("builder: committed the version endpoint")
        run_probes("M1")
        c = loop.claim(as_role("builder"), phase="demo", milestone="M1", note="version endpoint")
        step(f"builder: {loop.claim_words(c)}")

        url = f"http://127.0.0.1:{port}/api/version"
        argv = [sys.executable, "tools/http_code.py", "--body", url]

        def break_it() -> dict[str, Any]:
            r = probes.probe_exec(
                as_role("adversary"),
                phase="demo",
                milestone="M1",
                probe="A1",
                argv=argv,
                title="the version is a release, not dev",
                expect=["1.0.0"],
                expect_not=[],
                expect_exit=None,
                observe=r'regex:"version":\s*"([^"]+)"',
                timeout=10,
            )
            step(f"adversary: break-it probe A1 → {r['observed']} {r['result']}")
            return r

        break_it()
        v = loop.verdict(
            as_role("adversary"),
            phase="demo",
            milestone="M1",
            result="FAIL",
            note="version is 'dev', not a release",
        )
        step(f"adversary: M1 {v['result']} — version is 'dev'")
        inbox.consume(as_role("builder"), to="builder", ids=[], every=True, phase=None)
        code_commit(
            "builder",
            {"app/version.json": json.dumps({"version": "1.0.0"}) + "\n"},
            "fix(app): release version 1.0.0",
        )
        step("builder: fixed the version and committed")
        run_probes("M1")
        c = loop.claim(as_role("builder"), phase="demo", milestone="M1", note="release version")
        step(f"builder: {loop.claim_words(c)}, again")
        break_it()
        v = loop.verdict(
            as_role("adversary"), phase="demo", milestone="M1", result="PASS", note="release version served"
        )
        step(f"adversary: M1 PASS (claim {v['claim_commit'][:10]})")

        run_probes("M2")
        c = loop.claim(as_role("builder"), phase="demo", milestone="M2", note=None)
        step(f"builder: {loop.claim_words(c)}")
        v = loop.verdict(
            as_role("adversary"), phase="demo", milestone="M2", result="PASS", note="health answers 200"
        )
        step("adversary: M2 PASS")
        inbox.consume(as_role("adversary"), to="adversary", ids=[], every=True, phase=None)
        inbox.send(
            as_role("orchestrator"),
            to="builder",
            phase="demo",
            subject="write DONE when the gate holds",
            body="",
        )
        unmet = loop.gate_issues(as_role("builder"), phase="demo")
        step("builder: gate → " + ("; ".join(f"{u.code}" for u in unmet) or "met"))
        got = inbox.consume(as_role("builder"), to="builder", ids=[], every=True, phase=None)
        step(f"builder: consumed {len(got['consumed'])} message(s)")
        journals.journal_add(
            as_role("builder"),
            phase="demo",
            title="M1+M2 PASS received",
            body="Both verdicts are in; writing DONE.",
        )
        d = loop.done(as_role("builder"), phase="demo", summary="version endpoint serves a release")
        step(f"builder: ## DONE [{(d['commit'] or '')[:10]}]")
        final = status.status(as_role("orchestrator"), phase=None)
        if signed:
            problems = view.check(as_role("orchestrator"), phase=None)["problems"]
            step("orchestrator: check → " + ("; ".join(p["code"] for p in problems) or "no problems"))
    return {"dir": str(root), "status": final, "log": repo.log_oneline(limit=100).splitlines()}
