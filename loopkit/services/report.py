"""report: one self-contained HTML page of every phase, for people (SPEC section 9).

It reads the books once, through the view `status --json` is built from (with its detail: every
genuine record of each milestone in history order, and check's problems, the workspace's and each
phase's), redacts it as `--json` output is, and renders it with autoescaping on. It needs no role,
writes only its output file, and commits nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from loopkit import timefmt
from loopkit.config import load_report_url
from loopkit.render import render_html
from loopkit.services.context import Context
from loopkit.services.status import status
from loopkit.services.view import NEEDS_FIRST, age, needs_first
from loopkit.workspace import CONFIG_NAME, write_atomic

DEFAULT_OUT = "loopkit-report.html"
_SHA = re.compile(r"[0-9a-f]{7,64}")


def report(ctx: Context, *, phase: str | None, out: str | None) -> dict[str, Any]:
    """Write the page (or return it, for `--out -`); the document says where and how big."""
    ws = ctx.workspace
    commit_url = load_report_url(ws.root / CONFIG_NAME)
    data = ctx.redactor.redact_obj(status(ctx, phase=phase, detail=True))
    page = render_page(data, now=ctx.now, commit_url=commit_url, cache_from=ws.root)
    size = len(page.encode("utf-8"))
    result: dict[str, Any] = {"phases": len(data["phases"]), "bytes": size}
    if out == "-":
        return {**result, "out": "-", "html": page}
    path = Path(ctx.cwd) / (out or DEFAULT_OUT)
    write_atomic(path, page)
    return {**result, "out": str(path)}


def render_page(
    data: dict[str, Any], *, now: datetime, commit_url: str | None, cache_from: Path | None = None
) -> str:
    def link(sha: str | None) -> str | None:
        """A commit's page, only for what is a commit id (a forged record's text could be anything)."""
        if not commit_url or not sha or not _SHA.fullmatch(sha):
            return None
        return commit_url.replace("{sha}", quote(sha, safe=""))

    ordered = sorted(data["phases"], key=needs_first)
    phases = [_phase(p, index) for index, p in enumerate(ordered)]
    counts = {s: sum(1 for p in phases if p["state"] == s) for s in NEEDS_FIRST}
    return render_html(
        "html/report.html.j2",
        cache_from=cache_from,
        workspace=data["workspace"],
        generated=timefmt.iso(now),
        phases=phases,
        counts={s: n for s, n in counts.items() if n},
        workspace_problems=data.get("problems", []),
        problems=len(data.get("problems", [])) + sum(len(p["problems"]) for p in phases),
        pending=sum(len(p["messages"]) for p in phases),
        age=lambda at: age(at, now),
        when=_when,
        link=link,
        short=lambda sha: (sha or "-")[:10],
    )


def _when(at: str | None) -> str:
    """`2026-06-13 13:44Z`: minutes are what a person reads; the full time is in the title."""
    moment = timefmt.parse_iso(at) if at else None
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment else (at or "-")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "x"


def _phase(p: dict[str, Any], index: int) -> dict[str, Any]:
    anchor = f"phase-{_slug(p['phase'])}-{index}"
    milestones = [{**m, "anchor": f"{anchor}-{_slug(m['id'])}-{n}"} for n, m in enumerate(p["milestones"])]
    return {
        **p,
        "anchor": anchor,
        "milestones": milestones,
        "passed": sum(1 for m in milestones if m["state"] == "passed"),
    }
