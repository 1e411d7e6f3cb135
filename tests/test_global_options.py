"""--role, --workspace and --json work before the command too, as scripts often place them."""

from __future__ import annotations

import json

from conftest import Repo, run_loopkit


def test_options_before_the_command(docs_repo: Repo) -> None:
    root = docs_repo.root
    opened = run_loopkit("--role", "orchestrator", "--workspace", "docs", "phase", "new", "px", cwd=root)
    assert opened.code == 0, opened.err
    status = run_loopkit("--workspace", "docs", "--json", "status", cwd=root)
    assert status.code == 0
    assert next(iter(json.loads(status.out))) == "schema_version"
    assert json.loads(status.out)["workspace"] == "docs"
    refused = run_loopkit("--role", "builder", "--workspace", "docs", "phase", "new", "py", cwd=root)
    assert refused.code == 3
    bogus = run_loopkit("--role", "wizard", "--workspace", "docs", "status", cwd=root)
    assert bogus.code == 2


def test_init_and_demo_take_a_role(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run_loopkit("init", "--role", "orchestrator", cwd=tmp_path).code == 0
    assert (tmp_path / "loopkit.toml").is_file()
    assert run_loopkit("demo", "--role", "wizard", "--dir", str(tmp_path / "d"), cwd=tmp_path).code == 2
