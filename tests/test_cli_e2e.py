"""End-to-end: the installed `loopkit` in subprocesses, on real git repositories, held to SPEC.

Only what SPEC promises is asserted: file names, commit subjects and authors, JSON shapes, exit
codes, "one clear line" errors, byte-for-byte preservation of what people wrote, and that loopkit
commits only the files it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from conftest import LOOPKIT, NOW, Repo, Result, git, run_loopkit

# -- helpers --------------------------------------------------------------------------------------

Snapshot = tuple[str, str, str, dict[str, bytes]]


def snapshot(root: Path) -> Snapshot:
    """Everything a command could change: HEAD, the index, the work tree's status, every file's bytes."""
    head = git(root, "rev-parse", "HEAD").strip() if (root / ".git").exists() else ""
    status = git(root, "status", "--porcelain", "--untracked-files=all") if head else ""
    staged = git(root, "diff", "--cached", "--name-status") if head else ""
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return head, status, staged, files


def error_lines(result: Result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("loopkit: error:")]


def assert_one_error(result: Result, code: int) -> None:
    """SPEC sections 3 and 5: the exit code, and one clear line instead of a traceback."""
    assert result.code == code, f"exit {result.code}, expected {code}; stderr: {result.err!r}"
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(error_lines(result)) == 1, f"want exactly one 'loopkit: error:' line, got {result.err!r}"
    assert lines == error_lines(result), f"want only the one error line on stderr, got {result.err!r}"


def head_files(repo: Repo) -> set[str]:
    """The paths the HEAD commit touched (added, changed or deleted)."""
    out = repo.git("show", "--name-only", "--no-renames", "--format=", "HEAD")
    return {line for line in out.splitlines() if line}


def subject(repo: Repo, rev: str = "HEAD") -> str:
    return repo.git("log", "-1", "--format=%s", rev).strip()


def json_doc(result: Result) -> dict[str, Any]:
    """One JSON object on stdout whose first key is schema_version 1 (SPEC section 4)."""
    doc = json.loads(result.out)
    assert isinstance(doc, dict)
    assert next(iter(doc)) == "schema_version", list(doc)
    assert doc["schema_version"] == 1
    return doc


def open_phase(repo: Repo, phase: str, title: str | None = None) -> Result:
    args = ["phase", "new", phase, *(["--title", title] if title else [])]
    result = repo.lk(*args, role="orchestrator")
    assert result.code == 0, result.err
    return result


def plan_phase(repo: Repo, phase: str) -> None:
    """A phase spec without milestones: enough for journal commands, cheaper than `phase new`."""
    (repo.ws / "phases" / f"{phase}.toml").write_text(
        f'phase = "{phase}"\ntitle = "Phase {phase}"\n', "utf-8"
    )


def show(repo: Repo, phase: str, of: str | None = None) -> dict[str, Any]:
    result = repo.lk("journal", "show", "--phase", phase, "--json", *(["--of", of] if of else []))
    assert result.code == 0, result.err
    return json_doc(result)


def parallel(calls: Sequence[Callable[[], Result]]) -> list[Result]:
    """Independent read-only invocations, run side by side to keep the suite fast."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda call: call(), calls))


SPEC_DEFAULTS: dict[str, Any] = {
    "files": {
        "status": "STATUS-{phase}.md",
        "journal": {"builder": "JOURNAL-{phase}.md", "adversary": "REVIEW-{phase}.md"},
        "inbox": "{ROLE}-INBOX.md",
        "archive": "inbox-archive",
    },
    "roles": {
        "builder": {"name": "builder", "email": "builder@loopkit.invalid"},
        "adversary": {"name": "adversary", "email": "adversary@loopkit.invalid"},
        "orchestrator": {"name": "orchestrator", "email": "orchestrator@loopkit.invalid"},
    },
    "rules": {"open_phase": ["orchestrator"], "signed": [], "replay": False},
    "probe": {"timeout": 30},
    "redact": {"patterns": []},
}

PHASE_SPEC = """\
phase = "{phase}"
title = "{title}"

[[milestones]]
id = "M1"
title = "Health probe answers"

  [[milestones.probes]]
  id = "P1"
  title = "answers 200"
  run = "echo 200"
  observe = "stdout"
  expect = ["200"]
"""


def new_git_dir(base: Path) -> Path:
    root = base / "plain"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# project\n", encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


# -- init -----------------------------------------------------------------------------------------


