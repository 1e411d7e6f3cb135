"""The README's tour, run as written (issues 7, 12 and 24 item 11): from a fresh repository, with
nothing of the test's own (no server, no spec, no $EDITOR: the tour starts its stand-in service and
writes its spec itself), it commits the spec, ends DONE, leaves `git status` clean and `check` clean,
and its `LOOPKIT_WORKSPACE` still holds after `cd docs`. The shell block is read from README.md
itself, so the tour cannot rot; the one change is the port, a free one instead of 8080."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loopkit.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
MARK = "--- after the tour ---"


def readme() -> str:
    return (ROOT / "README.md").read_text("utf-8")


def tour_block() -> str:
    text = readme()
    after = text[text.index("## A tour") :]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)  # type: ignore[union-attr]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("# project\n", "utf-8")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "initial"], cwd=repo, check=True)
    tour = tour_block()
    assert tour.count("8080") >= 2, "the tour starts the service its probes ask"
    port = _free_port()
    # the stand-in must not outlive a failed tour; after the tour, `cd docs` from the repository
    # (whatever folder the tour ended in) must still find the workspace, and check must be clean
    script = (
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        + tour.replace("8080", str(port))
        + f"\ncd {shlex.quote(str(repo))} && cd docs\n"
        + "code=0; loopkit claim --phase pxgate --milestone M1 --no-commit 2>/dev/null || code=$?\n"
        + f"echo \"no-commit $code\"\necho '{MARK}'\nloopkit check --json\n"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LOOPKIT_NOW": "2026-06-13T13:44:00Z",
    }
    for name in ("LOOPKIT_ROLE", "LOOPKIT_WORKSPACE", "EDITOR", "VISUAL"):
        env.pop(name, None)
    ran = subprocess.run(
        ["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    subjects = _git(repo, "log", "--format=%s")
    assert "status(pxgate): ## DONE — M1 PASS, cycle broken" in subjects
    assert _git(repo, "log", "--format=%s", "--", "docs/phases/pxgate.toml").strip(), (
        "the tour commits the spec"
    )
    spec = _git(repo, "show", "HEAD:docs/phases/pxgate.toml")
    assert "[[milestones.probes]]" in spec and f"127.0.0.1:{port}/api/version" in spec
    assert _git(repo, "ls-files", "docs/phases/README.md").strip(), "the README points at init's spec guide"
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    refused = re.search(r"^no-commit (\d+)$", ran.stdout, re.M)
    assert refused and int(refused.group(1)) == _no_commit_exit(), ran.stdout[-2000:]
    check = json.loads(ran.stdout.split(MARK + "\n", 1)[1])
    assert check["ok"] is True, check
    with socket.socket() as sock:  # the tour stops its stand-in
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def _no_commit_refusal() -> re.Match[str]:
    said = re.search(
        r"`--no-commit`\s+too,\s+except\s+(.*?),\s+which\s+refuse\s+it\s+\(exit\s+(\d)\)", readme(), re.S
    )
    assert said, "the README says which commands refuse --no-commit"
    return said


def _no_commit_exit() -> int:
    return int(_no_commit_refusal().group(2))


def test_the_readme_names_the_commands_that_refuse_no_commit() -> None:
    """The README's sentence on `--no-commit` names exactly the commands the table marks as written
    only as loopkit's own commit (they refuse it); the tour above checks the exit code it gives."""
    named = set(re.findall(r"`([a-z ]+)`", _no_commit_refusal().group(1)))
    assert named == {c.words for c in COMMANDS if c.committed_only}
