"""Pure pieces: names, clock, globs, config validation, commit-body neutralising, the rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopkit import names, timefmt
from loopkit.config import load_config, load_phase
from loopkit.errors import BadInput
from loopkit.globs import match
from loopkit.markdown.status import parse_status
from loopkit.model import Config, Identity, Milestone, Origin, PhaseSpec, ProbeRecord
from loopkit.services.context import neutralise
from loopkit.state import GitFacts, done_gate, evidence_is_stale, milestone_views


@pytest.mark.parametrize("bad", ["../x", "a/b", "A", "x..y", "-x", "", "a" * 65, "a b"])
def test_bad_phase_names(bad: str) -> None:
    with pytest.raises(BadInput):
        names.phase(bad)


@pytest.mark.parametrize("good", ["pxgate", "p1.2_x-y", "a" * 64])
def test_good_phase_names(good: str) -> None:
    assert names.phase(good) == good


def test_now_is_fixed_by_loopkit_now() -> None:
    assert timefmt.iso(timefmt.now("2026-06-13T13:44:00Z")) == "2026-06-13T13:44:00Z"
    with pytest.raises(BadInput):
        timefmt.now("yesterday")


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("runner/warm_reconcile.py", "runner/warm_reconcile.py", True),
        ("runner/", "runner/a/b.py", True),
        ("*.py", "deep/x.py", True),
        ("/src/*.py", "src/a/b.py", False),
        ("src/**", "src/a/b.py", True),
        ("src/**/*.py", "src/a/b.py", True),
        ("docs", "docs2/x", False),
    ],
)
def test_globs(pattern: str, path: str, hit: bool) -> None:
    assert match(pattern, path) is hit


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "loopkit.toml"
    path.write_text("[probe]\ntimeout = -1\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"probe: timeout"):
        load_config(path)
    path.write_text("[files\n", encoding="utf-8")
    with pytest.raises(BadInput, match="invalid TOML"):
        load_config(path)
    spec = tmp_path / "px.toml"
    spec.write_text('[[milestones]]\nid = "../m"\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"milestones\[0\]: id"):
        load_phase(spec, expected="px")
    spec.write_text(
        '[[milestones]]\nid = "M1"\n[[milestones.probes]]\nid = "P"\nrun = "x"\nobserve = "regex:(a)(b)"\n'
    )
    with pytest.raises(BadInput, match="observe"):
        load_phase(spec, expected="px")


def test_defaults_when_keys_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "loopkit.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(path) == Config()


def _trailers(message: str) -> str:
    return subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True, check=True
    ).stdout


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-# \nBREAKING CHANGEfix")), max_size=80))
def test_body_never_hides_trailers(body: str) -> None:
    message = f"subject\n\n{neutralise(body)}\n\nLoopkit-Phase: px\nLoopkit-Action: verdict\n"
    assert _trailers(message) == "Loopkit-Phase: px\nLoopkit-Action: verdict\n"


def test_body_with_the_classic_traps() -> None:
    body = "fix: a thing\n---\nBREAKING CHANGE: all\nSigned-off-by: x <x@y>"
    message = f"subject\n\n{neutralise(body)}\n\nLoopkit-Phase: px\n"
    assert _trailers(message) == "Loopkit-Phase: px\n"


CONFIG = Config()
ADV = CONFIG.identities["adversary"]
BUILDER = CONFIG.identities["builder"]


def _origin(sha: str, who: Identity, **trailers: str) -> Origin:
    return Origin(
        sha=sha, author=who, committer=who, trailers={k.replace("_", "-"): v for k, v in trailers.items()}
    )


STATUS = """# STATUS — phase px

## M1 — one

