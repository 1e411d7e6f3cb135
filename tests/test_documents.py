"""documents/: what a service returns reads back from its JSON as the same document (the status
memo and the report's redacted copy rely on it), and the JSON carries no schema_version of its
own: the output boundary adds it, once, first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fastbooks import build

from loopkit.commands import document
from loopkit.documents.status import StatusDocument
from loopkit.services.context import Context
from loopkit.services.view import check, read_status


def test_status_with_and_without_detail_reads_back_from_its_json(tmp_path: Path) -> None:
    import loopkit.documents.next  # noqa: F401 - once imported, `next` is a name of the package

    ws = build(tmp_path / "repo", 11)  # one phase of every scenario, and one more
    ctx = Context(cwd=ws, environ={**os.environ, "LOOPKIT_NO_CACHE": "1"})
    for detail in (False, True):
        doc = read_status(ctx, phase=None, detail=detail)
        data = doc.to_json()
        assert ("problems" in data) is detail
        assert all(("timeline" in m) is detail for p in data["phases"] for m in p["milestones"])
        again = StatusDocument.from_json(data)
        assert again.to_json() == data
        assert [p.phase for p in again.phases] == [p.phase for p in doc.phases]
        assert "schema_version" not in data
    shown = document(None, check(ctx, phase=None))
    assert list(shown)[:2] == ["schema_version", "ok"] and shown["schema_version"] == 1
