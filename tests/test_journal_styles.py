"""The journal styles agents really write (issue 13): each read as its golden file says, and the prose
arrows that are not evidence read as none.

The fixtures under tests/fixtures/journals/ are invented, one per style; their expected reading is
tests/golden/journals/<name>.json. `UPDATE_GOLDEN=1` rewrites the golden files (read the diff).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit.markdown.freeform import is_command
from loopkit.markdown.journal import parse_journal
from loopkit.model import FreeEvidence, Journal
from loopkit.workspace import read_mapped

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "journals"
GOLDEN = HERE / "golden" / "journals"
STYLES = sorted(p.stem for p in FIXTURES.glob("*.md"))


def _document(journal: Journal) -> dict[str, Any]:
    return {
        "phase": journal.phase,
        "role": journal.role,
        "warnings": [w.to_json() for w in journal.warnings],
        "entries": [e.to_json() for e in journal.entries],
    }


@pytest.mark.parametrize("style", STYLES)
def test_style_reads_as_its_golden_file(style: str) -> None:
    text = (FIXTURES / f"{style}.md").read_text(encoding="utf-8")
    got = _document(parse_journal(text, file_name=f"{style}.md"))
    golden = GOLDEN / f"{style}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))
    json.dumps(got, allow_nan=False)


def test_every_style_has_a_golden_file_and_every_golden_file_a_style() -> None:
    assert STYLES
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == STYLES


def test_each_evidence_kind_is_recognised_somewhere() -> None:
    kinds = set()
    for style in STYLES:
        journal = parse_journal((FIXTURES / f"{style}.md").read_text(encoding="utf-8"))
        kinds |= {e.kind for entry in journal.entries for e in entry.evidence if isinstance(e, FreeEvidence)}
    assert kinds >= {"shell", "http"}


# -- the corpus reads exactly as before -----------------------------------------------------------
def _corpus() -> Path:
    for folder in (CORPUS, Path("/work/shared/corpus")):
        if (folder / "JOURNAL-pxgate.md").is_file():
            return folder / "JOURNAL-pxgate.md"
    pytest.skip("the shared corpus is absent")


def test_corpus_journal_reads_exactly_as_before() -> None:
    journal = parse_journal(_corpus().read_text(encoding="utf-8"), file_name="JOURNAL-pxgate.md")
    assert journal.warnings == () and journal.mismatches == ()
    assert [(e.at, e.date_only, e.approx, e.line) for e in journal.entries] == [
        ("2026-06-13T00:00:00Z", True, False, 2),
        ("2026-06-13T13:24:00Z", False, False, 56),
        ("2026-06-13T13:35:00Z", False, False, 64),
        ("2026-06-13T13:44:00Z", False, False, 79),
    ]
    evidence = [e for entry in journal.entries for e in entry.evidence]
    assert all(isinstance(e, FreeEvidence) for e in evidence)
    assert [(e.line, e.kind, e.code, e.mark) for e in evidence] == [  # type: ignore[union-attr]
        (6, "http", "200", None),
        (7, "http", "404", None),
        (26, "shell", "404", "fail"),
        (29, "shell", "200", None),
        (32, "result", None, None),
        (34, "shell", None, "pass"),
        (36, "shell", "200", "pass"),
        (46, "shell", None, "pass"),
        (74, "shell", None, None),
        (86, "shell", None, "pass"),
        (88, "shell", None, None),
        (94, "shell", None, "pass"),
        (98, "shell", None, "pass"),
        (100, "shell", None, "pass"),
        (102, "shell", "200", "pass"),
        (103, "shell", "200", "pass"),
    ]
    # the commands and observations themselves, byte for byte as main read them (a digest, so that
    # the corpus is not copied into the project)
    pairs = json.dumps([[e.command, e.observed] for e in evidence], ensure_ascii=False)  # type: ignore[union-attr]
    assert hashlib.sha256(pairs.encode()).hexdigest() == (
        "2b9b5bdff85c4ce88dcc0c62d9df71937157b8a864d321904778daca4d4a8360"
    )


# -- what is not evidence -------------------------------------------------------------------------
NOT_EVIDENCE = [
    "- updated `tasks.json` (C0-code → `in_progress`)",
    "- renamed `notes.md` → `NOTES.md`",
    "- moved `src/a.py` → `src/b.py`",
    "- `tasks.json` -> `tasks.yaml`",
    "- status: `open` → `closed`",
    "- state `claimed` → `passed` after review",
    "- see `curl -s localhost:8080/health → 200` for the command",
    "- `make build -> ok`",
    "- commit + claim M1 → M1 PASS received",
    "- M1 → M2 → M3 in that order",
    "- the build went red → green",
    "- `cache.rs` → eviction logic",
    "```\nsrc/\n├── cache.rs → the eviction logic\n└── main.rs -> entry point\n```",
    "```\nclient → proxy → server\n```",
    "```\n|-- a.md -> b.md\n`-- c.md → d.md\n```",
    "```\nInput → Output\n→ done\n```",
    "- make sure the cache is warm → then deploy",
    "**Result:** fine (no command above it)",
]


@pytest.mark.parametrize("shape", NOT_EVIDENCE)
def test_prose_arrow_shapes_are_not_evidence(shape: str) -> None:
    journal = parse_journal(f"# JOURNAL — phase px (Builder)\n\n## 2026-06-13T13:24Z — x\n\n{shape}\n")
    assert [e for entry in journal.entries for e in entry.evidence] == []


@pytest.mark.parametrize(
    ("text", "command", "kind"),
    [
        ("- `curl -s localhost:8080/health` → 200", "curl -s localhost:8080/health", "shell"),
        ("- `https://example.test/ping` → 404", "https://example.test/ping", "http"),
        ("- `GET /health` -> 200 OK", "GET /health", "http"),
        ("- `./run.sh --fast` → ok", "./run.sh --fast", "shell"),
        ("- `sudo systemctl restart app` → active", "sudo systemctl restart app", "shell"),
        ("- `FOO=1 make test` (pass)", "FOO=1 make test", "shell"),
        ('```\n# body:\n→ {"ok": true}\n```', None, "result"),
    ],
)
def test_command_shaped_left_sides_are_evidence(text: str, command: str | None, kind: str) -> None:
    journal = parse_journal(f"## 2026-06-13T13:24Z — x\n\n{text}\n")
    evidence = [e for entry in journal.entries for e in entry.evidence]
    assert [(e.command, e.kind) for e in evidence] == [(command, kind)]  # type: ignore[union-attr]


# plain words, names and marks, arrows of both kinds, code spans: everything but a command
_WORDS = st.sampled_from(
    [
        "the", "build", "went", "M1", "PASS", "FAIL", "200", "404", "ok", "tasks.json", "src/a.py",
        "in_progress", "C0-code", "(", ")", "✓", "✗", "✅", "├──", "└──", "|--", "state", "green",
        "Result:", "Output:", "Exit:", "0", "notes", "→", "->", "`open`", "`a.md`", "`src/b.py`",
        "`x → y`", "**Note:**", "Key", "output", "then",
    ]
)  # fmt: skip


def _line(words: list[str]) -> str:
    return " ".join(words)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "- ", "> ", "    ", "fence"]), st.lists(_WORDS, min_size=1, max_size=8)
        ),
        max_size=12,
    )
)
def test_no_command_shaped_left_side_no_evidence(lines: list[tuple[str, list[str]]]) -> None:
    body = []
    for prefix, words in lines:
        if words[0] in ("→", "->"):
            words = ["so", *words]  # a bare arrow line after a `#` comment is a result: not generated here
        assert not is_command(words[0].strip("`"))
        if prefix == "fence":
            body.append("```\n" + _line(words) + "\n```")
        else:
            body.append(prefix + _line(words))
    journal = parse_journal(
        "# JOURNAL — phase px (Builder)\n\n## 2026-06-13T13:24Z — x\n\n" + "\n\n".join(body)
    )
    assert [e for entry in journal.entries for e in entry.evidence] == []


# -- headings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headings", "expected"),
    [
        ("## 2026-05-04\n### 18:08 UTC — a", [("2026-05-04T18:08:00Z", False, False, "a")]),
        ("## 2026-05-04\n### ~01:10 UTC — a", [("2026-05-04T01:10:00Z", False, True, "a")]),
        ("## 2026-05-04\n### 12:XX — a", [("2026-05-04T12:00:00Z", False, True, "a")]),
        ("## 2026-05-04 ~01:10 UTC — a", [("2026-05-04T01:10:00Z", False, True, "a")]),
        ("## Build #57 — 2026-03-01 18:01 UTC — Builder A", [("2026-03-01T18:01:00Z", False, False, "Build #57 — Builder A")]),
        ("#### 2026-02-10T18:27:13.106Z — w", [("2026-02-10T18:27:13Z", False, False, "w")]),
        ("## 2026-04-09T13:24Z\n### Poll", [("2026-04-09T13:24:00Z", False, False, "Poll")]),
        ("## Fix\n**Timestamp**: 2026-02-10 18:27 UTC", [("2026-02-10T18:27:00Z", False, False, "Fix")]),
        ("## Fix\n\nDate: 2026-02-10", [("2026-02-10T00:00:00Z", True, False, "Fix")]),
        ("## 2026-05-04 — Monday\n### 09:00 — stand-up", [("2026-05-04T00:00:00Z", True, False, "Monday"), ("2026-05-04T09:00:00Z", False, False, "stand-up")]),
    ],
)  # fmt: skip
def test_heading_styles(headings: str, expected: list[tuple[str, bool, bool, str]]) -> None:
    journal = parse_journal(f"# JOURNAL — phase px (Builder)\n\n{headings}\n\nbody\n")
    assert [(e.at, e.date_only, e.approx, e.title) for e in journal.entries] == expected
    assert journal.warnings == ()


def test_a_time_with_no_date_is_an_undated_entry_with_a_warning() -> None:
    journal = parse_journal("# JOURNAL\n\n### 18:08 UTC — alone\n")
    assert [(e.at, e.title) for e in journal.entries] == [(None, "alone")]
    assert any("no date" in w.message for w in journal.warnings)


def test_setext_headings_and_rules_make_no_entries() -> None:
    text = "## 2026-04-08T09:00Z — a\n\nsummary\n---\n\nmore\n===\n\n---\n\n## Notes\n---\n"
    journal = parse_journal(text)
    assert [e.title for e in journal.entries] == ["a", "Notes"]


def test_front_matter_is_metadata() -> None:
    text = "---\ntitle: x\ndate: 2026-01-01\n---\n## 2026-01-02T10:00Z — first\n"
    journal = parse_journal(text)
    assert [(e.title, e.line) for e in journal.entries] == [("first", 5)]
    assert journal.warnings == ()


def test_last_entry_time_reads_the_styles_too(tmp_path: Path) -> None:
    from loopkit.markdown.journal import last_entry_time

    def last(text: str) -> str | None:
        path = tmp_path / "JOURNAL-x.md"
        path.write_text(text, "utf-8")
        return last_entry_time(read_mapped(path))

    assert last("## 2026-05-04\n\n### 18:08 UTC — a\n\ntext\n") == "2026-05-04T18:08:00Z"
    assert last("## Build #5 — 2026-03-01 18:01 UTC — B\n") == "2026-03-01T18:01:00Z"
    assert last("#### 2026-02-10T18:27:13.106Z — w\n") == "2026-02-10T18:27:13Z"
    assert last("no headings\n") is None
    assert last("") is None
    # a heading quoted in a fence is no entry, however far above the fence opened
    assert last("## 2026-05-04T10:00Z — a\n\n````\n" + "x\n" * 5000 + "## 2026-05-05T10:00Z — b\n") == (
        "2026-05-04T10:00:00Z"
    )


# the shortcut pinned to the full parse: any journal-like text, the last dated entry's time
_PIECES = st.sampled_from(
    [
        "## 2026-05-04T10:00Z — dated\n", "## 2026-05-06\n", "### 18:08 UTC — a time\n",
        "### 09:15 — another\n", "## Notes\n", "# JOURNAL — phase p\n", "```\n", "~~~~\n",
        "> ## 2026-05-07T10:00Z — quoted\n", "- ## 2026-05-08T10:00Z — listed\n",
        "<!-- open\n", "-->\n", "<div>\n", "\n", "text\n", "---\n", "===\n",
        "## 2026-05-09T11:00Z\n", "**Timestamp**: 2026-05-10T12:00Z\n", "    ## indented\n",
        "## 2026-13-40T99:99Z — not a time\n", "\t- deep\n", "## 2026-05-11 09:00 UTC — spaced\n",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PIECES, max_size=40))
def test_last_entry_time_is_the_full_parse(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str]
) -> None:
    from loopkit.markdown.journal import last_entry_time

    text = "".join(pieces)
    path = tmp_path_factory.mktemp("j") / "JOURNAL-p.md"
    path.write_text(text, "utf-8")
    dated = [e.at for e in parse_journal(text).entries if e.at is not None]
    assert last_entry_time(read_mapped(path)) == (dated[-1] if dated else None)
