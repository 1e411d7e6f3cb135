"""`loopkit status` for people: golden files for 1, 20 and 200 phases at 80 and 200 columns, and the
pieces (sorting, ages, cutting, colour, terminal safety) as pure functions.

UPDATE_GOLDEN=1 rewrites the golden files from what loopkit prints now (then read the diff).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import NOW, run_loopkit
from fastbooks import build

from loopkit.cli.text import cut, marks, safe, status_text, use_colour, width_of
from loopkit.services.view import WAITING_ON, age, needs_first

GOLDEN = Path(__file__).parent / "golden" / "status"
CLOCK = datetime(2026, 6, 13, 13, 44, tzinfo=UTC)


def _doc(data: Any) -> Any:
    """A partial status document, read by attribute as the renderers read documents.py's."""
    if isinstance(data, dict):
        return SimpleNamespace(**{k: v if k == "inbox" else _doc(v) for k, v in data.items()})
    return [_doc(v) for v in data] if isinstance(data, list) else data


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n", encoding="utf-8")
    saved = {k: os.environ.get(k) for k in ("HOME", "GIT_CONFIG_NOSYSTEM")}
    os.environ.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    try:
        return {n: build(tmp_path_factory.mktemp(f"books{n}") / "repo", n) for n in (1, 20, 200)}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("phases", [1, 20, 200])
@pytest.mark.parametrize("columns", [80, 200])
def test_status_golden(workspaces: dict[int, Path], phases: int, columns: int) -> None:
    result = run_loopkit("status", cwd=workspaces[phases], env={"COLUMNS": str(columns), "NO_COLOR": ""})
    assert result.code == 0, result.err
    golden = GOLDEN / f"{phases}-phases-{columns}-columns.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.out, encoding="utf-8")
    assert result.out == golden.read_text(encoding="utf-8")
    lines = result.out.splitlines()
    assert all(width_of(line) <= columns for line in lines)
    assert len(lines) == phases + 2 + (columns < 120)  # a header, one line a phase, totals (legend)
    assert "\x1b[" not in result.out  # not a terminal: no colour


def test_status_json_waiting_on(workspaces: dict[int, Path]) -> None:
    doc = run_loopkit("status", "--json", cwd=workspaces[20]).json
    seen = {p["state"]: p["waiting_on"] for p in doc["phases"]}
    assert set(seen) == set(WAITING_ON)  # 20 phases reach every state
    assert seen == {s: WAITING_ON[s] for s in seen}
    failed = next(p for p in doc["phases"] if p["state"] == "changes-requested")
    verdict = next(m["verdict"] for m in failed["milestones"] if m["state"] == "failed")
    assert verdict["note"].startswith("rollback path untested")


def test_status_phase_detail(workspaces: dict[int, Path]) -> None:
    result = run_loopkit("status", "--phase", "dashboard-003", cwd=workspaces[20], env={"COLUMNS": "100"})
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith("dashboard-003  changes-requested")
    assert "FAIL 24h ago by adversary — rollback path untested" in result.out
    assert "waits on builder" in result.out


def test_sort_puts_what_needs_someone_first() -> None:
    def phase(name: str, state: str, problems: int = 0, at: str | None = "2026-06-13T10:00:00Z") -> dict:
        return {"phase": name, "state": state, "problems": [{}] * problems, "last_activity": at}

    phases = [
        phase("a-done", "done", problems=1),
        phase("b-planned", "planned", at=None),
        phase("c-progress", "in-progress"),
        phase("d-review-new", "awaiting-review", at="2026-06-13T12:00:00Z"),
        phase("e-review-old", "awaiting-review", at="2026-06-12T12:00:00Z"),
        phase("f-failed", "changes-requested"),
        phase("g-problem", "in-progress", problems=2),
        phase("h-ready", "ready"),
    ]
    order = [p.phase for p in sorted(_doc(phases), key=needs_first)]
    assert order == [
        "g-problem",
        "f-failed",
        "e-review-old",
        "d-review-new",
        "h-ready",
        "c-progress",
        "b-planned",
        "a-done",
    ]


def test_age_words() -> None:
    assert age("2026-06-13T13:43:30Z", CLOCK) == "now"
    assert age("2026-06-13T13:40:00Z", CLOCK) == "4m ago"
    assert age("2026-06-13T10:44:00Z", CLOCK) == "3h ago"
    assert age("2026-06-11T13:44:00Z", CLOCK) == "2d ago"
    assert age("2026-05-01T13:44:00Z", CLOCK) == "6w ago"
    assert age("2026-06-13T15:44:00Z", CLOCK) == "in 2h"
    assert age(None, CLOCK) == "-"
    assert NOW == "2026-06-13T13:44:00Z"


def test_cut_and_width_count_display_columns() -> None:
    assert cut("abcdef", 4) == "abc…"
    assert cut("abc", 4) == "abc"
    assert width_of("相位") == 4
    assert width_of(cut("相位相位相位", 5)) <= 5


def test_terminal_cannot_be_driven_by_a_title() -> None:
    assert safe("a\x1b[2Jb\u202ec\nd") == "a\\x1b[2Jb\\u202ec d"
    doc = {
        "phases": [
            {
                "phase": "p",
                "state": "in-progress",
                "milestones": [{"id": "M1", "state": "open"}],
                "waiting_on": "builder",
                "last_activity": None,
                "problems": [{"code": "parse-warning", "message": "\x1b]0;owned\x07 <script>"}],
                "inbox": {},
            }
        ]
    }
    text = status_text(_doc(doc), now=CLOCK, width=200, colour=False)
    assert "\x1b" not in text and "\x07" not in text
    coloured = status_text(_doc(doc), now=CLOCK, width=200, colour=True)
    assert "\x1b[36min-progress\x1b[0m" in coloured
    assert all(ch not in coloured.replace("\x1b[", "") for ch in "\x07")


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty(), {}) is True  # type: ignore[arg-type]
    assert use_colour(Tty(), {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert use_colour(Tty(), {"TERM": "dumb"}) is False  # type: ignore[arg-type]
    with open(os.devnull, "w") as pipe:
        assert use_colour(pipe, {}) is False


def test_marks_words_and_signs() -> None:
    ms = [{"id": "M1", "state": "passed"}, {"id": "M2", "state": "failed"}, {"id": "M3", "state": "claimed"}]
    assert marks(_doc(ms)) == "M1✓passed M2✗failed M3…claimed"
    assert marks(_doc(ms), words=False) == "M1✓ M2✗ M3…"