def test_init_writes_every_default_and_commits_nothing(tmp_path: Path) -> None:
    root = new_git_dir(tmp_path)
    head = git(root, "rev-parse", "HEAD").strip()
    result = run_loopkit("init", cwd=root)
    assert result.code == 0, result.err
    config = root / "loopkit.toml"
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    for table, expected in SPEC_DEFAULTS.items():
        assert data.get(table) == expected, f"[{table}] in loopkit.toml: {data.get(table)!r}"
    assert (root / "phases").is_dir()
    # init writes files and does not commit them
    assert git(root, "rev-parse", "HEAD").strip() == head
    assert git(root, "rev-list", "--all", "--count").strip() == "1"
    porcelain = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert "?? loopkit.toml" in porcelain
    assert all(line.startswith("?? ") for line in porcelain), porcelain

    # a second init refuses and leaves the (edited) file byte for byte
    with config.open("ab") as handle:
        handle.write(b"# my own edit\r\n")
    before = snapshot(root)
    again = run_loopkit("init", cwd=root)
    assert_one_error(again, 4)
    assert snapshot(root) == before

    # init DIR
    sub = run_loopkit("init", "docs", cwd=root)
    assert sub.code == 0, sub.err
    assert (
        tomllib.loads((root / "docs" / "loopkit.toml").read_text("utf-8"))["files"] == SPEC_DEFAULTS["files"]
    )
    assert (root / "docs" / "phases").is_dir()
    assert git(root, "rev-parse", "HEAD").strip() == head


# -- phase new / list -----------------------------------------------------------------------------


def test_phase_new_from_spec(repo: Repo) -> None:
    title = "Proxy gate — ünïcode ✓"
    repo.write("phases/px.toml", PHASE_SPEC.format(phase="px", title=title))
    config = repo.ws / "loopkit.toml"
    text = config.read_text("utf-8")
    text = text.replace('name = "orchestrator"', 'name = "Olga Orchestrator"')
    text = text.replace("orchestrator@loopkit.invalid", "olga@example.org")
    config.write_text(text, "utf-8")
    before = repo.git("rev-parse", "HEAD").strip()

    refused = repo.lk("phase", "new", "px", role="builder")
    assert_one_error(refused, 3)
    assert not (repo.ws / "STATUS-px.md").exists()

    # SPEC 2: the role's identity is author and committer even when GIT_* variables are set
    env = {
        "GIT_AUTHOR_NAME": "Mallory",
        "GIT_AUTHOR_EMAIL": "mallory@example.invalid",
        "GIT_COMMITTER_NAME": "Mallory",
        "GIT_COMMITTER_EMAIL": "mallory@example.invalid",
    }
    result = repo.lk("phase", "new", "px", role="orchestrator", env=env)
    assert result.code == 0, result.err
    assert (repo.ws / "STATUS-px.md").is_file()
    assert (repo.ws / "JOURNAL-px.md").is_file()
    assert repo.git("rev-parse", "HEAD~1").strip() == before
    assert subject(repo) == f"status(px): open phase — {title}"
    # SPEC 3: the spec a gate uses is the one the orchestrator opened: committed with the phase
    assert head_files(repo) == {"STATUS-px.md", "JOURNAL-px.md", "phases/px.toml"}
    blob = repo.git("rev-parse", "HEAD:phases/px.toml").strip()
    assert f"Loopkit-Spec: {blob}" in repo.git("log", "-1", "--format=%B")
    who = repo.git("log", "-1", "--format=%an|%ae|%cn|%ce").strip()
    assert who == "Olga Orchestrator|olga@example.org|Olga Orchestrator|olga@example.org"
    # loopkit.toml was read, not committed
    untracked = repo.git("status", "--porcelain", "--untracked-files=all")
    assert "?? phases/px.toml" not in untracked and "?? loopkit.toml" in untracked

    listed = json_doc(repo.lk("phase", "list", "--json"))
    found = [p for p in listed["phases"] if p["phase"] == "px"]
    assert len(found) == 1 and found[0]["title"] == title

    again = repo.lk("phase", "new", "px", role="orchestrator")
    assert again.code != 0 and len(error_lines(again)) == 1


# -- journal add / show ---------------------------------------------------------------------------

FENCED_BODY = """\
Checked the gate:

```sh
## not a heading
## 2026-06-13 — fake
curl x → 200 ✓
```

and the proxy is fine."""

UNICODE_BODY = (
    "Unicode: 🎉 emoji, שלום עולם (RTL), e\u0301 a\u0308 combining, \u202eRLO\u202c, ﷽\n"
    "\n"
    "- `curl -sk https://h.example/api/version` → HTTP/2 200 ✓\n"
)

FILE_BODY = """\
```
$ curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9/
→ 000 ✗ FAILS as expected
```
"""


