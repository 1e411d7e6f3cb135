"""Workspaces with many phases in every state, built in a second or two.

Running loopkit's commands for 200 phases takes minutes, so this writes the same files and the same
commits directly: every text comes from loopkit's own templates and renderers, every commit message
from `Context.commit_message`, each record in a commit of its own authored as its role, all through
one `git fast-import` (asked for each commit's id as it goes, since verdicts name their claims).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopkit import timefmt
from loopkit.markdown.inbox import encode
from loopkit.markdown.status import parse_status
from loopkit.model import Message, ProbeRecord
from loopkit.render import oneline, render
from loopkit.services.context import Context
from loopkit.services.inbox import quote
from loopkit.services.probes import render_evidence
from loopkit.trust import blob_id

NOW = datetime(2026, 6, 13, 13, 44)
# Each phase plays one of these, in turn: together they reach every state and the common problems.
SCENARIOS = (
    "planned",
    "started",
    "claimed",
    "failed",
    "ready",
    "done",
    "stale",
    "second-claimed",
    "mail",
    "forged",
)
WORDS = (
    "health gate",
    "proxy",
    "rollback",
    "dashboard",
    "backup bot",
    "registry",
    "alerts",
    "sweep",
    "bridge",
    "keycloak",
)


@dataclass
class Importer:
    """One `git fast-import` process, fed commit by commit; `commit` returns the new commit's id."""

    root: Path
    files: dict[str, str] = field(default_factory=dict)
    mark: int = 0
    head: str | None = None

    def __post_init__(self) -> None:
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
        )

    def _send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def commit(self, writes: dict[str, str], *, who: tuple[str, str], at: datetime, message: str) -> str:
        self.mark += 1
        stamp = f"{int(at.replace(tzinfo=None).timestamp() - _epoch_offset())} +0000"
        ident = f"{who[0]} <{who[1]}> {stamp}".encode()
        body = message.encode()
        out = [b"commit refs/heads/main\n", f"mark :{self.mark}\n".encode()]
        out += [b"author " + ident + b"\n", b"committer " + ident + b"\n"]
        out += [f"data {len(body)}\n".encode(), body, b"\n"]
        if self.mark > 1:
            out.append(f"from :{self.mark - 1}\n".encode())
        for path, text in writes.items():
            data = text.encode()
            out += [f"M 100644 inline {path}\n".encode(), f"data {len(data)}\n".encode(), data, b"\n"]
            self.files[path] = text
        out.append(f"get-mark :{self.mark}\n".encode())
        self._send(b"".join(out))
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.flush()
        self.head = self.proc.stdout.readline().decode().strip()
        assert len(self.head) == 40, self.head
        return self.head

    def close(self) -> None:
        self._send(b"done\n")
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait() == 0
        subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=self.root, check=True)


def _epoch_offset() -> float:
    """Naive datetimes are UTC here; timestamp() would read them as local time."""
    return datetime(1970, 1, 1).timestamp()


@dataclass
class Phase:
    name: str
    title: str
    scenario: str
    milestones: list[tuple[str, str, list[tuple[str, str]]]]
    records: dict[str, list[str]] = field(default_factory=dict)
    journal: str = ""
    start: datetime = NOW


