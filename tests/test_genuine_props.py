"""One provenance rule (issue 20, issue 24 item 2): over generated histories of STATUS records, no
record is ever both "counted as none" and `removed-record`, and every genuine record that history
wrote and the file lost is `removed-record`.

Pure data: a history is a list of steps, each adding one record line (a claim, PASS or FAIL, of M1
or M2, with a claim id from a small pool so ids repeat) by a commit whose author, trailers and
signature are drawn at random, or removing one line present. `milestone_views` judges every line
history ever wrote as if none had been removed; `removed_records` judges the lines removed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from loopkit.markdown.status import parse_status
from loopkit.model.config import Config, Identity, Milestone, PhaseSpec
from loopkit.model.git import Origin
from loopkit.signed import Signature
from loopkit.state import milestone_views, removed_records

ROLES = ("builder", "adversary", "orchestrator")
EMAIL = {r: f"{r}@loopkit.invalid" for r in ROLES}
SPEC = PhaseSpec("px", "t", None, (Milestone("M1", "one"), Milestone("M2", "two")))
IDS = [f"20260613T1344{n:02d}Z-buil-{n:012x}" for n in range(3)]


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for _ in range(draw(st.integers(1, 12))):
        if out and draw(st.booleans()) and draw(st.booleans()):
            out.append(("remove", str(draw(st.integers(0, 50)))))
            continue
        out.append(
            (
                "add",
                draw(st.sampled_from(["CLAIM", "PASS", "FAIL"])),
                draw(st.sampled_from(["M1", "M2"])),
                draw(st.sampled_from(IDS)),
                draw(st.sampled_from(ROLES)),  # the author
                draw(st.sampled_from(["right", "wrong-action", "wrong-milestone", "wrong-phase"])),
                draw(st.sampled_from(["good", "bad", "none", "missing", "other-key"])),
            )
        )
    return out


def _record_text(kind: str, mid: str, claim_id: str, n: int, claims: dict[str, str]) -> str:
    at = f"2026-06-13T13:{n % 60:02d}:00Z"
    if kind == "CLAIM":
        return f"**CLAIM** {mid} @{at} by builder · head {n:040x} · id {claim_id} — n{n}"
    sha = claims.get(claim_id, "f" * 40)
    return f"**{kind}** {mid} @{at} by adversary · claim {sha} · claim-id {claim_id} — n{n}"


def _origin(n: int, kind: str, mid: str, author: str, trailers: str) -> Origin:
    action = "claim" if kind == "CLAIM" else "verdict"
    found = {
        "Loopkit-Phase": "other" if trailers == "wrong-phase" else "px",
        "Loopkit-Action": "evidence" if trailers == "wrong-action" else action,
        "Loopkit-Milestone": "M9" if trailers == "wrong-milestone" else mid,
    }
    if action == "verdict":
        found["Loopkit-Verdict"] = kind
    who = Identity(author, EMAIL[author])
    return Origin(f"{n + 1:040x}", who, who, found)


def _signature(origin: Origin, how: str, role: str) -> Signature | None:
    if how == "missing":
        return None
    principal = EMAIL["builder" if how == "other-key" else role] if how in ("good", "other-key") else None
    return Signature("good" if how in ("good", "other-key") else how, principal, origin.author.email)  # type: ignore[arg-type]


def _text(lines: list[str]) -> str:
    sections = {"M1": [], "M2": []}  # type: dict[str, list[str]]
    for line in lines:
        sections["M1" if " M1 @" in line else "M2"].append(line)
    out = "# STATUS — phase px\n\n"
    for mid, records in sections.items():
        out += f"## {mid} — x\n\n" + "".join(f"- {r}\n" for r in records) + "\n"
    return out


def _origins(text: str, by_text: dict[str, Origin]) -> list[Origin | None]:
    return [by_text.get(line[2:]) if line.startswith("- ") else None for line in text.splitlines()]


@settings(max_examples=150, deadline=None)
@given(steps(), st.sampled_from([(), ("adversary",), ("builder",), ("adversary", "builder")]))
def test_no_record_is_both_counted_as_none_and_removed(
    history: list[tuple[str, ...]], signed: tuple[str, ...]
) -> None:
    config = Config(signed=signed)
    present: list[str] = []
    written: list[tuple[Origin, str]] = []  # oldest first here; removed_records takes newest first
    by_text: dict[str, Origin] = {}
    signatures: dict[str, Signature] = {}
    claims: dict[str, str] = {}  # claim id -> the commit of its first claim line
    for n, step in enumerate(history):
        if step[0] == "remove":
            if present:
                present.pop(int(step[1]) % len(present))
            continue
        _, kind, mid, claim_id, author, trailers, how = step
        text = _record_text(kind, mid, claim_id, n, claims)
        origin = _origin(n, kind, mid, author, trailers)
        if kind == "CLAIM":
            claims.setdefault(claim_id, origin.sha)
        role = "builder" if kind == "CLAIM" else "adversary"
        signature = _signature(origin, how, role)
        if signature is not None:
            signatures[origin.sha] = signature
        present.append(text)
        written.append((origin, "- " + text))
        by_text[text] = origin
    sigs = signatures if signed else None
    order = {origin.sha: i for i, (origin, _) in enumerate(written)}

    # every line history wrote, judged as if none had been removed
    every = _text([line[2:] for _, line in written])
    views = milestone_views(
        parse_status(every), SPEC, _origins(every, by_text), order, config, sigs, phase="px"
    )
    none = {g.record.text for v in views.values() for g in v.forged}
    none |= {u.item.record.text for v in views.values() for u in v.unsigned}
    counted = {g.record.text for v in views.values() for g in (*v.claims, *v.verdicts)}
    assert none.isdisjoint(counted)

    removed = set(removed_records(list(reversed(written)), _text(present), "px", config, sigs))
    assert removed.isdisjoint(none), removed & none
    assert removed == counted - set(present)


def test_a_record_line_edited_into_a_quote_is_removed() -> None:
    """A record is present by the identity the merge driver unions it by (its line), not by its
    text: a genuine FAIL whose line someone re-indents or quotes is blamed on that editor and counts
    as none, so unless it is `removed-record` an older PASS would count again."""
    claim = _record_text("CLAIM", "M1", IDS[0], 1, {})
    fail = _record_text("FAIL", "M1", IDS[0], 2, {IDS[0]: _origin(1, "CLAIM", "M1", "builder", "right").sha})
    written = [
        (_origin(2, "FAIL", "M1", "adversary", "right"), "- " + fail),
        (_origin(1, "CLAIM", "M1", "builder", "right"), "- " + claim),
    ]
    for edited in (f"> - {fail}", f"  - {fail}"):
        text = _text([claim]).replace("## M2", f"{edited}\n\n## M2")
        assert fail in {r.text for r in parse_status(text).records}  # it still parses as a record
        assert removed_records(written, text, "px", Config()) == [fail]
    assert removed_records(written, _text([claim, fail]), "px", Config()) == []