- **CLAIM** M1 @2026-06-13T12:55:00Z by builder · head aaaaaaa
- **PASS** M1 @2026-06-13T13:00:00Z by adversary · claim ccccccc
"""


def test_genuine_and_forged_verdicts() -> None:
    doc = parse_status(STATUS)
    spec = PhaseSpec("px", "t", None, (Milestone("M1", "one"),))
    claim = _origin("c" * 7, BUILDER, Loopkit_Action="claim", Loopkit_Milestone="M1")
    good = _origin("d" * 7, ADV, Loopkit_Action="verdict", Loopkit_Milestone="M1", Loopkit_Verdict="PASS")
    forged_author = _origin("e" * 7, Identity("adversary", ADV.email), Loopkit_Action="verdict")
    origins = [None] * 4 + [claim, good]
    views = milestone_views(doc, spec, origins, {}, CONFIG)
    assert views["M1"].state == "passed" and not views["M1"].forged
    origins[5] = forged_author
    views = milestone_views(doc, spec, origins, {}, CONFIG)
    assert views["M1"].state == "claimed" and views["M1"].forged
    origins[5] = None  # typed, never committed
    views = milestone_views(doc, spec, origins, {}, CONFIG)
    assert views["M1"].verdict is None
    facts = GitFacts(head="f" * 40, dirty_outside=[], changed=lambda a, b: [], inside=lambda p: True)
    unmet = done_gate(
        spec=spec, doc=doc, views=views, facts=facts, builder_inbox=[], phase="px", status_file="S"
    )
    # a forged record counts as none: it neither satisfies nor blocks; the gate says why M1 has none
    assert [i.code for i in unmet] == ["no-verdict"] and "forged-verdict" in unmet[0].message


def test_staleness_rule() -> None:
    record = ProbeRecord(
        "px", "M1", "P1", "t", "c", "exit", "0", 0, (), (), None, "PASS", 0.1, "x", "a" * 40, False, "", ""
    )
    inside = lambda p: p.startswith("docs/")
    assert not evidence_is_stale(record, head="a" * 40, changed=lambda a, b: [], inside=inside)
    assert not evidence_is_stale(record, head="b" * 40, changed=lambda a, b: ["docs/x.md"], inside=inside)
    assert evidence_is_stale(record, head="b" * 40, changed=lambda a, b: ["src/x.py"], inside=inside)
    assert evidence_is_stale(record, head="b" * 40, changed=lambda a, b: None, inside=inside)
    from dataclasses import replace

    assert evidence_is_stale(
        replace(record, dirty=True), head="a" * 40, changed=lambda a, b: [], inside=inside
    )


# timefmt reads its own formats by hand (strptime costs every start _strptime, calendar, locale):
# pinned to strptime on the formats it replaces, and on near misses
_STAMP_PARTS = st.tuples(
    st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
    st.integers(0, 61), st.integers(0, 999999), st.sampled_from(["s", "m", "f"]),
)  # fmt: skip


@settings(max_examples=300)
@given(_STAMP_PARTS, st.sampled_from(["", " ", "z", "x"]))
def test_parse_iso_reads_what_strptime_read(parts: tuple[int, ...], junk: str) -> None:
    from datetime import UTC, datetime

    y, mo, d, h, mi, s, f, shape = parts
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}"
    text += {"s": f":{s:02d}Z", "m": "Z", "f": f":{s:02d}.{f:06d}Z"}[str(shape)] + junk
    expected = None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            expected = datetime.strptime(text, fmt).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    assert timefmt.parse_iso(text) == expected


def test_a_verdict_binds_by_claim_id_across_a_rewrite_unless_it_names_another_claims_commit() -> None:
    """SPEC 7: the binding is by id, so a rewrite of pushed history (the claim's commit renamed)
    keeps it; SPEC 3: a verdict naming the commit of another claim binds to that one."""
    from loopkit.model.status import StatusRecord
    from loopkit.state import Genuine, MilestoneView

    def rec(kind: str, line: int, **kw: str) -> StatusRecord:
        return StatusRecord(
            kind,
            "M1",
            "2026-06-13T13:44:00Z",
            "x",
            kw.get("ref"),
            "",
            line,
            f"r{line}",
            id=kw.get("id"),
            claim_id=kw.get("claim_id"),
        )  # type: ignore[arg-type]

    old = Genuine(rec("CLAIM", 1, id="k1"), _origin("a" * 40, BUILDER), 0)
    new = Genuine(rec("CLAIM", 2, id="k2"), _origin("b" * 40, BUILDER), 1)
    rewritten = Genuine(rec("PASS", 3, ref="f" * 40, claim_id="k2"), _origin("c" * 40, ADV), 2)
    view = MilestoneView("M1", "one", claims=[old, new], verdicts=[rewritten])
    assert view.current is rewritten  # the commit it names is gone: the id binds
    elsewhere = Genuine(rec("PASS", 3, ref="a" * 40, claim_id="k2"), _origin("c" * 40, ADV), 2)
    view = MilestoneView("M1", "one", claims=[old, new], verdicts=[elsewhere])
    assert view.current is None  # it names the commit of the other claim
