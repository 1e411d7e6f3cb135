"""Scenario: journal parse throughput (in process)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from corpus import _sha, journal_text
from harness import MB, Row, log


def bench_parse(cfg: dict[str, Any], rows: list[Row]) -> None:
    import gc

    from markdown_it import MarkdownIt

    from loopkit.markdown.journal import parse_journal
    from loopkit.markdown.tokens import parser as block_parser

    md = MarkdownIt("commonmark")
    block = block_parser()
    rng = random.Random(1)
    probes = [
        (
            "M1",
            "P1",
            "new probe answers 200",
            "curl -sk -o /dev/null -w %{http_code} https://traefik.ci.example.net/api/version",
        ),
        (
            "M1",
            "P1-neg",
            "gate has teeth",
            "curl -s -o /dev/null -w %{http_code} --max-time 3 http://127.0.0.1:9/",
        ),
        ("M2", "P2", "idle stability", "curl -sk https://ci.example.net/ -o /dev/null -w %{http_code}"),
    ]
    heads = [_sha(rng) for _ in range(6)]
    header = "# JOURNAL — phase pxgate (Builder)\n\n"
    for size in cfg["parse_sizes"]:
        text = header + journal_text(
            rng,
            size - len(header),
            phase="pxgate",
            start=datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
            end=datetime(2026, 6, 13, 18, 0, tzinfo=UTC),
            probes=probes,
            heads=heads,
        )
        mbytes = len(text.encode()) / MB
        n = cfg["parse_n"] if size <= 2 * MB else max(3, cfg["parse_n"] - 2)  # a 10 MB parse takes long
        parse_journal(text[:5000])
        md.parse(text[:5000])
        times: dict[str, list[float]] = {"loopkit": [], "markdown-it": [], "block": []}
        result = None
        for _ in range(n):
            for name, call in (
                ("loopkit", lambda text=text: parse_journal(text)),
                ("markdown-it", lambda text=text: md.parse(text)),
                ("block", lambda text=text: block.parse(text)),
            ):
                gc.collect()
                start = time.perf_counter()
                out = call()
                times[name].append(time.perf_counter() - start)
                if name == "loopkit":
                    result = out
                del out
        assert result is not None
        evidence = sum(len(e.evidence) for e in result.entries)
        probe_records = len(result.probe_records)
        log(
            f"  parse {mbytes:.1f} MB: {len(result.entries)} entries, {evidence} evidence "
            f"({probe_records} probe records), {len(result.warnings)} warnings"
        )
        rate = {k: mbytes / statistics.median(v) for k, v in times.items()}
        label = f"{mbytes:.0f} MB" if mbytes >= 1 else f"{mbytes * 1000:.0f} kB"
        rows.append(
            Row(
                "1",
                f"parse_journal {label} (MB/s, median of {n})",
                f"{rate['loopkit']:.2f} MB/s",
                f"markdown-it commonmark {rate['markdown-it']:.2f} MB/s",
                rate["loopkit"] / rate["markdown-it"],
                ">=",
                0.8,
            )
        )
        rows.append(
            Row(
                "1",
                f"  info: markdown-it block-only parse {label} (loopkit's tokenizer)",
                f"{rate['block']:.2f} MB/s",
                f"loopkit = {rate['loopkit'] / rate['block']:.2f}× of it",
                None,
                None,
                None,
            )
        )


# -- workspaces -----------------------------------------------------------------------------------
