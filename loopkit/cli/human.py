"""The human renderer of each table command (commands.py names them): `(document, arguments) ->
text` for stdout; a few also write a note to stderr. Imported only when text is printed."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from loopkit.cli.text import (
    _committed,
    _journal_text,
    _lines,
    _message_text,
    _phase_word,
    _record_text,
    _unmet_text,
)

Doc = dict[str, Any]
Args = Mapping[str, Any]


def phase_new(d: Doc, a: Args) -> str:
    return _committed("opened {phase}: {title}")(d)


def phase_update(d: Doc, a: Args) -> str:
    if d.get("commit"):
        return f"spec of {d['phase']} committed [{d['commit'][:10]}]"
    return f"spec of {d['phase']} unchanged: the orchestrator's version already"


def phase_list(d: Doc, a: Args) -> str:
    return _lines("phases", lambda p: f"{p['phase']:<24} {_phase_word(p):<8} {p['title']}")(d)


def journal_add(d: Doc, a: Args) -> str:
    return _committed("{file}:{line}: {title}")(d)


def journal_show(d: Doc, a: Args) -> str:
    return _journal_text(d)


journal_parse = journal_show


def probe_record(d: Doc, a: Args) -> str:
    return _record_text(d)


def probe_run(d: Doc, a: Args) -> str:
    return _lines("records", _record_text)(d)


def evidence(d: Doc, a: Args) -> str:
    out = []
    for m in d["milestones"]:
        errors = [p for p in m["failing"] if (m["latest"].get(p) or {}).get("result") == "ERROR"]
        groups = {
            "passing": m["passing"],
            "failing": [p for p in m["failing"] if p not in errors],
            "error": errors,
            "missing": m["missing"],
            "stale": [_stale(p, m.get("stale_paths", {}).get(p)) for p in m["stale"]],
        }
        if m.get("flaky"):  # [rules] replay: builder PASS, adversary FAIL at one code
            groups["flaky"] = m["flaky"]
        out.append(f"{m['id']}: " + "; ".join(f"{key} {', '.join(v) or '-'}" for key, v in groups.items()))
    return "\n".join(out)


def _stale(probe: str, paths: list[str] | None) -> str:
    """A stale probe and, when known, the paths that made it so: whose commit it was."""
    from loopkit.scope import few  # lazy: start-up stays light

    return f"{probe} ({few(paths)})" if paths else probe


def claim(d: Doc, a: Args) -> str:
    """Which id is which: `claimed M1 (code at 52694c1; claim commit 533832a)`."""
    from loopkit.services.loop import claim_words

    return claim_words(d)


def verdict(d: Doc, a: Args) -> str:
    return _committed("{milestone} {result}")(d)


def unmet(d: Doc, a: Args) -> str:
    return _unmet_text(d)


def done(d: Doc, a: Args) -> str:
    return _committed("{phase}: ## DONE")(d)


def instruct(d: Doc, a: Args) -> str:
    milestone = a.get("milestone")
    what = f"instructions for {milestone}" if milestone else "instructions"
    return _committed("{file}: " + what)(d)


def message_id(d: Doc, a: Args) -> str:
    return str(d["id"])


def messages(d: Doc, a: Args) -> str:
    return _lines("messages", _message_text)(d)


def inbox_consume(d: Doc, a: Args) -> str:
    return "\n\n".join(f"{_message_text(m)}\n{m['body']}" for m in d["consumed"]) or "nothing to consume"


def waited(d: Doc, a: Args) -> str:
    if d["timed_out"]:
        sys.stderr.write(f"loopkit: nothing pending within {a['timeout']:g} s\n")
    return messages(d, a)


def status(d: Doc, a: Args) -> str:
    from loopkit.cli.text import status_renderer

    return str(status_renderer(phase=a.get("phase"), stream=sys.stdout)(d))


def check(d: Doc, a: Args) -> str:
    if d["ok"]:
        return "no problems"
    return "\n".join(f"{_where(p)}: {p['code']}: {p['message']}" for p in d["problems"])


def _where(problem: Mapping[str, Any]) -> str:
    """`file:line`, as compilers write it; the file (or phase) alone when no line is known."""
    place = problem["file"] or problem["phase"] or "workspace"
    return f"{place}:{problem['line']}" if problem["line"] else place


def next(d: Doc, a: Args) -> str:  # the command's name
    out = []
    for action in d["actions"]:
        where = " ".join(x for x in (action["phase"], action["milestone"]) if x) or "-"
        line = f"{where:<16} {action['action']:<8} {action['command'] or '-'}"
        out.append(f"{line}\n{'':<26}{action['why']}")
    return "\n".join(out)


def sync(d: Doc, a: Args) -> str:
    how = {
        "none": "nothing to integrate",
        "fast-forward": "fast-forwarded",
        "rebase": "rebased",
        "merge": "merged",
    }
    head = (d["head"] or "")[:10]
    return (
        f"{d['remote']}/{d['branch']}: {d['fetched']} commit(s) in, {d['pushed']} out; "
        f"{how[d['integrated']]}; HEAD {head}"
    )