def test_journal_add_tricky_bodies_read_back(repo: Repo, tmp_path: Path) -> None:
    plan_phase(repo, "p")
    journal = repo.ws / "JOURNAL-p.md"

    first = repo.lk(
        "journal", "add", "--phase", "p", "--title", "fenced", "--body", FENCED_BODY, role="builder"
    )
    assert first.code == 0, first.err
    assert subject(repo) == "journal(p): fenced"
    assert head_files(repo) == {"JOURNAL-p.md"}
    assert repo.git("log", "-1", "--format=%an|%ae").strip() == "builder|builder@loopkit.invalid"

    # appended right after a body with fenced `## ` lines: both read back
    second = repo.lk(
        "journal", "add", "--phase", "p", "--title", "from stdin", input=UNICODE_BODY, role="builder"
    )
    assert second.code == 0, second.err
    assert subject(repo) == "journal(p): from stdin"
    assert UNICODE_BODY.strip("\n") in journal.read_text("utf-8")

    body_file = tmp_path / "body.md"
    body_file.write_text(FILE_BODY, encoding="utf-8")
    third = repo.lk(
        "journal",
        "add",
        "--phase",
        "p",
        "--title",
        "from file",
        "--body-file",
        str(body_file),
        role="builder",
    )
    assert third.code == 0, third.err
    assert subject(repo) == "journal(p): from file"

    doc = show(repo, "p")
    assert (doc["phase"], doc["role"]) == ("p", "builder")
    assert doc["warnings"] == []
    entries = doc["entries"]
    assert [e["title"] for e in entries] == ["fenced", "from stdin", "from file"]
    assert all(e["at"] == NOW and e["date_only"] is False for e in entries)
    lines = journal.read_text("utf-8").split("\n")
    for e in entries:
        assert lines[e["line"] - 1].startswith("## ") and lines[e["line"] - 1].endswith(e["title"])

    [fenced] = entries[0]["evidence"]
    assert fenced["source"] == "free-form"
    assert (fenced["command"], fenced["observed"], fenced["code"], fenced["mark"]) == (
        "curl x",
        "200 ✓",
        "200",
        "pass",
    )
    assert lines[fenced["line"] - 1] == "curl x → 200 ✓"
    [prose] = entries[1]["evidence"]
    assert (prose["command"], prose["observed"], prose["code"], prose["mark"]) == (
        "curl -sk https://h.example/api/version",
        "HTTP/2 200 ✓",
        "200",
        "pass",
    )
    [negative] = entries[2]["evidence"]
    assert negative["command"] == "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9/"
    assert negative["observed"] == "000 ✗ FAILS as expected"
    assert negative["mark"] == "fail"


TRICKY_TITLES = [
    "ends with #",
    "C# ##",
    "C:\\dir\\`x` \\* y",
    "`code` and ``double`` ticks",
    "emoji 🎉 שלום e\u0301",
    "## not a sub-heading",
]


def test_journal_titles_read_back_exactly(repo: Repo) -> None:
    """Each title comes back from `journal show` exactly, and is the commit subject's tail."""
    plan_phase(repo, "p")
    problems = []
    for title in TRICKY_TITLES:
        result = repo.lk("journal", "add", "--phase", "p", "--title", title, "--body", "x", role="builder")
        assert result.code == 0, (title, result.err)
        if subject(repo) != f"journal(p): {title}":
            problems.append(f"commit subject {subject(repo)!r} for title {title!r}")
    titles = [e["title"] for e in show(repo, "p")["entries"]]
    if titles != TRICKY_TITLES:
        problems.append(f"journal show titles {titles!r}")
    assert not problems, "\n".join(problems)


def filler(n: int) -> str:
    return "".join(f"output line {i} {'x' * 60}\n\n" for i in range(n))


