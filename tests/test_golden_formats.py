"""Golden files for every format loopkit writes (issue 7): STATUS, a journal entry, evidence, an
inbox message, an archived message and each commit message, produced by the installed `loopkit`
with a fixed clock and compared byte for byte. Only what must differ between runs is masked:
commit and tree ids, the random part of message and claim ids, a probe's duration.
`UPDATE_GOLDEN=1` rewrites the files (then read the diff)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import Repo

GOLDEN = Path(__file__).parent / "golden" / "formats"
SPEC = """\
phase = "px"
title = "Proxy health gate"
plan = "plans/px.md"

[[milestones]]
id = "M1"
title = "Health probe answers 200"

  [[milestones.probes]]
  id = "P1"
  title = "version answers 200"
  run = "printf 200"
  observe = "stdout"
  expect = ["200"]
"""


def mask(text: str) -> str:
    text = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text)
    text = re.sub(r"(\d{8}T\d{6}Z-[a-z]{1,4}-)[0-9a-f]{12}", r"\1<random>", text)
    return re.sub(r'"duration":\s?[0-9.e-]+', '"duration":<s>', text)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(mask(text).encode("utf-8"))
    assert mask(text) == path.read_bytes().decode("utf-8"), name


def ok(repo: Repo, *args: str, role: str) -> None:
    result = repo.lk(*args, role=role)
    assert result.code == 0, result.err


def test_every_format_loopkit_writes_reads_as_its_golden_file(docs_repo: Repo) -> None:
    repo = docs_repo
    (repo.ws / "phases" / "px.toml").write_text(SPEC, "utf-8")
    repo.git("add", "docs")
    repo.git("commit", "-qm", "workspace")
    ok(repo, "phase", "new", "px", role="orchestrator")
    check("STATUS-opened.md", (repo.ws / "STATUS-px.md").read_text("utf-8"))
    ok(
        repo,
        "journal",
        "add",
        "--phase",
        "px",
        "--title",
        "Phase start",
        "--body",
        "Read the plan.\n\n- M1 first",
        role="builder",
    )
    ok(repo, "probe", "run", "--phase", "px", role="builder")
    ok(repo, "claim", "--phase", "px", "--milestone", "M1", "--note", "version answers", role="builder")
    check("ADVERSARY-INBOX.md", (repo.ws / "ADVERSARY-INBOX.md").read_text("utf-8"))
    ok(repo, "inbox", "consume", "--to", "adversary", "--all", role="adversary")
    ok(
        repo,
        "verdict",
        "PASS",
        "--phase",
        "px",
        "--milestone",
        "M1",
        "--note",
        "idle probes pass",
        role="adversary",
    )
    ok(repo, "inbox", "consume", "--to", "builder", "--all", role="builder")
    ok(repo, "done", "--phase", "px", "--summary", "cycle broken", role="builder")
    check("STATUS-done.md", (repo.ws / "STATUS-px.md").read_text("utf-8"))
    check("JOURNAL-px.md", (repo.ws / "JOURNAL-px.md").read_text("utf-8"))
    check("REVIEW-px.md", (repo.ws / "REVIEW-px.md").read_text("utf-8"))
    archived = sorted((repo.ws / "inbox-archive").glob("*.md"))
    assert len(archived) == 2
    check("archive-verdict.md", next(p for p in archived if p.name.startswith("BUILDER-")).read_text("utf-8"))
    check("ADVERSARY-INBOX-emptied.md", (repo.ws / "ADVERSARY-INBOX.md").read_text("utf-8"))
    messages = repo.git("log", "--reverse", "--format=%B%x00", "main").split("\x00")
    check("commits.txt", "\n--------\n".join(m.strip("\n") for m in messages if m.strip()) + "\n")
