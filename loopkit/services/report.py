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
from urllib.parse import quote

from loopkit import timefmt
from loopkit.config import load_report_url
from loopkit.documents.report import ReportDocument
from loopkit.documents.status import StatusDocument
from loopkit.render import render_html
from loopkit.services.context import Context
from loopkit.services.status import status
from loopkit.services.view import NEEDS_FIRST, age, needs_first
from loopkit.workspace import CONFIG_NAME, write_atomic

DEFAULT_OUT = "loopkit-report.html"
_SHA = re.compile(r"[0-9a-f]{7,64}")


def report(ctx: Context, *, phase: str | None, out: str | None) -> ReportDocument:
    """Write the page (or return it, for `--out -`); the document says where and how big."""
    ws = ctx.workspace
    commit_url = load_report_url(ws.root / CONFIG_NAME)
    data = StatusDocument.from_json(ctx.redactor.redact_obj(status(ctx, phase=phase, detail=True).to_json()))
    page = render_page(data, now=ctx.now, commit_url=commit_url, cache_from=ws.root)
    size = len(page.encode("utf-8"))
    if out == "-":
        return ReportDocument(len(data.phases), size, "-", page)
    path = Path(ctx.cwd) / (out or DEFAULT_OUT)
    write_atomic(path, page)
    return ReportDocument(len(data.phases), size, str(path))


def render_page(
    data: StatusDocument, *, now: datetime, commit_url: str | None, cache_from: Path | None = None
) -> str:
    def link(sha: str | None) -> str | None:
        """A commit's page, only for what is a commit id (a forged record's text could be anything)."""
        if not commit_url or not sha or not _SHA.fullmatch(sha):
            return None
        return commit_url.replace("{sha}", quote(sha, safe=""))

    phases = sorted(data.phases, key=needs_first)
    counts = {s: sum(1 for p in phases if p.state == s) for s in NEEDS_FIRST}
    workspace_problems = data.problems or ()
    return render_html(
        "html/report.html.j2",
        cache_from=cache_from,
        workspace=data.workspace,
        generated=timefmt.iso(now),
        phases=phases,
        counts={s: n for s, n in counts.items() if n},
        workspace_problems=workspace_problems,
        problems=len(workspace_problems) + sum(len(p.problems) for p in phases),
        pending=sum(len(p.detail.messages) for p in phases if p.detail),
        anchor=_anchor,
        passed=lambda p: sum(1 for m in p.milestones if m.state == "passed"),
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


def _anchor(name: str, index: int, within: str = "") -> str:
    """A phase's anchor (`phase-px-0`), or a milestone's within its phase's."""
    return f"{within}-{_slug(name)}-{index}" if within else f"phase-{_slug(name)}-{index}"
