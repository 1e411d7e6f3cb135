"""Text templates rendered without importing jinja2, when a precompiled form is fresh (issue 14).

runtime.py: what jinja2's generated code needs; adapt.py: the whitelist that checks it;
entries.py: the entries in .git/loopkit/jinja and what each depends on.

When jinja2 renders a text template (render.py, the slow path), render.py hands its generated Python
source here. `adapt` accepts it only when every construct in it is on a short whitelist that the
tiny runtime below implements exactly as jinja2 does (StrictUndefined, `is defined`, getattr and
getitem, `~`, for-loops without `loop`, a few filters); anything else (include, macros, `set`,
`loop`, other filters, globals) is stored as "not precompiled" and always goes through jinja2.

The entry is kept in `.git/loopkit/jinja/` with everything it depends on, compared exactly on
every load: the template's bytes and which file they came from (an override appearing or
disappearing changes the file), the jinja2 installation (where `import jinja2` would find it, and
the stat of its compiler, runtime and filters), loopkit's options and filters (the stat of render.py
and of this file), and the Python version (the entry holds a marshalled code object). Any doubt:
the caller renders through jinja2, byte for byte as before, and stores a new entry.

This module never imports jinja2 (ruff's banned-api rule holds it to that); it holds code only,
never a rendered value.
"""

from loopkit.precompiled.adapt import adapt
from loopkit.precompiled.entries import Source, load, locate, stamp, store
from loopkit.precompiled.runtime import FILTERS, TESTS, Entry, Shape

__all__ = ["FILTERS", "TESTS", "Entry", "Shape", "Source", "adapt", "load", "locate", "stamp", "store"]
