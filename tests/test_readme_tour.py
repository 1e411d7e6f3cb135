"""The README's tour, run as written (issue 7 and 12): from a fresh repository, with a spec whose
probe asks a real local HTTP server, it commits the spec, ends DONE, leaves `git status` clean and
`check` clean. The shell block is read from README.md itself, so the tour cannot rot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _Version(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/version" else 404)
        self.end_headers()
        self.wfile.write(b"1.0")

    def log_message(self, *_: object) -> None:
        pass


def tour_block() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    after = text[text.index("## A tour") :]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        repo = tmp_path / "project"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        (repo / "README.md").write_text("# project\n", "utf-8")
        subprocess.run(["git", "add", "."], cwd=repo, check=True)
        subprocess.run(["git", "commit", "-qm", "initial"], cwd=repo, check=True)
        spec = tmp_path / "pxgate.toml"
        spec.write_text(
            'phase = "pxgate"\ntitle = "Proxy health gate"\n\n[[milestones]]\nid = "M1"\n'
            'title = "Health probe answers 200"\n\n  [[milestones.probes]]\n  id = "P1"\n'
            '  title = "version answers 200"\n'
            f"  run = \"curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}/api/version\"\n"
            '  observe = "stdout"\n  expect = ["200"]\n',
            "utf-8",
        )
        script = "set -euo pipefail\n" + tour_block().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "EDITOR": f"cp {spec}",
            "LOOPKIT_NOW": "2026-06-13T13:44:00Z",
        }
        env.pop("LOOPKIT_ROLE", None)
        env.pop("LOOPKIT_WORKSPACE", None)
        ran = subprocess.run(
            ["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=600
        )
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        subjects = subprocess.run(
            ["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
        assert "status(pxgate): ## DONE — M1 PASS, cycle broken" in subjects
        spec_commit = subprocess.run(
            ["git", "log", "--format=%s", "--", "docs/phases/pxgate.toml"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stdout
        assert spec_commit.strip(), "the tour commits the spec"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stdout
        assert status == "", status
        check = subprocess.run(
            ["loopkit", "check", "--json"], cwd=repo, env={**env, "LOOPKIT_WORKSPACE": "docs"},
            capture_output=True, text=True,
        )  # fmt: skip
        assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True, check.stdout
    finally:
        server.shutdown()
