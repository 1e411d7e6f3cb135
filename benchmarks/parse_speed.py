#!/usr/bin/env python3
"""loopkit's journal parse against markdown-it-py's own parse, on a realistic 4 MB journal.

    .venv/bin/python benchmarks/parse_speed.py            # 4 MB, median of 5 runs each
    .venv/bin/python benchmarks/parse_speed.py --mb 1 -n 3

The journal mixes what loopkit writes (probe records and their display blocks) with what agents
write by hand in the styles loopkit reads (bullets with code spans and arrows, fences of commands and
`→` lines, `$` prompts with output, label pairs, time-only headings under a date), all invented.
loopkit must read it (entries, evidence, the reader's fence and quote rules) faster than markdown-it
alone turns it into tokens with `MarkdownIt("commonmark").parse`; the target is a ratio of 1.2 or
more. It also times the reader from the end over the same file. Times are CPU seconds of this
process (both sides are single-threaded), so that other work on a shared machine does not skew the
ratio. It prints figures; it never fails.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopkit.markdown.journal import parse_journal, probe_records_from_end
from loopkit.model import ProbeRecord

TARGET = 1.2

_BASE = ProbeRecord(
    phase="lantern",
    milestone="M1",
    probe="P1",
    title="health answers 200",
    command="curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health",
    observe="stdout",
    observed="200",
    exit=0,
    expect=("200",),
    expect_not=(),
    expect_exit=None,
    result="PASS",
    duration=0.042,
    at="2026-04-02T09:15:01Z",
    head="0" * 40,
    dirty=False,
    stdout="200",
    stderr="",
    stdout_bytes=3,
)


def _probe_entry(rng: random.Random, n: int) -> str:
    from loopkit.services.probes import render_evidence

    ok = rng.random() < 0.8
    record = replace(
        _BASE,
        milestone=f"M{n % 4 + 1}",
        probe=f"P{n % 3 + 1}",
        observed="200" if ok else "503",
        stdout="200" if ok else "503",
        result="PASS" if ok else "FAIL",
        at=f"2026-04-{n % 28 + 1:02d}T{n % 24:02d}:{n % 60:02d}:07Z",
        head=f"{n:040x}",
    )
    return render_evidence(record) + "\n"


def _hand_entry(rng: random.Random, n: int) -> str:
    day = f"2026-04-{n % 28 + 1:02d}"
    parts = [f"## {day}T{n % 24:02d}:{n % 60:02d}Z — Builder poll {n} (M{n % 4 + 1} monitoring)\n"]
    parts.append(
        "**Orientation:**\n"
        f"- Read the plan for step {n}; the rework touches `src/cache/evict.rs` and `src/cache/mod.rs`.\n"
        f"- Pre-check: `https://lantern.example.test/api/v{n % 3}` → HTTP/2 200 (served directly)\n"
        "- `https://lantern.example.test/ping` → 404 (not enabled here)\n"
        f"- updated `tasks.json` (C{n % 9}-code → `in_progress`) and renamed `notes.md` → `NOTES.md`\n"
        "- `cargo fmt --check` (pass; no output)\n"
        "- ✅ GET /health → 200 OK\n"
        "\n"
    )
    parts.append(
        "**Controlled reproduction:**\n"
        "```\n"
        "# scale the worker to zero to simulate a cold start\n"
        "docker service scale lantern_worker=0\n"
        f'curl -sk -o /dev/null -w "%{{http_code}}" --max-time 5 https://lantern.example.test/{n}\n'
        "→ HTTP 503 ← FAILS (would wait until the timeout)\n"
        "# restore\n"
        "docker service scale lantern_worker=1 → 1/1 ✓\n"
        "```\n\n"
    )
    if rng.random() < 0.5:
        parts.append(
            "```console\n$ ./bin/migrate --dry-run\n3 migrations pending\nexit 0\n```\n\n"
            "- Command: `npm test`\n- Key output: 12 passing\n\n"
        )
    parts.append(
        "The rollback reasoning: if the proxy is broken the probe returns non-200 and the gate "
        "rolls back; the old probe was stronger only in that it also tested a routed backend, "
        "which made it unworkable on a cold boot.\n\n"
        f"**Next:** commit + claim M{n % 4 + 1} → awaiting the adversary.\n\n"
    )
    return "".join(parts)


def journal(size: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    parts = ["# JOURNAL — phase lantern (Builder)\n\n"]
    total, n = 0, 0
    while total < size:
        part = _probe_entry(rng, n) if rng.random() < 0.35 else _hand_entry(rng, n)
        parts.append(part)
        total += len(part.encode())
        n += 1
    return "".join(parts)


def _median(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=4.0, help="journal size in MB (default 4)")
    parser.add_argument("-n", type=int, default=5, help="runs per timing; the median is printed (default 5)")
    args = parser.parse_args()

    from markdown_it import MarkdownIt

    text = journal(int(args.mb * 1_000_000))
    md = MarkdownIt("commonmark")
    parse_journal(text[:10_000])  # warm both up (imports, compiled patterns)
    md.parse(text[:10_000])
    ours = _median(lambda: parse_journal(text), args.n)
    theirs = _median(lambda: md.parse(text), args.n)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "JOURNAL-lantern.md"
        path.write_text(text, encoding="utf-8")
        reverse = _median(lambda: list(probe_records_from_end(path)), args.n)
    parsed = parse_journal(text)
    evidence = sum(len(e.evidence) for e in parsed.entries)
    size = len(text.encode()) / 1_000_000
    ratio = theirs / ours
    print(f"journal: {size:.1f} MB, {len(parsed.entries)} entries, {evidence} pieces of evidence")
    print(f"loopkit parse_journal         median of {args.n}: {ours:.3f} s")
    print(f"markdown-it-py MarkdownIt.parse median of {args.n}: {theirs:.3f} s")
    print(f"reader from the end (all records) median of {args.n}: {reverse:.3f} s")
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"ratio markdown-it / loopkit: {ratio:.2f}x (target >= {TARGET}x: {verdict})")


if __name__ == "__main__":
    main()