def test_large_journal_appends_read_back(repo: Repo, tmp_path: Path) -> None:
    """Over 64 KB: a body quoting an entry heading in a fence and then 70 KB more; people appending
    and editing by hand between loopkit's appends. Every entry reads back (or loopkit refuses)."""
    plan_phase(repo, "p")
    path = repo.ws / "JOURNAL-p.md"
    body_file = tmp_path / "big.md"
    body_file.write_text("Quoting an old journal:\n\n```md\n## 2026-06-13 — fake\n```\n\n" + filler(1100))
    big = repo.lk(
        "journal", "add", "--phase", "p", "--title", "big", "--body-file", str(body_file), role="builder"
    )
    assert big.code == 0, big.err
    after = repo.lk("journal", "add", "--phase", "p", "--title", "after big", "--body", "s", role="builder")
    assert after.code == 0, after.err  # the quoted heading sits in a closed fence: nothing to refuse
    expected = ["big", "after big"]
    doc = show(repo, "p")
    assert [e["title"] for e in doc["entries"]] == expected
    assert doc["warnings"] == []

    # a person appends an entry quoting entry headings in a fence, then 70 KB more, then an open fence
    with path.open("a", encoding="utf-8") as handle:
        handle.write(
            "\n## 2026-06-13T14:00Z — by hand\n\n```md\n## 2026-06-13 — quoted\n```\n\n" + filler(1100)
        )
        handle.write("```sh\n## 2026-06-13 — inside an open fence\n")
    second = repo.lk("journal", "add", "--phase", "p", "--title", "two", "--body", "b", role="builder")
    assert second.code == 0, second.err  # loopkit closes the open fence first (docs/formats.md)
    expected += ["by hand", "two"]
    assert [e["title"] for e in show(repo, "p")["entries"]] == expected

    # a person edits above everything loopkit remembered (and makes the file shorter)
    text = path.read_text("utf-8")
    path.write_text(text.replace("output line 5 ", "edited ", 1)[:-40_000] + "\n", encoding="utf-8")
    third = repo.lk("journal", "add", "--phase", "p", "--title", "three", "--body", "c", role="builder")
    assert third.code == 0, third.err  # an edit above the anchor means one full parse, not a refusal
    titles = [e["title"] for e in show(repo, "p")["entries"]]
    assert titles[: len(expected) - 1] == expected[:-1]
    assert titles[-1] == "three"


def test_journal_with_lone_carriage_returns(repo: Repo) -> None:
    """Progress output pasted into a journal holds lone CRs; git and editors count lines at LF.
    loopkit must not crash on such a journal, and must report the entries' real line numbers."""
    plan_phase(repo, "p")
    path = repo.ws / "JOURNAL-p.md"
    text = (
        "# JOURNAL — phase p (Builder)\n"
        + "\n## 2026-06-12 — build log\n\n"
        + "progress 10%\r" * 8000
        + "done\n\n## 2026-06-12T10:00Z — last\n\ntext\n"
    )
    path.write_bytes(text.encode("utf-8"))
    repo.git("add", "JOURNAL-p.md")
    repo.git("commit", "-q", "-m", "hand-written journal")
    heading_lines = [i + 1 for i, line in enumerate(text.split("\n")) if line.startswith("## ")]
    before = snapshot(repo.root)
    result = repo.lk("journal", "add", "--phase", "p", "--title", "after", "--body", "b", role="builder")
    problems = []
    if result.code == 4:
        assert snapshot(repo.root) == before
    elif result.code == 0:
        assert path.read_bytes().startswith(text.encode("utf-8"))
        heading_lines.append(len(path.read_bytes().decode("utf-8").split("\n")) - 3)
    else:
        problems.append(f"journal add: exit {result.code}: {result.err.strip()}")
    entries = show(repo, "p")["entries"]
    titles = ["build log", "last"] + (["after"] if result.code == 0 else [])
    got = [(e["title"], e["line"]) for e in entries]
    if got != list(zip(titles, heading_lines, strict=True)):
        problems.append(f"journal show: (title, line) {got}, the file has headings at lines {heading_lines}")
    assert not problems, "\n".join(problems)


HAND_JOURNAL = [
    "# JOURNAL — phase {phase} (Builder)",
    "",
    "## 2026-06-12 — Hand written",
    "",
    "Some notes, **Label:** value.",
    "",
    "```",
    "curl -s http://x/health → 200 ✓",
    "```",
    "",
    "- trailing bullet with spaces   ",
]


def test_journal_add_keeps_every_existing_byte(repo: Repo) -> None:
    """CRLF, no final newline, both: the old bytes are a prefix, the style and final state are kept."""
    cases = {"crlf": ("\r\n", True), "lf-no-final": ("\n", False), "crlf-no-final": ("\r\n", False)}
    olds = {}
    for phase, (newline, final) in cases.items():
        plan_phase(repo, phase)
        old = newline.join(HAND_JOURNAL).format(phase=phase) + (newline if final else "")
        (repo.ws / f"JOURNAL-{phase}.md").write_bytes(old.encode("utf-8"))
        olds[phase] = old.encode("utf-8")
    repo.git("add", *(f"JOURNAL-{phase}.md" for phase in cases))
    repo.git("commit", "-q", "-m", "hand-written journals")

    for phase, (newline, final) in cases.items():
        result = repo.lk(
            "journal",
            "add",
            "--phase",
            phase,
            "--title",
            "new entry",
            "--body",
            "line 1\nline 2",
            role="builder",
        )
        assert result.code == 0, (phase, result.err)
        assert head_files(repo) == {f"JOURNAL-{phase}.md"}
        new = (repo.ws / f"JOURNAL-{phase}.md").read_bytes()
        assert new.startswith(olds[phase]), f"{phase}: pre-existing bytes changed"
        added = new[len(olds[phase]) :].decode("utf-8")
        assert "new entry" in added and "line 2" in added
        if newline == "\r\n":
            assert added.count("\n") == added.count("\r\n"), f"{phase}: bare LF in {added!r}"
        else:
            assert "\r" not in added
        assert new.endswith(b"\n") == final, f"{phase}: final-newline state changed: {new[-20:]!r}"
    shown = parallel([partial(repo.lk, "journal", "show", "--phase", p, "--json") for p in cases])
    for result in shown:
        entries = json_doc(result)["entries"]
        assert [(e["title"], e["date_only"]) for e in entries] == [
            ("Hand written", True),
            ("new entry", False),
        ]
        assert entries[0]["evidence"][0]["command"] == "curl -s http://x/health"


