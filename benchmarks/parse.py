"""Scenario 1: journal parse against markdown-it-py's own parse of the same text.

Three measures, each on journals of several shapes:

- whole processes (issue 24's figure): `loopkit journal parse FILE --json` against a `python -c`
  that imports markdown_it and parses the file with `MarkdownIt("commonmark").parse`, alternated,
  target <= PARSE_TARGET;
- growth: loopkit's in-process parse time per MB at the big size over the small one (a parse that
  is linear in the journal's size stays near 1; the patched block loop of issue 24 gave > 100);
- in-process throughput against markdown-it's parse, and markdown-it's block phase alone (what
  loopkit's tokenizer is: its inline phase switched off).

Shapes: the corpus style (generated, blank lines between entries), long lists (the published
corpus lost its blank lines: hundreds of `-` lines in a row, where the quadratic loop showed), many
small entries, the hand-written styles loopkit reads (with its own probe records), and the real
corpus journal repeated, when `../shared/corpus/` is there (it is not copied into the project).
`benchmarks/parse_speed.py` runs the same measures alone.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import FILES, LABELS, _host, _sentence, _sha, journal_text
from harness import LOOPKIT, MB, PY, Row, bench_pair, compare, log

PARSE_TARGET = 1.25  # journal parse / markdown-it-py's own parse, whole processes (issue 24)
GROWTH_TARGET = 1.25  # time per MB at the big size / at the small size, in process
MARKDOWN_IT = (
    "import sys\n"
    "from markdown_it import MarkdownIt\n"
    "MarkdownIt('commonmark').parse(open(sys.argv[1], encoding='utf-8').read())\n"
)
HEADER = "# JOURNAL — phase pxgate (Builder)\n"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


# -- the shapes -----------------------------------------------------------------------------------
def corpus_style(size: int, seed: int = 1) -> str:
    """Entries in the corpus style with loopkit's probe entries, blank lines between entries."""
    rng = random.Random(seed)
    probes = [
        ("M1", "P1", "new probe answers 200", "curl -sk -o /dev/null -w %{http_code} https://t.example.net/v"),
        ("M1", "P1-neg", "gate has teeth", "curl -s -o /dev/null -w %{http_code} --max-time 3 http://127.0.0.1:9/"),
        ("M2", "P2", "idle stability", "curl -sk https://ci.example.net/ -o /dev/null -w %{http_code}"),
    ]  # fmt: skip
    heads = [_sha(rng) for _ in range(6)]
    end = START + timedelta(days=12)
    body = journal_text(
        rng, size - len(HEADER) - 1, phase="pxgate", start=START, end=end, probes=probes, heads=heads
    )
    return HEADER + "\n" + body


def long_lists(size: int, seed: int = 2) -> str:
    """Entries of one label and hundreds of list items each, and no blank line anywhere."""
    rng = random.Random(seed)
    lines = [HEADER.rstrip("\n")]
    total, at = len(HEADER), START
    while total < size:
        at += timedelta(minutes=rng.randint(5, 90))
        entry = [f"## {at:%Y-%m-%dT%H:%M}Z — Builder poll (M{rng.randint(1, 2)} monitoring)"]
        entry.append(f"**{rng.choice(LABELS)}:**")
        for _ in range(rng.randint(100, 600)):
            pick = rng.random()
            if pick < 0.4:
                code = rng.choice(["200", "404", "HTTP/2 200", "HTTP 503"])
                entry.append(
                    f"- `curl -sk https://{_host(rng)}/api/version` → {code} ({_sentence(rng, 2, 5)})"
                )
            elif pick < 0.7:
                entry.append(f"- `{rng.choice(FILES)}` line {rng.randint(10, 900)}: {_sentence(rng, 4, 14)}")
            elif pick < 0.85:
                entry.append(f"  - {_sentence(rng, 3, 10)}")
            else:
                entry.append(f"- {_sentence(rng, 5, 20)}")
        text = "\n".join(entry)
        lines.append(text)
        total += len(text.encode()) + 1
    return "\n".join(lines) + "\n"


