"""The record layer: one module per file kind (status, journal, inbox, archive), pure text in and
text out (no cwd, environment, role, clock or file), so the writers and the merge driver share one
definition of a record.

One rule for rendering: the caller renders a record through the templates (`loopkit.render`, which
needs the workspace for its overrides) and hands the rendered text in; the record module places it,
then parses the new text back and checks that every old record is still there and the new one is
added (mdformat's check), raising `BadInput` otherwise, so that nothing unreadable is written.
Each module's `spans` is the identity the merge driver (`merge.py`) unions records by.
"""

from __future__ import annotations

# (start, end, key, section) of one record, 0-based lines, end exclusive; key None means "the
# record's bytes are its identity"; section: the STATUS section it sits in
Span = tuple[int, int, str | None, str | None]