# -- status --json --------------------------------------------------------------------------------


STATUS_PHASE_KEYS = {"phase", "title", "state", "done", "milestones", "inbox", "last_activity", "problems"}
STATUS_MILESTONE_KEYS = {"id", "title", "state", "claim", "verdict", "evidence"}
PHASE_STATES = {"planned", "in-progress", "awaiting-review", "changes-requested", "ready", "done"}


def check_status_shape(doc: dict[str, Any]) -> None:
    assert {"workspace", "phases"} <= set(doc)
    for phase in doc["phases"]:
        assert set(phase) >= STATUS_PHASE_KEYS, set(phase)
        assert phase["state"] in PHASE_STATES
        assert isinstance(phase["done"], bool)
        assert set(phase["inbox"]) == {"builder", "adversary", "orchestrator"}
        assert all(isinstance(n, int) for n in phase["inbox"].values())
        for problem in phase["problems"]:
            assert {"code", "message"} <= set(problem)
        for m in phase["milestones"]:
            assert set(m) >= STATUS_MILESTONE_KEYS, set(m)
            assert m["state"] in {"open", "claimed", "passed", "failed"}
            assert {"required", "passing", "missing", "stale"} <= set(m["evidence"])
            if m["claim"] is not None:
                assert {"at", "by", "commit"} <= set(m["claim"])
            if m["verdict"] is not None:
                assert {"at", "by", "result", "claim_commit", "note"} <= set(m["verdict"])


def test_status_json_shape(repo: Repo) -> None:
    repo.write("phases/px.toml", PHASE_SPEC.format(phase="px", title="Proxy gate"))
    open_phase(repo, "px")
    repo.write("phases/later.toml", PHASE_SPEC.format(phase="later", title="Later"))
    doc = json_doc(repo.lk("status", "--json"))
    check_status_shape(doc)
    by_name = {p["phase"]: p for p in doc["phases"]}
    assert set(by_name) == {"px", "later"}
    assert by_name["later"]["state"] == "planned"
    px = by_name["px"]
    assert px["title"] == "Proxy gate" and px["done"] is False
    [m1] = px["milestones"]
    assert (m1["id"], m1["state"], m1["claim"], m1["verdict"]) == ("M1", "open", None, None)
    assert m1["evidence"]["required"] == ["P1"] and m1["evidence"]["missing"] == ["P1"]


# -- bad input ------------------------------------------------------------------------------------

BAD_PHASES = ["../x", "a/b", "A", "x..y", "a" * 65, "-x"]


def test_bad_phase_names_are_refused(repo: Repo) -> None:
    calls = [(name, ("phase", "new", "--", name), "orchestrator") for name in BAD_PHASES] + [
        (name, ("journal", "add", "--phase", name, "--title", "t", "--body", "b"), "builder")
        for name in ("../x", "a/b", "x..y")
    ]
    before = snapshot(repo.root)
    results = parallel([partial(repo.lk, *args, role=role) for _, args, role in calls])
    for (name, args, _), result in zip(calls, results, strict=True):
        assert result.code == 4, (name, args, result.code, result.err)
        assert_one_error(result, 4)
    assert snapshot(repo.root) == before
    assert not any(p.name.startswith("STATUS-") for p in repo.root.rglob("*"))
    assert not (repo.root.parent / "x").exists() and not (repo.root.parent / "STATUS-x.md").exists()
    longest = "a" + "b" * 62 + "9"  # 64 characters: the longest name SPEC allows
    open_phase(repo, longest, "long name")
    assert subject(repo) == f"status({longest}): open phase — long name"


