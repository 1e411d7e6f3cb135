"""Each shortcut pinned to the slow path it replaces (DESIGN: a fast path is pinned to its slow path).

- provenance: `Repo.origins` (blame porcelain, identities from the commit objects) names, line by
  line, the commit `git blame -l` names, on generated histories with duplicate lines, deletions,
  reverts and merges;
- appends: the journal append that parses from the remembered anchor gives exactly what the same
  append gives after one full parse (no anchor), whatever was typed after the anchor.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loopkit.errors import BadInput
from loopkit.gitrepo import Repo as GitRepo
from loopkit.markdown.journal import parse_journal
from loopkit.model import ProbeRecord
from loopkit.records.journal import key as _key
from loopkit.render import render
from loopkit.services.context import Context
from loopkit.services.journals import append_entry
from loopkit.services.probes import render_evidence

LINES = st.sampled_from(
    ["alpha", "beta", "alpha", "- **PASS** M1 @2026-06-13T13:44Z by adversary", "", "gamma"]
)
STEP = st.one_of(
    st.tuples(st.just("add"), st.lists(LINES, min_size=1, max_size=3)),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("revert"), st.integers(0, 20)),
    st.tuples(st.just("branch"), st.lists(LINES, min_size=1, max_size=2)),
)


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout


def _commit(root: Path, n: int) -> None:
    who = ("alice", "bob", "carol")[n % 3]
    env = {"GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@x.invalid"}
    _git(root, "commit", "-qam", f"step {n}", "--allow-empty", env=env)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(STEP, min_size=1, max_size=8), st.booleans())
def test_origins_name_the_commit_git_blame_names(steps: list[tuple[str, object]], typed: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _git(root, "init", "-q", "-b", "main")
        path = root / "STATUS.md"
        path.write_text("# STATUS\n", "utf-8")
        _git(root, "add", ".")
        _commit(root, 0)
        root_sha = _git(root, "rev-parse", "HEAD").strip()
        for n, (kind, arg) in enumerate(steps, start=1):
            lines = path.read_text("utf-8").split("\n")
            if kind == "add":
                path.write_text("\n".join(lines[:-1] + list(arg) + [""]), "utf-8")  # type: ignore[arg-type]
                _commit(root, n)
            elif kind == "drop" and len(lines) > 2:
                del lines[1 + int(arg) % (len(lines) - 2)]  # type: ignore[call-overload]
                path.write_text("\n".join(lines), "utf-8")
                _commit(root, n)
            elif kind == "revert":
                # never the root (rev-list's order need not put it last when commits share a second)
                shas = _git(root, "rev-list", "--no-merges", "HEAD", "--not", root_sha).split()
                if not shas:
                    continue
                target = shas[int(arg) % len(shas)]  # type: ignore[call-overload]
                if subprocess.run(
                    ["git", "revert", "--no-edit", target], cwd=root, capture_output=True
                ).returncode:
                    subprocess.run(["git", "revert", "--abort"], cwd=root, capture_output=True)
                    subprocess.run(["git", "reset", "-q", "--hard"], cwd=root, capture_output=True)
            elif kind == "branch":
                _git(root, "checkout", "-q", "-b", f"side{n}")
                path.write_text(path.read_text("utf-8") + "\n".join(arg) + "\n", "utf-8")  # type: ignore[arg-type]
                _commit(root, n)
                _git(root, "checkout", "-q", "main")
                _git(root, "merge", "-q", "--no-ff", "--no-edit", f"side{n}")
        if typed:
            path.write_text(path.read_text("utf-8") + "typed, not committed\nalpha\n", "utf-8")
        ours = [o.sha if o else None for o in GitRepo(root).origins(["STATUS.md"])["STATUS.md"]]
        blamed = _git(root, "blame", "--root", "-l", "-s", "--", "STATUS.md").splitlines()
        theirs = [None if set(line.split()[0]) == {"0"} else line.split()[0] for line in blamed]
        assert ours == theirs
        # identities come from the commit objects: a .mailmap in the work tree renames no one
        (root / ".mailmap").write_text("adversary <adversary@x.invalid> alice <alice@x.invalid>\n", "utf-8")
        emails = {o.author.email for o in GitRepo(root).origins(["STATUS.md"])["STATUS.md"] if o}
        assert "adversary@x.invalid" not in emails


NOW_AT = "2026-06-15T09:00:00Z"


def _phase_px(root: Path) -> Path:
    """A repository with a workspace at its root and phase px open; its builder journal's path."""
    _git(root, "init", "-q", "-b", "main")
    (root / "loopkit.toml").write_text(render("loopkit.toml.j2"), "utf-8")
    (root / "STATUS-px.md").write_text("# STATUS — phase px\n", "utf-8")
    return root / "JOURNAL-px.md"