def many_entries(size: int, seed: int = 3) -> str:
    """Small entries, a heading and a line or two each, no blank line anywhere."""
    rng = random.Random(seed)
    parts = [HEADER]
    total, at = len(HEADER), START
    while total < size:
        at += timedelta(minutes=rng.randint(1, 7))
        text = f"## {at:%Y-%m-%dT%H:%M}Z — poll\n- `curl -s https://{_host(rng)}/health` → 200 ✓\n"
        if rng.random() < 0.3:
            text += f"{_sentence(rng, 4, 12)}\n"
        parts.append(text)
        total += len(text.encode())
    return "".join(parts)


_RECORD: Any = None


def _probe_entry(n: int) -> str:
    from loopkit.model import ProbeRecord
    from loopkit.services.probes import render_evidence

    global _RECORD
    if _RECORD is None:
        _RECORD = ProbeRecord(
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
    ok = n % 5 != 0
    record = replace(
        _RECORD,
        milestone=f"M{n % 4 + 1}",
        probe=f"P{n % 3 + 1}",
        observed="200" if ok else "503",
        stdout="200" if ok else "503",
        result="PASS" if ok else "FAIL",
        at=f"2026-04-{n % 28 + 1:02d}T{n % 24:02d}:{n % 60:02d}:07Z",
        head=f"{n:040x}",
    )
    return str(render_evidence(record)) + "\n"


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


def hand_styles(size: int, seed: int = 7) -> str:
    """The hand-written styles loopkit reads (bullets with code spans and arrows, fences of commands
    and `→` lines, `$` prompts, label pairs) mixed with loopkit's own probe records."""
    rng = random.Random(seed)
    parts = ["# JOURNAL — phase lantern (Builder)\n\n"]
    total, n = 0, 0
    while total < size:
        part = _probe_entry(n) if rng.random() < 0.35 else _hand_entry(rng, n)
        parts.append(part)
        total += len(part.encode())
        n += 1
    return "".join(parts)


def corpus_file() -> Path | None:
    """The published corpus journal, when a `shared/corpus` folder sits beside a parent folder."""
    for parent in Path(__file__).resolve().parents:
        path = parent / "shared" / "corpus" / "JOURNAL-pxgate.md"
        if path.is_file():
            return path
    return None


def published(size: int) -> str:
    """The real corpus journal repeated to about `size` (501 times for 4 MB; issue 24 timed 520):
    no blank line at all."""
    path = corpus_file()
    assert path is not None
    one = path.read_text(encoding="utf-8")
    return one * max(1, round(size / len(one.encode())))


Shape = Callable[[int], str]


def shapes() -> dict[str, Shape]:
    found: dict[str, Shape] = {
        "corpus style": corpus_style,
        "long lists": long_lists,
        "many entries": many_entries,
        "hand styles": hand_styles,
    }
    if corpus_file() is not None:
        found["published corpus"] = published
    return found


def label(size: float) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{size / 1000:.0f} kB"


# -- the measures ---------------------------------------------------------------------------------
def process_row(path: Path, what: str, n: int, *, judged: bool, goal: str | None = None) -> Row:
    """`loopkit journal parse` of the file against markdown-it-py's parse, fresh processes. The
    target holds from 4 MB (issue 24's size): below it loopkit's start-up (typer, its own modules,
    ~0.1 s more than importing markdown_it) weighs more and the row is shown for information."""
    assert LOOPKIT is not None
    ours, theirs = bench_pair(
        ([LOOPKIT, "journal", "parse", str(path), "--json"], path.parent, {}),
        ([PY, "-c", MARKDOWN_IT, str(path)], path.parent, {}),
        n,
    )
    row = compare(
        "1", f"journal parse {what} / markdown-it-py, processes", ours, theirs, "<=", PARSE_TARGET, goal=goal
    )
    return row if judged else replace(row, what=f"  info: {row.what}", op=None, target=None)


def _median(call: Callable[[], object], n: int) -> float:
    """The median CPU time of this process over `n` calls (other load on the machine skews it less
    than wall time; both sides are single-threaded)."""
    times = []
    for _ in range(n):
        gc.collect()
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times)