def test_bad_milestone_is_refused(repo: Repo) -> None:
    repo.write("phases/px.toml", PHASE_SPEC.format(phase="px", title="Proxy gate"))
    open_phase(repo, "px")
    for args, role in (
        (("claim", "--phase", "px", "--milestone", "../m"), "builder"),
        (("verdict", "FAIL", "--phase", "px", "--milestone", "../m"), "adversary"),
        (("probe", "exec", "--phase", "px", "--milestone", "../m", "--id", "P1", "--", "true"), "builder"),
    ):
        before = snapshot(repo.root)
        result = repo.lk(*args, role=role)
        assert_one_error(result, 4)
        assert snapshot(repo.root) == before, args


def test_no_workspace(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, role in (
        (("status",), None),
        (("journal", "add", "--phase", "p", "--title", "t", "--body", "b"), "builder"),
    ):
        result = run_loopkit(*args, cwd=empty, role=role)
        assert_one_error(result, 4)
    assert list(empty.iterdir()) == []


def test_journal_parse_malformed_files(tmp_path: Path) -> None:
    files = {
        "binary.md": b"ab\x00cd\xff\xfe\n## 2026-06-13 \xe2\x80\x94 after binary\n\x00\x01\x02",
        "empty.md": b"",
        "huge.md": b"x" * 3_000_000,
        "unclosed.md": "## 2026-06-13 — a\n\n```\ncurl x → 200 ✓\n".encode(),
        "noheadings.md": b"just some text\n\n- a bullet\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder").mkdir()
    names = [*files, "missing.md", "folder"]
    results = dict(
        zip(
            names,
            parallel([partial(run_loopkit, "journal", "parse", n, "--json", cwd=tmp_path) for n in names]),
            strict=True,
        )
    )
    silent = []
    for name in files:
        result = results[name]
        assert result.code == 0, (name, result.err)
        doc = json_doc(result)
        assert isinstance(doc["entries"], list), name
        assert all({"line", "message"} <= set(w) for w in doc["warnings"])
        # an empty file is an empty journal; everything else here is malformed (SPEC 1)
        if name != "empty.md" and not doc["warnings"]:
            silent.append(name)
    assert json_doc(results["empty.md"])["entries"] == []
    assert [e["title"] for e in json_doc(results["binary.md"])["entries"]] == ["after binary"]
    [entry] = json_doc(results["unclosed.md"])["entries"]
    assert entry["evidence"][0]["command"] == "curl x"
    for name in ("missing.md", "folder"):
        assert_one_error(results[name], 4)
    assert not silent, f"malformed input must give warnings (SPEC 1), none for: {silent}"


def test_entry_like_heading_outside_a_fence_is_refused(repo: Repo) -> None:
    plan_phase(repo, "p")
    for body in ("before\n\n## 2026-06-13 — x\n\nafter", "### 2026-06-13T13:00Z: sneaky"):
        before = snapshot(repo.root)
        result = repo.lk("journal", "add", "--phase", "p", "--title", "t", "--body", body, role="builder")
        assert_one_error(result, 4)
        assert snapshot(repo.root) == before


def test_usage_errors(repo: Repo) -> None:
    plan_phase(repo, "p")
    before = snapshot(repo.root)
    unknown = repo.lk("journal", "add", "--phase", "p", "--title", "t", "--bogus", role="builder")
    assert_one_error(unknown, 2)
    assert snapshot(repo.root) == before

    repo.write("phases/p.toml", PHASE_SPEC.format(phase="p", title="P"))
    before = snapshot(repo.root)
    writers = [
        ("phase", "new", "q"),
        ("journal", "add", "--phase", "p", "--title", "t", "--body", "b"),
        ("inbox", "send", "--to", "adversary", "--subject", "s", "--body", "b"),
        ("claim", "--phase", "p", "--milestone", "M1"),
    ]
    for args in writers:
        result = repo.lk(*args)
        assert_one_error(result, 2)
        assert "role" in result.err
        assert snapshot(repo.root) == before, args
    # an unknown role is a usage error for every command, reading ones included
    for args in (("status",), ("journal", "add", "--phase", "p", "--title", "t")):
        result = repo.lk(*args, role="nobody")
        assert_one_error(result, 2)
    assert snapshot(repo.root) == before


def test_workspace_option_and_environment(docs_repo: Repo, tmp_path: Path) -> None:
    repo = docs_repo
    plan_phase(repo, "p")
    bare = repo.root / "src"  # inside the repository, no loopkit.toml at or above
    bad = repo.lk("status", "--workspace", str(bare), cwd=repo.root)
    assert_one_error(bad, 4)
    bad_env = repo.lk("status", cwd=repo.root, env={"LOOPKIT_WORKSPACE": str(bare)})
    assert_one_error(bad_env, 4)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"LOOPKIT_WORKSPACE": str(repo.ws)}
    listed = repo.lk("phase", "list", "--json", cwd=outside, env=env)
    assert listed.code == 0, listed.err
    assert [p["phase"] for p in json_doc(listed)["phases"]] == ["p"]
    added = repo.lk(
        "journal",
        "add",
        "--phase",
        "p",
        "--title",
        "via env",
        "--body",
        "b",
        cwd=outside,
        env=env,
        role="builder",
    )
    assert added.code == 0, added.err
    assert head_files(repo) == {"docs/JOURNAL-p.md"}
    assert list(outside.iterdir()) == []
    via_option = repo.lk(
        "journal", "show", "--phase", "p", "--json", "--workspace", str(repo.ws), cwd=repo.root
    )
    assert via_option.code == 0, via_option.err
    assert [e["title"] for e in json_doc(via_option)["entries"]] == ["via env"]


