"""Frozen records that flow between the parsers, the rules and the writers. No I/O here.

One module per kind of record: config (loopkit.toml and the phase specs, with the git identities),
journal (entries and their evidence), status (a STATUS file's records), inbox (a message), git (the
commit that added a line) and warning (what a parser warns of). Building a frozen dataclass costs
about half a millisecond at import, so a command imports only the modules it uses (issue 14); the
names stay importable from here too, each loaded with its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

ROLES = ("builder", "adversary", "orchestrator")
SCHEMA_VERSION = 1  # SPEC section 4: first in every `--json` document and in each evidence record
Role = Literal["builder", "adversary", "orchestrator"]
Result = Literal["PASS", "FAIL", "ERROR"]

if TYPE_CHECKING:
    from loopkit.model.config import Config, Identity, Limits, Milestone, PhaseSpec, ProbeSpec
    from loopkit.model.git import Origin
    from loopkit.model.inbox import Message
    from loopkit.model.journal import Evidence, EvidenceKind, FreeEvidence, Journal, JournalEntry, ProbeRecord
    from loopkit.model.status import RecordKind, StatusDoc, StatusRecord, StatusSection
    from loopkit.model.warning import ParseWarning

# where each record lives; tests/test_hot_path.py checks it against __all__ and the modules
_HOMES = {
    "Config": "config",
    "Identity": "config",
    "Limits": "config",
    "Milestone": "config",
    "PhaseSpec": "config",
    "ProbeSpec": "config",
    "Origin": "git",
    "Message": "inbox",
    "Evidence": "journal",
    "EvidenceKind": "journal",
    "FreeEvidence": "journal",
    "Journal": "journal",
    "JournalEntry": "journal",
    "ProbeRecord": "journal",
    "RecordKind": "status",
    "StatusDoc": "status",
    "StatusRecord": "status",
    "StatusSection": "status",
    "ParseWarning": "warning",
}

__all__ = [
    "ROLES",
    "Config",
    "Evidence",
    "EvidenceKind",
    "FreeEvidence",
    "Identity",
    "Journal",
    "JournalEntry",
    "Limits",
    "Message",
    "Milestone",
    "Origin",
    "ParseWarning",
    "PhaseSpec",
    "ProbeRecord",
    "ProbeSpec",
    "RecordKind",
    "Result",
    "Role",
    "StatusDoc",
    "StatusRecord",
    "StatusSection",
]


def __getattr__(name: str) -> Any:
    # `from loopkit.model import X` builds only X's module, not every record (see the docstring)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
