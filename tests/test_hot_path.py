"""The hot paths import only what they use (issue #14): a command run the way agents run it, in a
fresh interpreter, and the modules it left in sys.modules. Timings are for benchmarks/; this
checks what the time is spent on cannot silently come back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import NOW, Repo

# the console script's work, with the modules it loaded written out as it exits
_RUN = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["loopkit", *sys.argv[2:]]
from loopkit.cli import main
main()
"""
HEAVY = ("markdown_it", "jinja2", "git", "mcp")


def loaded(repo: Repo, tmp_path: Path, *args: str, role: str = "builder") -> set[str]:
    return {name.split(".")[0] for name in modules(repo, tmp_path, *args, role=role)}


def modules(repo: Repo, tmp_path: Path, *args: str, role: str = "builder") -> set[str]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_ROLE": role}
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(out), *args],
        cwd=repo.ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(out.read_text("utf-8")))


def _phase(repo: Repo) -> None:
    repo.write(
        "phases/px.toml",
        'phase = "px"\ntitle = "hot"\n\n[[milestones]]\nid = "M1"\ntitle = "one"\n',
    )
    assert repo.lk("phase", "new", "px", role="orchestrator").code == 0


def test_a_second_probe_exec_parses_no_markdown(repo: Repo, tmp_path: Path) -> None:
    """The first evidence append parses the journal's end; the next finds it as loopkit left it
    (the anchor's checksums) and appends without markdown-it, as the shortcut property allows."""
    _phase(repo)
    exec_ = ("probe", "exec", "--phase", "px", "--milestone", "M1", "--id", "P1", "--", "true")
    first = loaded(repo, tmp_path, *exec_)
    assert "markdown_it" in first  # nothing remembered yet: the full check
    again = modules(repo, tmp_path, *exec_)
    # jinja2 renders the evidence entry (from its bytecode cache): issue 21
    assert not {name.split(".")[0] for name in again} & (set(HEAVY) - {"jinja2"}), again
    # the rules and the records of STATUS files and inboxes, and the history walk, stay unbuilt
    unused = {"loopkit.state", "loopkit.model.status", "loopkit.model.inbox", "loopkit.gitrepo.provenance"}
    assert not again & unused, again & unused
    # nor the documents of other commands (their dataclasses cost each command's import)
    others = {f"loopkit.documents.{name}" for name in ("inbox", "loop", "next", "phases", "status", "sync")}
    assert not again & others, again & others
    parsed = json.loads(repo.lk("journal", "show", "--phase", "px", "--json").out)
    assert [e["title"] for e in parsed["entries"]][-2:] == ["M1 P1 PASS", "M1 P1 PASS"]


def test_a_hand_edit_sends_the_append_back_to_the_full_check(repo: Repo, tmp_path: Path) -> None:
    """Text typed after loopkit's last entry (an open fence here) is seen: markdown-it reads the
    end, the fence is closed, and the new entry reads back as one."""
    _phase(repo)
    exec_ = ("probe", "exec", "--phase", "px", "--milestone", "M1", "--id", "P1", "--", "true")
    loaded(repo, tmp_path, *exec_)
    journal = repo.ws / "JOURNAL-px.md"
    journal.write_text(journal.read_text("utf-8") + "\n```\ntyped, never closed\n", "utf-8")
    assert "markdown_it" in loaded(repo, tmp_path, *exec_)
    parsed = json.loads(repo.lk("journal", "show", "--phase", "px", "--json").out)
    assert [e["title"] for e in parsed["entries"]][-2:] == ["M1 P1 PASS", "M1 P1 PASS"]
    assert parsed["entries"][-1]["evidence"], parsed["entries"][-1]