INVALID_CONFIGS = {
    "syntax": b"[files\nstatus = 1\n",
    "bad-timeout": b'[probe]\ntimeout = "soon"\n',
    "not-utf8": b"\xff\xfe[x]\n",
}


def test_invalid_config(repo: Repo) -> None:
    config = repo.ws / "loopkit.toml"
    for name, data in INVALID_CONFIGS.items():
        config.write_bytes(data)
        before = snapshot(repo.root)
        calls: list[tuple[tuple[str, ...], str | None]] = [(("status",), None)]
        if name == "syntax":
            calls.append((("phase", "new", "p", "--title", "t"), "orchestrator"))
        for args, role in calls:
            result = repo.lk(*args, role=role)
            assert_one_error(result, 4)
            assert "loopkit.toml" in error_lines(result)[0], (name, result.err)
        assert snapshot(repo.root) == before, name


# -- commit only what was written -----------------------------------------------------------------


def test_dirty_and_untracked_files_are_never_committed(repo: Repo) -> None:
    """Tracked changes outside the workspace (staged and unstaged) and untracked files stay put."""
    open_phase(repo, "p")
    repo.write("README.md", "# project\n\nedited, not committed\n")
    repo.write("src/app.py", "print('staged')\n")
    repo.git("add", "src/app.py")
    repo.write("scratch.txt", "untracked\n")
    repo.write("notes/todo.md", "untracked too\n")
    dirt = {
        " M README.md",
        "M  src/app.py",
        "?? scratch.txt",
        "?? notes/todo.md",
        "?? loopkit.toml",
        "?? phases/README.md",
        "?? .gitattributes",  # init names loopkit's files for the merge driver (SPEC section 7)
    }

    def check(expected_files: set[str], subject_prefix: str) -> None:
        assert subject(repo).startswith(subject_prefix), subject(repo)
        assert head_files(repo) == expected_files
        status = set(repo.git("status", "--porcelain", "--untracked-files=all").splitlines())
        assert dirt <= status, dirt - status
        assert status <= dirt, status - dirt  # loopkit left nothing uncommitted behind
        assert repo.git("diff", "--cached", "--name-only").split() == ["src/app.py"]
        assert (repo.root / "README.md").read_text("utf-8").endswith("edited, not committed\n")

    result = repo.lk("journal", "add", "--phase", "p", "--title", "t", "--body", "b", role="builder")
    assert result.code == 0, result.err
    check({"JOURNAL-p.md"}, "journal(p): t")

    result = repo.lk(
        "inbox",
        "send",
        "--to",
        "builder",
        "--phase",
        "p",
        "--subject",
        "hi",
        "--body",
        "b",
        role="orchestrator",
    )
    assert result.code == 0, result.err
    check({"BUILDER-INBOX.md"}, "inbox(p): orchestrator → builder: hi")

    result = repo.lk("inbox", "consume", "--to", "builder", "--all", role="builder")
    assert result.code == 0, result.err
    changed = head_files(repo)
    assert "BUILDER-INBOX.md" in changed and "JOURNAL-p.md" in changed
    assert all(f in {"BUILDER-INBOX.md", "JOURNAL-p.md"} or f.startswith("inbox-archive/") for f in changed)
    check(changed, "inbox(p): builder consumed 1")

    result = repo.lk("phase", "new", "q", "--title", "Q", role="orchestrator")
    assert result.code == 0, result.err
    check({"STATUS-q.md", "JOURNAL-q.md"}, "status(q): open phase — Q")


def test_full_loop_commits_only_its_files(docs_repo: Repo) -> None:
    """The whole protocol with a person's work in progress around it; then status --json."""
    repo = docs_repo
    repo.commit_code("docs/notes.md", "notes\n")
    repo.commit_code("docs/plan.md", "plan\n")
    repo.write("docs/phases/px.toml", PHASE_SPEC.format(phase="px", title="Proxy gate"))
    open_phase(repo, "px")
    # work in progress inside the workspace (does not make evidence stale) and untracked files
    repo.write("docs/notes.md", "notes\nedited\n")
    repo.write("docs/plan.md", "plan\nstaged\n")
    repo.git("add", "docs/plan.md")
    repo.write("scratch.txt", "untracked\n")
    repo.write("docs/draft.md", "untracked\n")
    dirt = {" M docs/notes.md", "M  docs/plan.md", "?? scratch.txt", "?? docs/draft.md"}

    def step(args: Sequence[str], role: str, subject_prefix: str) -> set[str]:
        result = repo.lk(*args, role=role)
        assert result.code == 0, (args, result.err)
        assert subject(repo).startswith(subject_prefix), subject(repo)
        changed = head_files(repo)
        assert changed, args
        assert all(f.startswith("docs/") for f in changed), changed
        assert not changed & {"docs/notes.md", "docs/plan.md", "docs/draft.md", "docs/loopkit.toml"}, changed
        assert not any(f.startswith("docs/phases/") for f in changed), changed
        status = set(repo.git("status", "--porcelain", "--untracked-files=all").splitlines())
        assert dirt <= status, dirt - status
        assert repo.git("diff", "--cached", "--name-only").split() == ["docs/plan.md"]
        return changed

    assert step(("probe", "run", "--phase", "px"), "builder", "evidence(px): M1 P1 PASS") == {
        "docs/JOURNAL-px.md"
    }
    step(("claim", "--phase", "px", "--milestone", "M1"), "builder", "status(px): claim M1")
    step(
        ("verdict", "PASS", "--phase", "px", "--milestone", "M1"), "adversary", "review(px): M1 PASS @13:44Z"
    )
    step(("inbox", "consume", "--to", "adversary", "--all"), "adversary", "inbox(px): adversary consumed 1")
    step(("inbox", "consume", "--to", "builder", "--all"), "builder", "inbox(px): builder consumed 1")
    assert step(
        ("done", "--phase", "px", "--summary", "all good"),
        "builder",
        "status(px): ## DONE — M1 PASS, all good",
    ) == {"docs/STATUS-px.md"}
    assert repo.git("log", "-1", "--format=%an|%cn").strip() == "builder|builder"

    doc = json_doc(repo.lk("status", "--json"))
    check_status_shape(doc)
    assert doc["workspace"] == "docs"
    [px] = doc["phases"]
    assert (px["state"], px["done"]) == ("done", True)
    [m1] = px["milestones"]
    assert m1["state"] == "passed"
    assert m1["claim"]["by"] == "builder" and m1["verdict"]["by"] == "adversary"
    assert m1["verdict"]["result"] == "PASS"
    assert m1["verdict"]["claim_commit"] == m1["claim"]["commit"]


# -- help -----------------------------------------------------------------------------------------

COMMANDS = [
    (),
    ("init",),
    ("phase",),
    ("phase", "new"),
    ("phase", "list"),
    ("journal",),
    ("journal", "add"),
    ("journal", "show"),
    ("journal", "parse"),
    ("probe",),
    ("probe", "exec"),
    ("probe", "run"),
    ("evidence",),
    ("claim",),
    ("verdict",),
    ("gate",),
    ("done",),
    ("inbox",),
    ("inbox", "send"),
    ("inbox", "list"),
    ("inbox", "consume"),
    ("status",),
    ("check",),
    ("demo",),
]


def test_help_everywhere(tmp_path: Path) -> None:
    results = parallel([partial(run_loopkit, *c, "--help", cwd=tmp_path) for c in COMMANDS])
    for command, result in zip(COMMANDS, results, strict=True):
        assert result.code == 0, (command, result.err)
        assert "Usage" in result.out, command
        assert "--help" in result.out, command
    top = results[0].out
    for name in (
        "init",
        "phase",
        "journal",
        "probe",
        "evidence",
        "claim",
        "verdict",
        "gate",
        "done",
        "inbox",
        "status",
        "check",
        "demo",
    ):
        assert name in top, name
    assert not list(tmp_path.iterdir())


def test_python_dash_m(tmp_path: Path) -> None:
    assert LOOPKIT is not None
    python = Path(LOOPKIT).parent / "python"
    exe = str(python) if python.exists() else sys.executable
    proc = subprocess.run(
        [exe, "-m", "loopkit", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout and "journal" in proc.stdout
