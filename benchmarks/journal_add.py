"""Scenario P3/P3n: `journal add` on a 10 MB journal vs a 10 kB one, with and without its commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import fill_journal, new_repo, simple_phase
from harness import LOOPKIT, MB, Row, bench_pair, compare, lk, log, peak_rss


# -- 2. journal add -------------------------------------------------------------------------------
def bench_journal_add(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    spaces = {}
    for name, size in (("big", cfg["add_big"]), ("small", cfg["add_small"])):
        repo = tmp / f"add-{name}"
        ws = new_repo(repo, when=t0)
        simple_phase(ws, repo, when=t0 + timedelta(minutes=5))
        actual = fill_journal(ws, repo, size, seed=2)
        spaces[name] = (ws, actual)
        log(f"  journal add: {name} journal {actual:,} bytes")
    big_ws, big_size = spaces["big"]
    small_ws, small_size = spaces["small"]
    role = {"LOOPKIT_ROLE": "builder"}
    argv = [LOOPKIT, "journal", "add", "--phase", "p", "--title", "t", "--body", "b"]
    for flag in ([], ["--no-commit"]):
        big, small = bench_pair((argv + flag, big_ws, role), (argv + flag, small_ws, role), n)
        what = "journal add" + (" --no-commit" if flag else " (with commit)")
        rows.append(
            compare(
                "P3n" if flag else "P3",
                f"{what}: {big_size / MB:.0f} MB journal vs {small_size / 1000:.0f} kB",
                big,
                small,
                goal="add-nc" if flag else "add",
            )
        )
        rss_big = peak_rss(argv + flag, cwd=big_ws, env_extra=role)
        rss_small = peak_rss(argv + flag, cwd=small_ws, env_extra=role)
        rows.append(
            Row(
                "2",
                f"  peak RSS, {what} on the {big_size / MB:.0f} MB journal",
                f"{rss_big / 1024:.0f} MiB",
                f"{rss_small / 1024:.0f} MiB on the small one",
                None,
                None,
                None,
            )
        )

    # The first add after the journal grew by hand, or in a fresh clone: loopkit keeps where the
    # journal's last entry starts in the index (.git/loopkit/index/anchors.json), and without it
    # reads the whole file.
    def forget(ws: Path) -> None:
        (ws.parent / ".git" / "loopkit" / "index" / "anchors.json").unlink(missing_ok=True)

    big, small = bench_pair((argv, big_ws, role), (argv, small_ws, role), n, before=forget)
    rows.append(
        compare(
            "2",
            f"journal add, first after a clone (no .git/loopkit cache): {big_size / MB:.0f} MB vs "
            f"{small_size / 1000:.0f} kB",
            big,
            small,
            "<=",
            1.2,
        )
    )
    check_journal(small_ws, "2")


def check_journal(ws: Path, where: str) -> None:
    """The benchmark's own journals must read back as journals (else the figures mean nothing)."""
    done = lk(ws, "journal", "show", "--phase", "p", "--json")
    data = json.loads(done.stdout)
    if data["warnings"]:
        log(f"  note ({where}): {len(data['warnings'])} parse warnings, first: {data['warnings'][0]}")


# -- 3 and 4. start-up: --help and probe exec -----------------------------------------------------
