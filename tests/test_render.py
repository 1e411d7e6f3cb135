"""render.py on jinja2 as it is: a render through the workspace's bytecode cache (.git/loopkit/jinja)
gives the very text and error a render without it gives, an override edited, added or deleted shows
at once (even within one mtime), and a damaged cache file changes no output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopkit import render as rendering
from loopkit.errors import BadInput

TEMPLATES = rendering.data_dir("templates")
TEXT_TEMPLATES = sorted(path.name for path in TEMPLATES.glob("*.j2"))


def _git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _cache(workspace: Path) -> Path:
    folder = rendering._cache_dir(workspace)
    assert folder is not None
    return folder


def _jinja2(name: str, context: dict[str, Any]) -> str:
    """The reference: jinja2 alone, no cache folder."""
    return rendering._environment(None).get_template(name).render(**context)


def _variables(name: str) -> list[str]:
    from jinja2 import meta

    env = rendering._environment(None)
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    names = set(meta.find_undeclared_variables(env.parse(source)))
    for included in re.findall(r'{%\s*include\s+"([^"]+)"', source):
        names |= set(meta.find_undeclared_variables(env.parse((TEMPLATES / included).read_text("utf-8"))))
    return sorted(names)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _git_repo(tmp_path_factory.mktemp("render") / "repo")


@pytest.mark.parametrize("name", [name for name in TEXT_TEMPLATES if _variables(name)])
def test_a_missing_variable_is_bad_input_with_jinja2s_message(workspace: Path, name: str) -> None:
    for _ in range(2):  # compiled, then from the bytecode cache
        with pytest.raises(BadInput) as cached:
            rendering.render(name, workspace=workspace)
        with pytest.raises(BadInput) as alone:
            rendering.render(name)  # no workspace: no cache folder, jinja2 alone
        assert cached.value.message == alone.value.message
        assert cached.value.message.startswith(f"template {name}: ")


_SCRIPT = """
import sys
from pathlib import Path
from loopkit.render import render
text = render(
    "journal-evidence.md.j2",
    workspace=Path(sys.argv[1]),
    at="2026-06-13T13:44Z",
    record={"milestone": "M1", "probe": "P1", "result": "PASS"},
    title="version answers 200",
    comment="<!-- loopkit:probe {} -->",
    fence="```",
    lines=["$ printf 200", "→ 200 ✓ PASS"],
)
sys.stdout.write(text)
"""


def _run(workspace: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COV_CORE")}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(workspace)], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def test_the_next_command_renders_from_jinja2s_bytecode_cache(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    cold = _run(workspace)
    stored = sorted(_cache(workspace).iterdir())
    assert [p.suffix for p in stored] == [".cache"], stored  # jinja2's own file, one per template
    warm = _run(workspace)
    assert warm == cold
    assert sorted(_cache(workspace).iterdir()) == stored
    assert "→ 200 ✓ PASS" in warm


def test_an_override_edited_within_its_mtime_shows_at_once(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    override = workspace / rendering.OVERRIDE_DIR / "journal-entry.md.j2"
    package = rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="")

    override.parent.mkdir()
    override.write_text("one {{ title }}\n", encoding="utf-8")
    for _ in range(2):
        assert (
            rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="")
            == "one T\n"
        )

    before = override.stat()
    override.write_text("two {{ title }}\n", encoding="utf-8")  # same size
    os.utime(override, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert override.stat().st_mtime_ns == before.st_mtime_ns and override.stat().st_size == before.st_size
    for _ in range(2):
        assert (
            rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="")
            == "two T\n"
        )

    override.unlink()
    for _ in range(2):
        assert (
            rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="")
            == package
        )


def test_an_override_may_use_any_of_jinja2(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    override = workspace / rendering.OVERRIDE_DIR / "journal-entry.md.j2"
    override.parent.mkdir()
    override.write_text("{% for c in title %}{{ loop.index }}{{ c }}{% endfor %}\n.\n", encoding="utf-8")
    for _ in range(2):
        assert rendering.render("journal-entry.md.j2", workspace=workspace, title="ab") == "1a2b.\n"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_cache_file_changes_no_output(tmp_path: Path, damage: str) -> None:
    workspace = _git_repo(tmp_path / "repo")
    args: dict[str, Any] = {"at": "A", "title": "T", "body": "a body\n{{ not a tag }}"}
    expected = _jinja2("journal-entry.md.j2", args)
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected
    (path,) = _cache(workspace).glob("*.cache")
    data = path.read_bytes()
    damaged = {
        "garbage": b"\x00not marshal at all\xff" * 3,
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }[damage]
    path.write_bytes(damaged)
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected
    assert path.read_bytes() == data  # rewritten by jinja2
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected
