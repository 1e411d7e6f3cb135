"""Scenario P7: `inbox list` vs B0, on a workspace with a phase and a few messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import new_repo, simple_phase
from harness import LOOPKIT, PY, Row, bench_pair, compare, lk, settle


def bench_inbox(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    repo = tmp / "inbox"
    ws = new_repo(repo, when=t0)
    simple_phase(ws, repo, when=t0 + timedelta(minutes=5))
    for i in range(5):
        lk(
            ws,
            "inbox",
            "send",
            "--to",
            "builder",
            "--phase",
            "p",
            "--subject",
            f"note {i}",
            "--body",
            f"body {i}",
            role="orchestrator",
        )
    settle()  # the messages were just written: out of the racy window, as a later list finds them
    argv = [LOOPKIT, "inbox", "list"]
    lk_t, bare_t = bench_pair(
        (argv, ws, {"LOOPKIT_ROLE": "builder"}), ([PY, str(bare)], tmp, {}), cfg["cmd_n"]
    )
    rows.append(compare("P7", "inbox list / B0", lk_t, bare_t, goal="inbox"))