class Books:
    """The workspace being written: `docs/` in a repository whose code lives outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws = root / "docs"
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        self.ws.mkdir(parents=True)
        (self.ws / "loopkit.toml").write_text(render("loopkit.toml.j2"), encoding="utf-8")
        self.git = Importer(root)
        self.inbox: dict[str, list[Message]] = {"builder": [], "adversary": [], "orchestrator": []}
        self.ctx = {
            role: Context(cwd=self.ws, environ={**os.environ, "LOOPKIT_ROLE": role})
            for role in ("builder", "adversary", "orchestrator")
        }

    # -- texts, all from loopkit's templates --------------------------------------------------
    def status_text(self, p: Phase) -> str:
        text = render(
            "status.md.j2",
            phase=p.name,
            title=p.title,
            plan=f"plans/plan-phase-{p.name}.md",
            milestones=[
                {"id": mid, "title": t, "probes": [{"id": i, "title": pt} for i, pt in probes]}
                for mid, t, probes in p.milestones
            ],
        )
        parts = text.split("\n## ")
        out = [parts[0]]
        for part in parts[1:]:
            mid = part.split(" ", 1)[0]
            lines = p.records.get(mid, [])
            out.append(
                part.rstrip("\n") + "\n\n" + "".join(lines) + ("\n" if lines else "") if lines else part
            )
        joined = "\n## ".join(out)
        doc = parse_status(joined)
        assert [len(s.records) for s in doc.sections] == [len(p.records.get(s.id, [])) for s in doc.sections]
        return joined

    def record_line(
        self, *, kind: str, mid: str | None, at: datetime, by: str, ref: str | None, note: str
    ) -> str:
        ref_kind = None if ref is None else ("head" if kind == "CLAIM" else "claim")
        line = render(
            "status-record.md.j2",
            kind=kind,
            milestone=mid,
            at=timefmt.iso(at),
            by=by,
            ref_kind=ref_kind,
            ref=ref,
            code=None,
            claim_id=None,
            note=note,
        )
        return oneline(line) + "\n"

    def inbox_text(self, role: str) -> str:
        text = render("inbox.md.j2", role=role)
        for m in self.inbox[role]:
            moment = timefmt.parse_iso(m.at or "")
            assert moment is not None
            block = render(
                "inbox-message.md.j2",
                at=timefmt.heading(moment),
                message=m,
                comment=encode(m),
                quoted=quote(m.body),
            )
            text = text.rstrip("\n") + "\n\n" + block
        return text

    def message(self, *, sender: str, to: str, phase: str, at: datetime, subject: str) -> Message:
        count = sum(len(v) for v in self.inbox.values())
        msg = Message(
            id=f"{at:%Y%m%dT%H%M%SZ}-{sender[:4]}-{count:012x}",
            to=to,
            sender=sender,
            phase=phase,
            at=timefmt.iso(at),
            subject=subject,
            body=subject,
        )
        self.inbox[to].append(msg)
        return msg

    # -- commits ------------------------------------------------------------------------------
    def commit(
        self,
        role: str,
        writes: dict[str, str],
        *,
        at: datetime,
        action: str,
        phase: str | None,
        subject: dict[str, Any],
        trailers: list[tuple[str, str]],
    ) -> str:
        ctx = self.ctx[role]
        ident = ctx.workspace.config.identities[role]
        message = ctx.commit_message(action=action, phase=phase, subject=subject, body="", trailers=trailers)
        return self.git.commit(writes, who=(ident.name, ident.email), at=at, message=message)

    def write_status(self, p: Phase) -> dict[str, str]:
        return {f"docs/STATUS-{p.name}.md": self.status_text(p)}

    def evidence(
        self, p: Phase, mid: str, probe: str, title: str, *, at: datetime, passed: bool = True
    ) -> None:
        record = ProbeRecord(
            phase=p.name,
            milestone=mid,
            probe=probe,
            title=title,
            command=f"curl -s -o /dev/null -w %{{http_code}} http://127.0.0.1:8080/{p.name}",
            observe="stdout",
            observed="200" if passed else "503",
            exit=0,
            expect=("200",),
            expect_not=(),
            expect_exit=None,
            result="PASS" if passed else "FAIL",
            duration=0.03,
            at=timefmt.iso(at),
            head=self.git.head,
            dirty=False,
            stdout="200" if passed else "503",
            stderr="",
        )
        p.journal = p.journal.rstrip("\n") + "\n\n" + render_evidence(record)
        self.commit(
            "builder",
            {f"docs/JOURNAL-{p.name}.md": p.journal},
            at=at,
            action="evidence",
            phase=p.name,
            subject={"milestone": mid, "probe": probe, "result": record.result},
            trailers=[
                ("Loopkit-Milestone", mid),
                ("Loopkit-Probe", probe),
                ("Loopkit-Result", record.result),
            ],
        )

    def claim(self, p: Phase, mid: str, *, at: datetime, note: str = "") -> str:
        head = self.git.head
        assert head is not None
        p.records.setdefault(mid, []).append(
            self.record_line(kind="CLAIM", mid=mid, at=at, by="builder", ref=head, note=note)
        )
        msg = self.message(sender="builder", to="adversary", phase=p.name, at=at, subject=f"claim {mid}")
        return self.commit(
            "builder",
            {**self.write_status(p), "docs/ADVERSARY-INBOX.md": self.inbox_text("adversary")},
            at=at,
            action="claim",
            phase=p.name,
            subject={"milestone": mid, "note": note},
            trailers=[("Loopkit-Milestone", mid), ("Loopkit-Claim", head), ("Loopkit-Message", msg.id)],
        )

    def consume(self, role: str, phase: str, *, at: datetime) -> None:
        self.inbox[role] = [m for m in self.inbox[role] if m.phase != phase]
        self.commit(
            role,
            {f"docs/{role.upper()}-INBOX.md": self.inbox_text(role)},
            at=at,
            action="consume",
            phase=phase,
            subject={"to": role, "count": 1, "role": role, "n": 1, "ids": []},
            trailers=[],
        )

    def verdict(self, p: Phase, mid: str, result: str, claim: str, *, at: datetime, note: str = "") -> None:
        p.records.setdefault(mid, []).append(
            self.record_line(kind=result, mid=mid, at=at, by="adversary", ref=claim, note=note)
        )
        self.inbox["adversary"] = [m for m in self.inbox["adversary"] if m.phase != p.name]
        msg = self.message(sender="adversary", to="builder", phase=p.name, at=at, subject=f"{mid} {result}")
        self.commit(
            "adversary",
            {
                **self.write_status(p),
                "docs/BUILDER-INBOX.md": self.inbox_text("builder"),
                "docs/ADVERSARY-INBOX.md": self.inbox_text("adversary"),
            },
            at=at,
            action="verdict",
            phase=p.name,
            subject={"milestone": mid, "verdict": result, "hhmm": f"{at:%H:%M}", "note": note},
            trailers=[
                ("Loopkit-Milestone", mid),
                ("Loopkit-Verdict", result),
                ("Loopkit-Claim", claim),
                ("Loopkit-Message", msg.id),
            ],
        )


def spec_toml(p: Phase, paths: Sequence[str] = ()) -> str:
    out = [f'phase = "{p.name}"', f'title = "{p.title}"', f'plan = "plans/plan-phase-{p.name}.md"', ""]
    for mid, title, probes in p.milestones:
        out += ["[[milestones]]", f'id = "{mid}"', f'title = "{title}"']
        out += [f"paths = {json.dumps(list(paths))}", ""] if paths else [""]
        for pid, pt in probes:
            run = f"curl -s -o /dev/null -w %{{http_code}} http://127.0.0.1:8080/{p.name}"
            out += [
                "  [[milestones.probes]]",
                f'  id = "{pid}"',
                f'  title = "{pt}"',
                f'  run = "{run}"',
                '  observe = "stdout"',
                '  expect = ["200"]',
                "",
            ]
    return "\n".join(out)


def build(root: Path, phases: int, *, paths: Sequence[str] = ()) -> Path:
    """A repository at `root` with a workspace in `docs/` holding `phases` phases; returns `docs/`.
    With `paths`, every other phase's milestones name these (a verdict's paths, SPEC section 3)."""
    books = Books(root)
    plan: list[Phase] = []
    for i in range(phases):
        word = WORDS[i % len(WORDS)]
        name = f"{word.replace(' ', '')}-{i:03d}"
        milestones = [
            ("M1", f"{word} answers on its own API", [("P1", f"{word} API answers 200")]),
            (
                "M2",
                f"{word} survives a rollback",
                [("P2", "rollback drill answers 200"), ("P2-neg", "dead port")],
            ),
        ]
        scenario = SCENARIOS[i % len(SCENARIOS)] if phases > 1 else "failed"
        # Activity spread over the last days, so ages differ and the sort by waiting time shows.
        start = NOW - timedelta(hours=3 + (i * 7) % 90, minutes=(i * 13) % 60)
        plan.append(Phase(name, f"The {word} phase {i}", scenario, milestones, start=start))
    first = NOW - timedelta(days=20)
    specs = {p.name: spec_toml(p, () if i % 2 else paths) for i, p in enumerate(plan)}
    base = {
        "docs/loopkit.toml": render("loopkit.toml.j2"),
        "src/app.py": "HEALTH = '/api/version'\n",
        **{f"docs/phases/{p.name}.toml": specs[p.name] for p in plan},
    }
    books.git.commit(base, who=("Person", "person@example.invalid"), at=first, message="workspace\n")
    for p in plan:
        if p.scenario == "planned":
            continue
        p.journal = render("journal.md.j2", kind="JOURNAL", phase=p.name, role="builder")
        books.commit(
            "orchestrator",
            {**books.write_status(p), f"docs/JOURNAL-{p.name}.md": p.journal},
            at=p.start - timedelta(days=1),
            action="open",
            phase=p.name,
            subject={"title": p.title},
            # the spec the gates use is the one the orchestrator opened (SPEC section 3)
            trailers=[("Loopkit-Spec", blob_id(specs[p.name].encode("utf-8")))],
        )
        if p.scenario == "stale":
            books.evidence(p, "M1", "P1", p.milestones[0][2][0][1], at=p.start)
    books.git.commit(
        {"src/app.py": "HEALTH = '/api/version'\nTIMEOUT = 5\n"},
        who=("Person", "person@example.invalid"),
        at=NOW - timedelta(days=2),
        message="app: a timeout on the health probe\n",
    )
    for p in plan:
        _play(books, p)
    books.git.close()
    return books.ws


def _play(books: Books, p: Phase) -> None:
    t = p.start
    step = timedelta(minutes=7)

    def tick() -> datetime:
        nonlocal t
        t += step
        return t

    s = p.scenario
    if s in ("planned", "stale"):
        return
    (m1, _, ((p1, p1t),)), (m2, _, ((p2, p2t), (p2n, p2nt))) = p.milestones
    if s == "mail":
        books.evidence(p, m1, p1, p1t, at=tick(), passed=False)
        msg = books.message(
            sender="builder",
            to="orchestrator",
            phase=p.name,
            at=tick(),
            subject="nixos-rebuild needed on the host",
        )
        books.commit(
            "builder",
            {"docs/ORCHESTRATOR-INBOX.md": books.inbox_text("orchestrator")},
            at=t,
            action="send",
            phase=p.name,
            subject={"sender": "builder", "to": "orchestrator", "subject": msg.subject},
            trailers=[("Loopkit-Message", msg.id)],
        )
        return
    books.evidence(p, m1, p1, p1t, at=tick())
    if s == "started":
        return
    claim = books.claim(p, m1, at=tick(), note="health gate probes pass")
    if s == "claimed":
        return
    if s == "forged":
        # A PASS typed into STATUS by a person: it counts as no verdict, and check says so.
        p.records[m1].append(
            books.record_line(
                kind="PASS", mid=m1, at=tick(), by="adversary", ref=claim, note="looks fine to me"
            )
        )
        books.git.commit(
            books.write_status(p), who=("Person", "person@example.invalid"), at=t, message="typed a PASS\n"
        )
        return
    if s == "failed":
        books.verdict(
            p, m1, "FAIL", claim, at=tick(), note="rollback path untested: kill -9 leaves it half up"
        )
        return
    books.verdict(p, m1, "PASS", claim, at=tick(), note="idle probes pass")
    books.consume("builder", p.name, at=tick())
    books.evidence(p, m2, p2, p2t, at=tick())
    books.evidence(p, m2, p2n, p2nt, at=tick())
    claim2 = books.claim(p, m2, at=tick())
    if s == "second-claimed":
        return
    books.verdict(p, m2, "PASS", claim2, at=tick(), note="rollback drill passes")
    books.consume("builder", p.name, at=tick())
    if s == "done":
        line = books.record_line(
            kind="DONE", mid=None, at=tick(), by="builder", ref=None, note="M1+M2 PASS, gate holds"
        )
        text = books.status_text(p).rstrip("\n") + "\n\n" + render("status-done.md.j2", record=line.strip())
        books.commit(
            "builder",
            {f"docs/STATUS-{p.name}.md": text},
            at=t,
            action="done",
            phase=p.name,
            subject={"milestones": ["M1", "M2"], "summary": "gate holds"},
            trailers=[],
        )