def test_inbox_list_and_the_help_load_no_heavy_library(repo: Repo, tmp_path: Path) -> None:
    """A read of an unchanged inbox is remembered: the second `inbox list` parses nothing."""
    sent = repo.lk("inbox", "send", "--to", "builder", "--subject", "hello", "--body", "b", role="adversary")
    assert sent.code == 0, sent.err
    assert "markdown_it" in loaded(repo, tmp_path, "inbox", "list", "--to", "builder")
    again = modules(repo, tmp_path, "inbox", "list", "--to", "builder")
    assert not {name.split(".")[0] for name in again} & set(HEAVY), again
    # no journal: neither its records, its evidence blocks nor the append that consume uses
    unused = {
        "loopkit.state",
        "loopkit.model.journal",
        "loopkit.model.status",
        "loopkit.markdown.evidence",
        "loopkit.services.journals",
    }
    assert not again & unused, again & unused
    listed = repo.lk("inbox", "list", "--to", "builder", "--json")
    assert [m["subject"] for m in listed.json["messages"]] == ["hello"]
    assert not loaded(repo, tmp_path, "--help") & {"markdown_it", "git", "mcp", "jinja2"}


def test_every_record_is_importable_from_loopkit_model() -> None:
    """loopkit.model loads each record's module on first use: its table names every record where
    it lives, and every public name of the modules is reachable through it."""
    import importlib

    import loopkit.model as model

    for name, home in model._HOMES.items():
        assert getattr(model, name) is getattr(importlib.import_module(f"loopkit.model.{home}"), name)
    assert set(model.__all__) == {*model._HOMES, "ROLES", "Result", "Role"}
    for home in set(model._HOMES.values()):
        module = importlib.import_module(f"loopkit.model.{home}")
        public = {
            n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__
        }
        assert public <= set(model._HOMES), public - set(model._HOMES)


def test_a_second_status_of_an_unchanged_workspace_reads_no_book(repo: Repo, tmp_path: Path) -> None:
    """The status memo answers: no spec, STATUS file or journal is read, nothing rendered."""
    _phase(repo)
    old = time.time_ns() - 10_000_000_000  # out of the memo's racy window
    for folder, dirs, files in os.walk(repo.root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*files, *dirs]:
            os.utime(Path(folder) / name, ns=(old, old))
    os.utime(repo.root, ns=(old, old))
    first = modules(repo, tmp_path, "status", "--json", role="orchestrator")
    assert "loopkit.services.view" in first  # nothing remembered yet: the books are read
    again = modules(repo, tmp_path, "status", "--json", role="orchestrator")
    light = {
        "loopkit.services.view",
        "loopkit.render",
        "loopkit.txn",
        "loopkit.cli.text",
        "loopkit.services.sync",
    }
    assert not again & (light | set(HEAVY)), again & (light | set(HEAVY))
    assert {name.split(".")[0] for name in again}.isdisjoint(HEAVY)


def test_probe_exec_without_a_commit_leaves_its_git_reads_in_the_cache(repo: Repo, tmp_path: Path) -> None:
    """HEAD stays where it was: the spec commits (one `git log`) are stored for the next probe,
    which records the same evidence from them."""
    _phase(repo)
    exec_ = ("probe", "exec", "--phase", "px", "--milestone", "M1", "--id", "P1", "--no-commit", "--", "true")
    assert repo.lk(*exec_, role="builder").code == 0
    spec = json.loads((repo.root / ".git" / "loopkit" / "index" / "spec.json").read_text("utf-8"))
    assert spec["entries"]["HEAD"][0] == repo.git("rev-parse", "HEAD").strip()
    assert repo.lk(*exec_, role="builder").code == 0
    parsed = json.loads(repo.lk("journal", "show", "--phase", "px", "--json").out)
    assert [e["title"] for e in parsed["entries"]][-2:] == ["M1 P1 PASS", "M1 P1 PASS"]


def test_reading_the_trusted_config_loads_no_signing_code(repo: Repo, tmp_path: Path) -> None:
    """Every command reads loopkit.toml's trust chain; a chain with no later change to verify
    needs none of signing's code (its import with hashlib, secrets and tempfile: ~8 ms of an
    `inbox list`, benchmarks/ P7), and a read of an inbox none of the transaction's (~3 ms)."""
    sent = repo.lk("inbox", "send", "--to", "builder", "--subject", "hello", "--body", "b", role="adversary")
    assert sent.code == 0, sent.err
    for _ in range(2):
        again = modules(repo, tmp_path, "inbox", "list", "--to", "builder")
    assert "loopkit.gitrepo.signers" in again  # the chain was read
    assert not again & {"loopkit.gitrepo.signing", "secrets", "tempfile", "loopkit.txn"}, again
