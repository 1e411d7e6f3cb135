"""Scenario: `loopkit --help` vs a bare typer app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import LOOPKIT, PY, Row, bench_pair, compare


def bench_help(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path, bare_like: Path) -> None:
    n = cfg["cmd_n"]
    lk_help, bare_help = bench_pair(([LOOPKIT, "--help"], tmp, {}), ([PY, str(bare), "--help"], tmp, {}), n)
    rows.append(compare("3", "loopkit --help vs bare typer app --help", lk_help, bare_help, "<=", 1.2))
    lk_help2, like = bench_pair(([LOOPKIT, "--help"], tmp, {}), ([PY, str(bare_like), "--help"], tmp, {}), n)
    rows.append(
        compare("3", "  same, vs bare app with loopkit's typer options (no rich)", lk_help2, like, "<=", 1.2)
    )
    # as this machine runs it by default: PYTHONDONTWRITEBYTECODE and an editable install, no .pyc
    raw = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "no-pycache")}
    lk_raw, bare_raw = bench_pair(([LOOPKIT, "--help"], tmp, raw), ([PY, str(bare), "--help"], tmp, raw), n)
    rows.append(
        compare(
            "3",
            "  info: same, without bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
            lk_raw,
            bare_raw,
            None,
            None,
        )
    )
