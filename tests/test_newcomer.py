"""Issue 12: what a newcomer and an agent trip over. One test per bullet, each through the installed
`loopkit` command in real git repositories (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from conftest import LOOPKIT, NOW, Repo, Result, make_repo, run_loopkit

PHASE = "px"

SPEC_TOML = """\
phase = "px"
title = "Proxy health gate"
plan = "plans/px.md"

[[milestones]]
id = "M1"
title = "Health probe answers 200"
paths = ["src/**"]

  [[milestones.probes]]
  id = "P1"
  title = "the health probe answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]

  [[milestones.probes]]
  id = "P2"
  run = "true"

[[milestones]]
id = "M2"
title = "The app is in the tree"

  [[milestones.probes]]
  id = "P3"
  title = "src/app.py exists"
  run = 'test -f "$(git rev-parse --show-toplevel)/src/app.py"'
"""


def opened(repo: Repo, spec: str = SPEC_TOML) -> Repo:
    repo.write("phases/px.toml" if repo.ws == repo.root else "docs/phases/px.toml", spec)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "plan px")
    assert ok(repo.lk("phase", "new", PHASE, role="orchestrator"))
    return repo


def ok(result: Result) -> bool:
    assert result.code == 0, (result.code, result.out, result.err)
    return True


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def tree(repo: Repo) -> str:
    return repo.git("status", "--porcelain=v1", "--untracked-files=all")


def refused(repo: Repo, *args: str, role: str | None, code: int, env: dict[str, str] | None = None) -> Result:
    """A refusal writes nothing and commits nothing."""
    before, before_tree = head(repo), tree(repo)
    result = repo.lk(*args, role=role, env=env)
    assert result.code == code, (result.code, result.out, result.err)
    assert head(repo) == before and tree(repo) == before_tree
    return result


@pytest.fixture
def books(repo: Repo) -> Repo:
    return opened(repo)


def claimed(repo: Repo, milestone: str = "M1") -> Result:
    assert ok(repo.lk("probe", "run", "--phase", PHASE, "--milestone", milestone, role="builder"))
    result = repo.lk("claim", "--phase", PHASE, "--milestone", milestone, "--json", role="builder")
    assert ok(result)
    return result


def passed(repo: Repo, milestone: str = "M1") -> None:
    claimed(repo, milestone)
    assert ok(repo.lk("verdict", "PASS", "--phase", PHASE, "--milestone", milestone, role="adversary"))


def on_terminal(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """loopkit with a terminal as its standard input (nobody types anything)."""
    assert LOOPKIT is not None
    main, secondary = pty.openpty()
    try:
        return subprocess.run(
            [LOOPKIT, *args],
            cwd=cwd,
            stdin=secondary,
            capture_output=True,
            text=True,
            env={**os.environ, "LOOPKIT_NOW": NOW, **env},
            timeout=60,
        )
    finally:
        os.close(main)
        os.close(secondary)


# -- wrong or misleading --------------------------------------------------------------------------
def test_inbox_list_is_oldest_first_by_history_never_by_clock(books: Repo) -> None:
    sent = []
    for n in range(4):
        result = books.lk("inbox", "send", "--to", "builder", "--subject", f"s{n}", "--body", "b", "--json",
                          role="orchestrator")  # fmt: skip
        assert ok(result)
        sent.append(result.json["id"])
    listed = books.lk("inbox", "list", "--to", "builder", "--json").json["messages"]
    assert [m["id"] for m in listed] == sent
    older = books.lk("inbox", "send", "--to", "builder", "--body", "b", "--json", role="orchestrator",
                     env={"LOOPKIT_NOW": "2026-06-13T13:00:00Z"})  # fmt: skip
    listed = books.lk("inbox", "list", "--to", "builder", "--json").json["messages"]
    # SPEC 1: records are ordered by history, never by their timestamps (a skewed clock included)
    assert [m["id"] for m in listed] == [*sent, older.json["id"]]


def test_no_workspace_hint_names_a_workspace_found_below(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, workspace="books")
    result = repo.lk("status", cwd=repo.root)
    assert result.code == 4
    assert "found books/loopkit.toml: use --workspace books (or LOOPKIT_WORKSPACE)" in result.err
    assert "loopkit init" not in result.err


def test_dirty_probe_warns_and_claim_hint_says_commit_first(books: Repo) -> None:
    books.write("src/app.py", "print('changed')\n")
    result = books.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="builder")
    assert result.code == 0
    assert "warning" in result.err and "uncommitted changes" in result.err
    exec_result = books.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "X1", "--", "true",
                           role="builder")  # fmt: skip
    assert "uncommitted changes" in exec_result.err
    claim = books.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder")
    assert claim.code == 3
    assert "commit your changes, then run the probe again" in claim.err


def test_stale_pass_says_what_to_do(books: Repo) -> None:
    passed(books, "M1")
    books.commit_code("src/app.py", "print('v2')\n")
    shown = books.lk("status", "--phase", PHASE)
    assert ok(shown)
    assert any("stale" in x and "claim M1 again" in x for x in shown.out.splitlines()), shown.out


@pytest.mark.parametrize(
    "args",
    [
        ("claim", "--phase", PHASE, "--milestone", "M1", "--no-commit"),
        ("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1", "--no-commit"),
        ("done", "--phase", PHASE, "--no-commit"),
    ],
)
def test_no_commit_is_refused_on_claim_verdict_done(books: Repo, args: tuple[str, ...]) -> None:
    role = "adversary" if args[0] == "verdict" else "builder"
    result = refused(books, *args, role=role, code=2)
    assert "--no-commit" in result.err


def test_second_claim_at_the_same_code_is_refused(books: Repo) -> None:
    claimed(books)
    result = refused(books, "claim", "--phase", PHASE, "--milestone", "M1", role="builder", code=3)
    assert "already claimed at this code" in result.err


def test_nul_byte_in_inbox_send_is_bad_input(books: Repo) -> None:
    books.write("nul.txt", "a\x00b")
    result = refused(books, "inbox", "send", "--to", "builder", "--body-file", str(books.root / "nul.txt"),
                     role="orchestrator", code=4)  # fmt: skip
    assert "NUL" in result.err


def test_bad_lock_timeout_is_one_line_exit_4(books: Repo) -> None:
    result = refused(books, "journal", "add", "--phase", PHASE, "--title", "t", "--body", "b",
                     role="builder", code=4, env={"LOOPKIT_LOCK_TIMEOUT": "abc"})  # fmt: skip
    assert result.err.count("\n") == 1 and "LOOPKIT_LOCK_TIMEOUT" in result.err


def test_probe_exec_on_a_milestone_the_spec_lacks_is_exit_4(books: Repo) -> None:
    result = refused(books, "probe", "exec", "--phase", PHASE, "--milestone", "M3", "--id", "X", "--", "true",
                     role="builder", code=4)  # fmt: skip
    assert "M3 is not a milestone" in result.err


def test_outside_a_git_work_tree_no_lock_left_and_the_fix_named(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    first = run_loopkit("init", cwd=folder)
    assert first.code == 0 and "git init" in first.err
    result = run_loopkit("phase", "new", PHASE, cwd=folder, role="orchestrator")
    assert result.code == 5
    assert "git init" in result.err
    assert sorted(p.name for p in folder.iterdir()) == [".gitattributes", "loopkit.toml", "phases"]


# -- stdin, sizes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [("journal", "add", "--phase", PHASE, "--title", "t"), ("inbox", "send", "--to", "adversary")],
)
def test_no_body_on_a_terminal_is_refused(books: Repo, args: tuple[str, ...]) -> None:
    before = head(books)
    result = on_terminal(*args, cwd=books.ws, env={"LOOPKIT_ROLE": "builder"})
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert "body" in result.stderr
    assert head(books) == before


def test_stdin_left_open_is_not_read_on_a_terminal_but_a_pipe_is(books: Repo) -> None:
    result = books.lk("journal", "add", "--phase", PHASE, "--title", "piped", "--json", role="builder",
                      input="from the pipe\n")  # fmt: skip
    assert ok(result)
    assert "from the pipe" in (books.ws / "JOURNAL-px.md").read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "role"),
    [
        (("journal", "add", "--phase", PHASE, "--title", "t", "--body", "x" * 200), "builder"),
        (("journal", "add", "--phase", PHASE, "--title", "t" * 50, "--body", "b"), "builder"),
        (("inbox", "send", "--to", "builder", "--subject", "s" * 50, "--body", "b"), "orchestrator"),
        (("inbox", "send", "--to", "builder", "--body", "x" * 200), "orchestrator"),
        (("phase", "update", PHASE, "--note", "n" * 50), "orchestrator"),
        (("claim", "--phase", PHASE, "--milestone", "M1", "--note", "n" * 50), "builder"),
        (("instruct", "--phase", PHASE, "--body", "x" * 200), "orchestrator"),
    ],
)
def test_limits_are_enforced(books: Repo, args: tuple[str, ...], role: str) -> None:
    config = books.ws / "loopkit.toml"
    text = config.read_text("utf-8")
    for key, value in (("body", 100), ("note", 20), ("subject", 20), ("title", 20)):
        text = text.replace(f"\n{key} = ", f"\n{key} = {value}  # ", 1)
    config.write_text(text, encoding="utf-8")
    books.git("commit", "-qam", "small limits")
    result = refused(books, *args, role=role, code=4)
    assert "limit" in result.err


# -- conventions --------------------------------------------------------------------------------------
def test_version_and_short_help(books: Repo) -> None:
    from importlib.metadata import version

    result = books.lk("--version")
    assert ok(result) and version("loopkit") in result.out
    short = books.lk("claim", "-h")
    assert ok(short) and "--milestone" in short.out
    assert ok(books.lk("-h"))


def test_loopkit_phase_is_the_default_of_every_phase_option(books: Repo) -> None:
    env = {"LOOPKIT_PHASE": PHASE}
    assert ok(books.lk("journal", "add", "--title", "t", "--body", "b", role="builder", env=env))
    assert ok(books.lk("evidence", "--json", env=env))
    assert books.lk("gate", "--json", env=env).code == 3  # not met yet, but it knew the phase
    assert books.lk("journal", "show", "--json", env=env).json["phase"] == PHASE


def test_consume_and_wait_default_to_your_own_inbox(books: Repo) -> None:
    assert ok(books.lk("inbox", "send", "--to", "builder", "--body", "b", role="orchestrator"))
    waited = books.lk("inbox", "wait", "--timeout", "1", "--json", role="builder")
    assert ok(waited) and len(waited.json["messages"]) == 1
    consumed = books.lk("inbox", "consume", "--all", "--json", role="builder")
    assert ok(consumed) and len(consumed.json["consumed"]) == 1


def _help(repo: Repo, *words: str) -> str:
    result = repo.lk(*words, "--help")
    assert ok(result)
    return result.out


COMMANDS = [
    ("init",), ("phase", "new"), ("phase", "update"), ("phase", "list"), ("journal", "add"),
    ("journal", "show"), ("journal", "parse"), ("probe", "exec"), ("probe", "run"), ("evidence",),
    ("claim",), ("verdict",), ("gate",), ("done",), ("instruct",), ("inbox", "send"),
    ("inbox", "list"), ("inbox", "consume"), ("inbox", "wait"), ("status",), ("check",), ("next",),
    ("report",), ("sync",), ("demo",),
]  # fmt: skip


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: "-".join(w))
def test_each_help_ends_with_an_example_and_the_exit_codes(books: Repo, words: tuple[str, ...]) -> None:
    text = _help(books, *words)
    assert "Example:" in text and "Exit codes:" in text
    assert text.index("Example:") < text.index("Exit codes:")
    example = text[text.index("Example:") : text.index("Exit codes:")]
    assert "loopkit " in example and f" {' '.join(words)} " in example.replace("\n", " ") + " "


def test_help_wording_and_metavars(books: Repo) -> None:
    send = _help(books, "inbox", "send")
    assert "Only this phase" not in send
    import re

    for words in COMMANDS:
        text = _help(books, *words)
        # one metavar style: upper-case names of what is given, never click's FLOAT / INTEGER
        assert not re.search(r"\b(FLOAT|INTEGER)\b", text), (words, text)
        assert "--phase TEXT" not in text and "--to TEXT" not in text and "--milestone TEXT" not in text


def test_commands_listed_in_the_loops_order(books: Repo) -> None:
    text = _help(books)
    order = ["init", "phase", "journal", "probe", "evidence", "claim", "verdict", "gate", "done",
             "instruct", "inbox", "status", "check"]  # fmt: skip
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.split()]
    positions = [listed.index(name) for name in order]
    assert positions == sorted(positions), listed


def test_forgetting_the_double_dash_says_so(books: Repo) -> None:
    result = refused(books, "probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "X", "curl", "-s",
                     "http://x", role="builder", code=2)  # fmt: skip
    assert "put -- before the command" in result.err


def test_global_and_command_roles_that_disagree_are_a_usage_error(books: Repo) -> None:
    result = refused(books, "--role", "builder", "journal", "add", "--phase", PHASE, "--title", "t",
                     "--body", "b", "--role", "adversary", role=None, code=2)  # fmt: skip
    assert "--role" in result.err
    assert ok(books.lk("--role", "builder", "journal", "add", "--phase", PHASE, "--title", "t", "--body", "b",
                       "--role", "builder"))  # fmt: skip


# -- for the real loop ----------------------------------------------------------------------------
def test_instruct_writes_at_the_end_of_a_section_in_one_commit(books: Repo) -> None:
    status = books.ws / "STATUS-px.md"
    old = status.read_text("utf-8")
    before = head(books)
    result = books.lk("instruct", "--phase", PHASE, "--milestone", "M1", "--body", "Probe the proxy, not the app.",
                      "--json", role="orchestrator")  # fmt: skip
    assert ok(result)
    assert books.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert books.git("show", "-s", "--format=%s").strip() == "status(px): instructions for M1"
    assert "Loopkit-Action: spec" in books.git("show", "-s", "--format=%B")
    new = status.read_text("utf-8")
    m1, m2 = new.index("## M1"), new.index("## M2")
    assert "Probe the proxy, not the app." in new[m1:m2]
    # only inserted: every old byte is still there, in order
    assert old.replace(old[m1 : old.index("## M2")], "") == new.replace(new[m1:m2], "")
    assert new[m1:m2].startswith(old[m1 : old.index("## M2")].rstrip("\n"))
    header = books.lk(
        "instruct", "--phase", PHASE, "--body-file", "-", role="orchestrator", input="For all.\n"
    )
    assert ok(header)
    assert books.git("show", "-s", "--format=%s").strip() == "status(px): instructions"
    text = status.read_text("utf-8")
    assert text.index("For all.") < text.index("## M1")
    refused(books, "instruct", "--phase", PHASE, "--body", "x", role="builder", code=3)
    # claims still insert and parse after instructions
    claimed(books)
    assert (
        books.lk("status", "--phase", PHASE, "--json").json["phases"][0]["milestones"][0]["state"]
        == "claimed"
    )


def test_done_body_comes_before_the_verdicts(books: Repo) -> None:
    passed(books, "M1")
    passed(books, "M2")
    assert ok(books.lk("inbox", "consume", "--all", role="builder"))
    result = books.lk("done", "--phase", PHASE, "--body", "M2 verified: deployed at 13:43Z", "--json",
                      role="builder")  # fmt: skip
    assert ok(result)
    body = books.git("show", "-s", "--format=%b")
    assert body.index("M2 verified: deployed at 13:43Z") < body.index("M1 PASS")
    verdicts = result.json["verdicts"]
    assert isinstance(verdicts[0], dict) and verdicts[0]["milestone"] == "M1"
    assert {"milestone", "result", "at", "by", "claim"} <= set(verdicts[0])


def test_messages_on_claim_and_verdict_carry_milestone_result_claim(books: Repo) -> None:
    assert ok(books.lk("inbox", "send", "--to", "adversary", "--body", "hand", role="orchestrator"))
    claim = claimed(books)
    messages = books.lk("inbox", "list", "--to", "adversary", "--json").json["messages"]
    assert messages[0]["milestone"] is None and messages[0]["claim"] is None
    assert messages[1]["milestone"] == "M1" and messages[1]["claim"] == claim.json["id"]
    assert messages[1]["result"] is None
    assert ok(books.lk("verdict", "FAIL", "--phase", PHASE, "--milestone", "M1", role="adversary"))
    to_builder = books.lk("inbox", "list", "--to", "builder", "--json").json["messages"]
    assert to_builder[-1]["result"] == "FAIL" and to_builder[-1]["claim"] == claim.json["id"]


def test_status_problems_carry_file_and_line(books: Repo) -> None:
    status = books.ws / "STATUS-px.md"
    text = status.read_text("utf-8").replace(
        "## M2", "- **PASS** M1 @2026-06-13T13:00:00Z by adversary · claim abcdef1\n\n## M2"
    )
    status.write_text(text, encoding="utf-8")
    problems = books.lk("status", "--json").json["phases"][0]["problems"]
    assert problems
    assert all("file" in p and "line" in p for p in problems)
    assert any(p["file"] == "STATUS-px.md" and isinstance(p["line"], int) for p in problems)


def test_adversary_journal_before_any_review_is_empty(books: Repo) -> None:
    result = books.lk("journal", "show", "--phase", PHASE, "--of", "adversary", "--json")
    assert ok(result)
    assert result.json["entries"] == [] and result.json["role"] == "adversary"


# -- readable output ---------------------------------------------------------------------------------
def test_claim_names_which_id_is_which(books: Repo) -> None:
    assert ok(books.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="builder"))
    code_at = head(books)
    result = books.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder")
    assert ok(result)
    assert result.out.strip() == f"claimed M1 (code at {code_at[:7]}; claim commit {head(books)[:7]})"


def test_journal_show_prints_each_mark_once_and_exit_as_exit(books: Repo) -> None:
    assert ok(books.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="builder"))
    journal = books.ws / "JOURNAL-px.md"
    with journal.open("a", encoding="utf-8") as handle:
        handle.write("\n## 2026-06-13 13:50Z — by hand\n\n```\n$ curl -s http://x\n→ 200 ✓\n```\n")
    shown = books.lk("journal", "show", "--phase", PHASE)
    assert ok(shown)
    assert "✓ [200] ✓" not in shown.out and "200 ✓ ✓" not in shown.out
    assert "true → exit 0 PASS" in shown.out
    assert "P2 PASS: P2" not in (books.ws / "JOURNAL-px.md").read_text("utf-8")
    status = (books.ws / "STATUS-px.md").read_text("utf-8")
    assert "`P2` P2" not in status and "* `P2`\n" in status  # no title, and still a line of its own
    assert "— M1 P2 PASS\n\n<!--" in (books.ws / "JOURNAL-px.md").read_text("utf-8")
    run = books.lk("probe", "run", "--phase", PHASE, "--probe", "P2", role="builder")
    assert "→ exit 0" in run.out
    # the journal's block for an exit-observed probe reads the same way, and still reads back
    text = (books.ws / "JOURNAL-px.md").read_text("utf-8")
    assert "→ exit 0 ✓ PASS" in text and "→ 0 ✓ PASS" not in text
    checked = books.lk("check", "--json")
    assert not [p for p in json.loads(checked.out)["problems"] if p["code"] == "evidence-mismatch"]


def test_evidence_counts_error_apart_from_fail(repo: Repo) -> None:
    spec = SPEC_TOML.replace('run = "true"', 'run = "sleep 5"\n  timeout = 0.2')
    books = opened(repo, spec)
    books.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", role="builder")
    shown = books.lk("evidence", "--phase", PHASE, "--milestone", "M1")
    assert ok(shown)
    assert "error P2" in shown.out and "failing -" in shown.out


def test_status_renders_on_a_forge(books: Repo) -> None:
    from markdown_it import MarkdownIt

    claimed(books)
    text = (books.ws / "STATUS-px.md").read_text("utf-8")
    assert "**Title:** Proxy health gate\n\n**Plan:**" in text
    html = MarkdownIt("commonmark").render(text)
    section = html[html.index("M1 —") : html.index("M2 —")]
    assert section.count("<ul>") == 2, section  # the probes, then the records: two lists
    # STATUS written by an older loopkit (one list, Title and Plan together) still parses
    old = text.replace("**Title:** Proxy health gate\n\n**Plan:**", "**Title:** Proxy health gate\n**Plan:**")
    old = old.replace("* `P", "- `P")
    (books.ws / "STATUS-px.md").write_text(old, encoding="utf-8")
    data = books.lk("status", "--json").json["phases"][0]
    assert data["title"] == "Proxy health gate" and data["milestones"][0]["state"] == "claimed"


def test_probe_run_is_one_commit_that_counts(books: Repo) -> None:
    before = head(books)
    result = books.lk("probe", "run", "--phase", PHASE, "--milestone", "M1", "--json", role="builder")
    assert ok(result)
    assert books.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert books.git("show", "-s", "--format=%s").strip() == "evidence(px): 2 probes, 2 PASS"
    assert len({r["commit"] for r in result.json["records"]}) == 1
    journal = (books.ws / "JOURNAL-px.md").read_text("utf-8")
    assert journal.count("M1 P1 PASS") == 1 and journal.count("M1 P2 PASS") == 1
    assert ok(books.lk("claim", "--phase", PHASE, "--milestone", "M1", role="builder"))
    one = books.lk("probe", "run", "--phase", PHASE, "--probe", "P3", role="builder")
    assert ok(one)
    assert books.git("show", "-s", "--format=%s").strip() == "evidence(px): M2 P3 PASS"
    check = books.lk("check", "--json")
    assert check.json["ok"], check.out


def test_demo_uses_the_claim_words(tmp_path: Path) -> None:
    result = run_loopkit("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert ok(result)
    assert "builder: claimed M1 (code at " in result.out and "; claim commit " in result.out


def test_json_documents_stay_json(books: Repo) -> None:
    result = books.lk("inbox", "list", "--json")
    assert json.loads(result.out)["schema_version"] == 1