FILLER = "".join(
    f"## 2026-06-13T{h:02d}:{m:02d}Z — entry {h}{m}\n\n{'words ' * 60}\n\n"
    for h in range(24)
    for m in range(0, 60, 4)
)
TAILS = st.lists(
    st.sampled_from(
        [
            "typed by hand\n",
            "## 2026-06-14T10:00Z — a hand entry\n\nbody\n",
            "```\nopen fence\n",
            "```\n",
            "~~~~\n## 2026-06-14T11:00Z — inside a fence\n~~~~\n",
            "> quoted\n> ## not a heading\n",
            "\n",
            "### 12:00 UTC — time only\n",
        ]
    ),
    max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(TAILS)
def test_append_from_the_anchor_equals_append_after_a_full_parse(tail: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        journal = _phase_px(root)
        journal.write_text("# JOURNAL — phase px (Builder)\n\n" + FILLER, "utf-8")
        assert len(journal.read_bytes()) > 65536  # the anchor is used above 64 KiB
        ctx = Context(cwd=root, environ={"LOOPKIT_ROLE": "builder", "LOOPKIT_NOW": "2026-06-15T09:00:00Z"})
        first = "## 2026-06-15T09:00Z — first\n\nfrom loopkit\n"
        _, text, _ = append_entry(ctx, phase="px", role="builder", block=first)  # remembers the anchor
        journal.write_text(text + "".join(tail), "utf-8")
        block = "## 2026-06-15T09:01Z — second\n\nfrom loopkit again\n"

        def append() -> tuple[str, int] | str:
            try:
                _, new, line = append_entry(ctx, phase="px", role="builder", block=block)
            except BadInput as exc:
                return exc.message
            return new, line

        anchored = append()
        _forget_anchors(ctx)
        assert anchored == append()


# -- appends without a parse: a clean end and a simple block (services/journals.py) --------------
TEXTS = st.lists(st.sampled_from([*"ab `~<>-!#*\n\\—→\r", "```", "-->", "<!--"]), max_size=12).map("".join)
RECORDS = st.builds(
    lambda command, observed, title, result, probe: ProbeRecord(
        phase="px", milestone="M1", probe=probe, title=title, command=command, observe="stdout",
        observed=observed, exit=0, expect=(), expect_not=(), expect_exit=None, result=result,
        duration=0.01, at="2026-06-15T09:02:00Z", head=None, dirty=False, stdout=observed, stderr="",
    ),
    TEXTS, TEXTS, TEXTS, st.sampled_from(["PASS", "FAIL"]), st.sampled_from(["P1", "P-2", "x"]),
)  # fmt: skip
HAND_BLOCKS = st.sampled_from(
    [
        "## 2026-06-15T09:01Z — typed\n\nfree prose after it\n",
        "## 2026-06-15T09:01Z\n\n",  # untitled: a following heading could become its title
        "## 2026-06-15T09:01Z — fence\n\n```\nnever closed\n",
        "## 2026-06-15T09:01Z — early close\n\n````\n```\n````\n",
        "## 2026-06-15T09:01Z — fake close\n\n````\n  ````  \nstill code\n````\n",
        "## 2026-06-15T09:01Z — comment\n\n<!-- a --> b -->\n",
        "## 2026-06-15T09:01Z — comment\n\n<!-- fine -->\n\n```\nok\n```\n",
        "## 2026-06-15T09:01Z — two\n\n## 2026-06-15T09:02Z — entries\n",
        "## 2026-06-15T09:01Z — html\n\n<div>\n",
        "## 12:00 UTC — time only\n\n```\nx\n```\n",
        "## 2026-06-15T09:01Z — setext\n\ntext\n---\n",
        "## Notes\n\nan undated heading: what is below it takes the date from above\n",
        "## 2026-02-30T09:01Z — no such day\n\n",  # reads as no time: not what loopkit writes
    ]
)


# Found by hypothesis (stop 17): with nothing remembered, the parse started at the last top-level
# heading, the typed `### 12:00 UTC`, where the reader knows no date; the whole file reads the new
# `## 12:00 UTC` entry as 2026-06-15T12:00Z, not as the block alone reads it, so it is refused
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@example(
    big=True,
    first="## 2026-06-15T09:01Z — typed\n\nfree prose after it\n",
    typed=["### 12:00 UTC — time only\n"],
    then=["## 12:00 UTC — time only\n\n```\nx\n```\n"],
    crlf=False,
)
# an anchor on a heading that takes the date from above (or reads as no time) would read the next
# `## 12:00 UTC` entry as undated, where the whole file dates it: such an anchor is forgotten
@example(
    big=True,
    first="## Notes\n\nan undated heading: what is below it takes the date from above\n",
    typed=[],
    then=["## 12:00 UTC — time only\n\n```\nx\n```\n"],
    crlf=False,
)
@example(
    big=True,
    first="## 2026-02-30T09:01Z — no such day\n\n",
    typed=[],
    then=["## 12:00 UTC — time only\n\n```\nx\n```\n"],
    crlf=False,
)
@given(
    big=st.booleans(),
    first=st.one_of(RECORDS, HAND_BLOCKS),
    typed=st.one_of(st.just([]), TAILS),
    then=st.lists(st.one_of(RECORDS, HAND_BLOCKS), min_size=1, max_size=3),
    crlf=st.booleans(),
)
def test_an_append_without_a_parse_equals_the_checked_append(
    big: bool, first: ProbeRecord | str, typed: list[str], then: list[ProbeRecord | str], crlf: bool
) -> None:
    """`simple_block` and the remembered clean end let an evidence append skip markdown-it: the
    text, line and refusals must be those of the full check, whatever came before or was typed."""
    import tempfile

    def block_of(item: ProbeRecord | str) -> str:
        return item if isinstance(item, str) else render_evidence(item)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        journal = _phase_px(root)
        start = "# JOURNAL — phase px (Builder)\n\n" + (FILLER if big else "")
        journal.write_bytes((start.replace("\n", "\r\n") if crlf else start).encode())
        ctx = Context(cwd=root, environ={"LOOPKIT_ROLE": "builder", "LOOPKIT_NOW": "2026-06-15T09:00:00Z"})

        def append(block: str, text: str | None = None) -> tuple[str, int] | str:
            try:
                _, new, line = append_entry(ctx, phase="px", role="builder", block=block, text=text)
            except BadInput as exc:
                return exc.message
            return new, line

        done = append(block_of(first))
        if isinstance(done, str):
            return
        journal.write_bytes((done[0] + "".join(typed)).encode())
        for item in then:
            block = block_of(item)
            quick = append(block)  # from the remembered anchor: no parse when the end is clean
            remembered = dict(ctx.index.kind("anchors"))
            _forget_anchors(ctx)
            full = append(block)  # nothing remembered: the full check
            assert quick == full
            if isinstance(quick, str):
                return  # refused both ways, and nothing written
            # and both read as the whole file reads: the old entries, then the block's own
            old = journal.read_bytes().decode()
            whole = parse_journal(quick[0]).entries
            assert [_key(e) for e in whole] == [_key(e) for e in parse_journal(old).entries] + [
                _key(e) for e in parse_journal(block).entries
            ]
            assert whole[-1].line == quick[1]
            assert remembered == ctx.index.kind("anchors")
            journal.write_bytes(quick[0].encode())


@pytest.mark.parametrize(
    "retyped", ["### 12:00 UTC — retimed by hand", "## Notes", "## 2026-02-30T09:01Z — no such day"]
)
def test_an_anchor_whose_heading_was_retyped_is_not_parsed_from(tmp_path: Path, retyped: str) -> None:
    """The anchor's checksum covers the text before it; a hand edit of the heading it stands on
    makes it one the reader does not restart at, and the append must read as the whole file."""
    from loopkit.services.journals import append_in_place

    journal = _phase_px(tmp_path)
    journal.write_text("# JOURNAL — phase px (Builder)\n\n" + FILLER, "utf-8")
    ctx = Context(cwd=tmp_path, environ={"LOOPKIT_ROLE": "builder", "LOOPKIT_NOW": NOW_AT})
    heading = "## 2026-06-15T09:00Z — first"
    _, text, _ = append_entry(ctx, phase="px", role="builder", block=heading + "\n\nfrom loopkit\n")
    journal.write_text(text.replace(heading, retyped), "utf-8")
    block = "## 13:00 UTC — a time of the day above\n\nx\n"
    assert append_in_place(ctx, phase="px", role="builder", block=block) is None  # the whole text decides
    with pytest.raises(BadInput, match="would not read back as one entry"):
        append_entry(ctx, phase="px", role="builder", block=block)


def _forget_anchors(ctx: Context) -> None:
    """Nothing remembered: the index's anchors gone from disk and from this command's memory."""
    ctx.index.put("anchors", {})
    ctx.index.save()
