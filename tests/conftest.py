"""Real git in temporary folders, the installed `loopkit` in subprocesses, a fixed clock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LOOPKIT = shutil.which("loopkit", path=str(Path(sys.executable).parent)) or shutil.which("loopkit")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOW = "2026-06-13T13:44:00Z"


@pytest.fixture(autouse=True)
def git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config leaks in; commits are reproducible; nothing is signed."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Person\n\temail = person@example.invalid\n"
        "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for name in list(os.environ):
        if name.startswith(("LOOPKIT_", "GIT_AUTHOR_", "GIT_COMMITTER_")):
            monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Repo:
    """A git repository with a loopkit workspace in `ws` (the repository root unless asked)."""

    root: Path
    ws: Path

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return git(self.root, *args, env=env)

    def lk(
        self,
        *args: str,
        role: str | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Result:
        return run_loopkit(*args, cwd=cwd or self.ws, role=role, input=input, env=env)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit_code(self, rel: str, text: str, message: str = "code") -> str:
        self.write(rel, text)
        self.git("add", rel)
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def run_loopkit(
    *args: str,
    cwd: Path,
    role: str | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    assert LOOPKIT is not None, "the loopkit command is not installed"
    full_env = {**os.environ, "LOOPKIT_NOW": NOW, **(env or {})}
    if role:
        full_env["LOOPKIT_ROLE"] = role
    proc = subprocess.run(
        [LOOPKIT, *args],
        cwd=cwd,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def make_repo(base: Path, *, workspace: str = "") -> Repo:
    root = base / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# project\n", encoding="utf-8")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    ws = root / workspace if workspace else root
    ws.mkdir(exist_ok=True)
    result = run_loopkit("init", cwd=ws)
    assert result.code == 0, result.err
    return Repo(root, ws)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    return make_repo(tmp_path)


@pytest.fixture
def docs_repo(tmp_path: Path) -> Iterator[Repo]:
    """The workspace in `docs/`, as SPEC's example: code outside it, books inside."""
    return make_repo(tmp_path, workspace="docs")