def growth_row(name: str, small: str, big: str, n: int) -> Row:
    """loopkit's parse time per MB at the big size over the small one, in process (CPU time)."""
    from loopkit.markdown.journal import parse_journal

    per_mb = []
    for text in (small, big):
        per_mb.append(_median(lambda text=text: parse_journal(text), n) / (len(text.encode()) / MB))
    return Row(
        "1",
        f"  growth {name}: s/MB at {label(len(big.encode()))} / at {label(len(small.encode()))}",
        f"{per_mb[1]:.2f} s/MB",
        f"{per_mb[0]:.2f} s/MB",
        per_mb[1] / per_mb[0],
        "<=",
        GROWTH_TARGET,
    )


def throughput_rows(text: str, n: int) -> list[Row]:
    """In process: loopkit's parse and markdown-it's block phase against markdown-it's parse."""
    from markdown_it import MarkdownIt

    from loopkit.markdown.journal import parse_journal
    from loopkit.markdown.tokens import parser as block_parser

    md, block = MarkdownIt("commonmark"), block_parser()
    parse_journal(text[:5000])
    md.parse(text[:5000])
    mbytes = len(text.encode()) / MB
    rate = {
        "loopkit": mbytes / _median(lambda: parse_journal(text), n),
        "markdown-it": mbytes / _median(lambda: md.parse(text), n),
        "block": mbytes / _median(lambda: block.parse(text), n),
    }
    result = parse_journal(text)
    log(
        f"  parse {label(len(text.encode()))}: {len(result.entries)} entries, "
        f"{sum(len(e.evidence) for e in result.entries)} evidence "
        f"({len(result.probe_records)} probe records), {len(result.warnings)} warnings"
    )
    what = label(len(text.encode()))
    return [
        Row(
            "1",
            f"  parse_journal {what} in process (MB/s of CPU time, median of {n})",
            f"{rate['loopkit']:.2f} MB/s",
            f"markdown-it commonmark {rate['markdown-it']:.2f} MB/s",
            rate["loopkit"] / rate["markdown-it"],
            ">=",
            0.8,
        ),
        Row(
            "1",
            f"  info: markdown-it block-only parse {what} (loopkit's tokenizer)",
            f"{rate['block']:.2f} MB/s",
            f"loopkit = {rate['loopkit'] / rate['block']:.2f}× of it",
            None,
            None,
            None,
        ),
    ]


def bench_parse(tmp: Path, cfg: dict[str, Any], rows: list[Row]) -> None:
    small, big = cfg["parse_sizes"]
    folder = tmp / "parse"
    folder.mkdir(exist_ok=True)
    for name, make in shapes().items():
        if cfg.get("shapes") and name not in cfg["shapes"]:
            continue
        log(f"  {name}: {label(small)} and {label(big)}")
        texts = {size: make(size) for size in (small, big)}
        for size, text in texts.items():
            path = folder / f"JOURNAL-{name.split()[0]}-{size}.md"
            path.write_text(text, encoding="utf-8")
            what = f"{label(len(text.encode()))} {name}"
            if make is published:
                what += f" (×{text.count(HEADER.strip())})"
            if size == big or name == "corpus style":
                goal = "parse" if size == big and make is corpus_style else None  # issue 21's figure
                rows.append(process_row(path, what, cfg["cmd_n"], judged=size >= 4 * MB, goal=goal))
        rows.append(growth_row(name, texts[small], texts[big], cfg["parse_n"]))
    rows.extend(throughput_rows(corpus_style(big), cfg["parse_n"]))


if __name__ == "__main__":
    sys.exit("run benchmarks/run.py --only 1, or benchmarks/parse_speed.py")
