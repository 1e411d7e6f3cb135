"""The human renderer of each table command (commands.py names them): `(document, arguments) ->
text` for stdout; a few also write a note to stderr. Imported only when text is printed."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopkit.cli.text import _committed, _journal_text, _message_text, _record_text

if TYPE_CHECKING:  # annotations only: a command imports the documents it builds, not every command's
    from loopkit.documents.inbox import Consumed, Messages, Sent, Waited
    from loopkit.documents.journal import JournalAdded, JournalDocument
    from loopkit.documents.loop import Claimed, DoneDocument, GateDocument, Instructed, Verdicted
    from loopkit.documents.next import NextDocument
    from loopkit.documents.phases import PhaseList, PhaseOpened, SpecCommitted
    from loopkit.documents.probes import EvidenceDocument, ProbeRun, RecordWritten
    from loopkit.documents.status import CheckDocument, Problem, StatusDocument
    from loopkit.documents.sync import Synced

Args = Mapping[str, Any]


def phase_new(d: PhaseOpened, a: Args) -> str:
    return _committed(f"opened {d.phase}: {d.title}", d.commit)


def phase_update(d: SpecCommitted, a: Args) -> str:
    if d.commit:
        return f"spec of {d.phase} committed [{d.commit[:10]}]"
    return f"spec of {d.phase} unchanged: the orchestrator's version already"


def phase_list(d: PhaseList, a: Args) -> str:
    words = ["done" if p.done else "open" if p.status else "planned" for p in d.phases]
    return "\n".join(f"{p.phase:<24} {w:<8} {p.title}" for p, w in zip(d.phases, words, strict=True))


def journal_add(d: JournalAdded, a: Args) -> str:
    return _committed(f"{d.file}:{d.line}: {d.title}", d.commit)


def journal_show(d: JournalDocument, a: Args) -> str:
    return _journal_text(d)


journal_parse = journal_show


def probe_record(d: RecordWritten, a: Args) -> str:
    return _record_text(d.record)


def probe_run(d: ProbeRun, a: Args) -> str:
    return "\n".join(_record_text(r.record) for r in d.records)


def evidence(d: EvidenceDocument, a: Args) -> str:
    out = []
    for m in d.milestones:
        errors = [p for p in m.failing if p in m.latest and m.latest[p].result == "ERROR"]
        groups = {
            "passing": m.passing,
            "failing": tuple(p for p in m.failing if p not in errors),
            "error": tuple(errors),
            "missing": m.missing,
            "stale": tuple(_stale(p, m.stale_paths.get(p)) for p in m.stale),
        }
        if m.flaky:  # [rules] replay: builder PASS, adversary FAIL at one code
            groups["flaky"] = m.flaky
        out.append(f"{m.id}: " + "; ".join(f"{key} {', '.join(v) or '-'}" for key, v in groups.items()))
    return "\n".join(out)


def _stale(probe: str, paths: tuple[str, ...] | None) -> str:
    """A stale probe and, when known, the paths that made it so: whose commit it was."""
    from loopkit.scope import few  # lazy: start-up stays light

    return f"{probe} ({few(list(paths))})" if paths else probe


def claim(d: Claimed, a: Args) -> str:
    from loopkit.services.loop import claim_words

    return claim_words(d)


def verdict(d: Verdicted, a: Args) -> str:
    return _committed(f"{d.milestone} {d.result}", d.commit)


def unmet(d: GateDocument, a: Args) -> str:
    if d.ok:
        return "gate met: DONE may be written"
    return "\n".join(f"unmet: {u.code}: {u.message}" for u in d.unmet)


def done(d: DoneDocument, a: Args) -> str:
    return _committed(f"{d.phase}: ## DONE", d.commit)


def instruct(d: Instructed, a: Args) -> str:
    milestone = a.get("milestone")
    what = f"instructions for {milestone}" if milestone else "instructions"
    return _committed(f"{d.file}: {what}", d.commit)


def message_id(d: Sent, a: Args) -> str:
    return d.message.id


def messages(d: Messages | Waited, a: Args) -> str:
    return "\n".join(_message_text(m) for m in d.messages)


def inbox_consume(d: Consumed, a: Args) -> str:
    return "\n\n".join(f"{_message_text(m)}\n{m.body}" for m in d.consumed) or "nothing to consume"


def waited(d: Waited, a: Args) -> str:
    if d.timed_out:
        sys.stderr.write(f"loopkit: nothing pending within {a['timeout']:g} s\n")
    return messages(d, a)


def status(d: StatusDocument, a: Args) -> str:
    from loopkit.cli.text import status_renderer

    return str(status_renderer(phase=a.get("phase"), stream=sys.stdout)(d))


def check(d: CheckDocument, a: Args) -> str:
    if d.ok:
        return "no problems"
    return "\n".join(f"{_where(p)}: {p.code}: {p.message}" for p in d.problems)


def _where(problem: Problem) -> str:
    """`file:line`, as compilers write it; the file (or phase) alone when no line is known."""
    place = problem.file or problem.phase or "workspace"
    return f"{place}:{problem.line}" if problem.line else place


def next(d: NextDocument, a: Args) -> str:  # the command's name
    out = []
    for action in d.actions:
        where = " ".join(x for x in (action.phase, action.milestone) if x) or "-"
        line = f"{where:<16} {action.action:<8} {action.command or '-'}"
        out.append(f"{line}\n{'':<26}{action.why}")
    return "\n".join(out)


def sync(d: Synced, a: Args) -> str:
    how = {
        "none": "nothing to integrate",
        "fast-forward": "fast-forwarded",
        "rebase": "rebased",
        "merge": "merged",
    }
    head = (d.head or "")[:10]
    return (
        f"{d.remote}/{d.branch}: {d.fetched} commit(s) in, {d.pushed} out; {how[d.integrated]}; HEAD {head}"
    )
