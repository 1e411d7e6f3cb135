"""inbox send, list, consume: messages between roles, archived once read, never deleted."""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit import names, timefmt
from loopkit.documents.inbox import Consumed, Messages, Sent
from loopkit.errors import BadInput, UsageError
from loopkit.markdown.inbox import Placed, encode, parse_inbox
from loopkit.model import ROLES
from loopkit.model.inbox import Message
from loopkit.records import archive
from loopkit.records import inbox as inbox_records
from loopkit.render import oneline, render
from loopkit.services import limits
from loopkit.services.context import Context
from loopkit.workspace import read_exact, read_text

if TYPE_CHECKING:
    from loopkit.txn import Plan


def new_id(ctx: Context, sender: str) -> str:
    """Sortable by time, unique across machines without a counter: time, sender, 48 random bits."""
    return f"{ctx.now.strftime('%Y%m%dT%H%M%SZ')}-{sender[:4]}-{os.urandom(6).hex()}"


def _role(name: str, option: str = "--to") -> str:
    if name not in ROLES:
        raise UsageError(f"{option} {name!r}: use one of {', '.join(ROLES)}")
    return name


def read_inbox(ctx: Context, role: str) -> list[Placed]:
    """An inbox's messages, read once per command (status asks for every phase)."""
    cached = ctx.cache.get(("inbox", role))
    if cached is None:
        cached = ctx.cache[("inbox", role)] = _read_inbox(ctx, role)
    return list(cached)


def _read_inbox(ctx: Context, role: str) -> list[Placed]:
    path = ctx.workspace.inbox_file(role)
    if not path.is_file():
        return []
    mtime = timefmt.iso(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    return _parsed(ctx, role, read_text(path), mtime)


def _parsed(ctx: Context, role: str, text: str, mtime: str) -> list[Placed]:
    """parse_inbox, remembered in the index with everything it reads (the text itself, not a
    digest: comparing it costs less than importing hashlib): an unchanged inbox is not parsed
    again (markdown-it's import and parse are most of an `inbox list`). tests/test_index.py pins
    it to the parse."""
    path = ctx.workspace.inbox_file(role)

    def parsed() -> list[Any]:
        return [[asdict(p.message), p.ranges] for p in parse_inbox(text, role=role, mtime=mtime)]

    found = ctx.index.remembered("inboxes", path, parsed, text=f"{mtime}\n{text}")
    ctx.index.save()
    return [Placed(Message(**fields), tuple((a, b) for a, b in ranges)) for fields, ranges in found]


def render_message(ctx: Context, message: Message, *, archived: bool = False) -> str:
    """A message as its inbox shows it, or (`archived`) as its archive file, consumed now."""
    extra = {"consumed_at": timefmt.iso(ctx.now), "consumed_by": ctx.role} if archived else {}
    return render(
        "archive-message.md.j2" if archived else "inbox-message.md.j2",
        workspace=ctx.workspace.root,
        at=timefmt.heading(timefmt.parse_iso(message.at or "") or ctx.now),
        message=message,
        comment=encode(message),
        quoted=quote(message.body),
        **extra,
    )


def quote(body: str) -> list[str]:
    """The body as a block quote: whatever it holds (an open fence, a heading) ends with the quote."""
    from loopkit.markdown.evidence import escape  # with the probe records: a message being written only

    lines = body.replace("\r\n", "\n").split("\n") if body else ["(no body)"]
    return [("> " + _CONTROL.sub(lambda m: escape(m.group()), line)).rstrip() for line in lines]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029]")


def build_message(
    ctx: Context,
    *,
    sender: str,
    to: str,
    phase: str | None,
    subject: str | None,
    body: str,
    milestone: str | None = None,
    result: str | None = None,
    claim: str | None = None,
) -> Message:
    limits.no_nul(body, "the body")
    limits.no_nul(subject, "the subject")
    redact = ctx.redactor.redact
    body = redact(body.strip("\n"))
    subject = oneline(redact(subject or "")) or oneline(body.split("\n", 1)[0])[:72] or "(no subject)"
    return Message(
        id=new_id(ctx, sender),
        to=to,
        sender=sender,
        phase=phase,
        at=timefmt.iso(ctx.now),
        subject=subject,
        body=body,
        milestone=milestone,
        result=result,
        claim=claim,
    )


def append_message(ctx: Context, message: Message) -> tuple[Path, str]:
    """The inbox text with the message appended, checked to read back with every old message."""
    path = ctx.workspace.inbox_file(message.to)
    old = read_exact(path)
    if old is None or not old.strip():
        old = (old or "") + render("inbox.md.j2", workspace=ctx.workspace.root, role=message.to)
    block = render_message(ctx, message)
    ctx.redactor.check(block)
    return path, inbox_records.append(old, block, message, role=message.to, name=path.name)


def send(ctx: Context, *, to: str, phase: str | None, subject: str | None, body: str | None) -> Sent:
    _role(to)
    if phase is not None:
        names.phase(phase)
    sender = ctx.need_role(doing="send a message")
    if not (body or "").strip() and not (subject or "").strip():
        raise UsageError(
            "no message: give --body TEXT, --body-file FILE or --subject TEXT, or pipe the body on "
            "standard input (an empty message is never sent)"
        )
    limits.no_nul(body, "the body")
    limits.check(ctx, "subject", subject, "--subject")
    limits.check(ctx, "body", body, "the body")
    from loopkit.txn import Plan  # the writers' only: `inbox list` is spared its import (~3 ms)

    def plan() -> Plan:
        message = build_message(ctx, sender=sender, to=to, phase=phase, subject=subject, body=body or "")
        path, text = append_message(ctx, message)
        return Plan(
            {path: text},
            action="send",
            phase=phase,
            subject={"sender": sender, "to": to, "subject": message.subject},
            body=message.body,
            trailers=[("Loopkit-Message", message.id)],
            result={"message": message},
        )

    outcome = ctx.transact(plan)
    return Sent(**outcome.plan.result, commit=outcome.commit)


def list_messages(ctx: Context, *, to: str | None, phase: str | None) -> Messages:
    roles = [_role(to)] if to else list(ROLES)
    placed = {role: read_inbox(ctx, role) for role in roles}
    if phase is not None:
        placed = {role: [p for p in found if p.message.phase == phase] for role, found in placed.items()}
    return Messages(tuple(_oldest_first(ctx, placed)))


def _oldest_first(ctx: Context, placed: dict[str, list[Placed]]) -> list[Message]:
    """Messages in the order they were sent: by history, never by their clocks (SPEC section 1).

    Within one inbox that is its order in the file (sending appends). Across inboxes, by the commit
    that added each message (git blame of its first line) in history order; messages not committed
    yet come last, in their file's order. Equal or skewed clocks cannot reorder them."""
    inboxes = [found for found in placed.values() if found]
    if len(inboxes) <= 1:
        return [p.message for found in inboxes for p in found]
    ws = ctx.workspace
    if ws.repo_root is None:  # no history to tell: the clocks are all there is
        return sorted((p.message for found in inboxes for p in found), key=lambda m: m.at or "")
    repo = ctx.repo
    paths = {role: ws.repo_path(ws.inbox_file(role)) for role, found in placed.items() if found}
    repo.prefetch(list(paths.values()))  # one history order for every inbox
    order = repo.order(next(iter(paths.values())))
    keyed: list[tuple[tuple[int, int], int, str]] = []
    for role, found in placed.items():
        firsts = [p.ranges[0][0] + 1 for p in found if p.ranges]
        origins = repo.line_origins(paths[role], firsts) if firsts else {}
        for p in found:
            origin = origins.get(p.ranges[0][0] + 1) if p.ranges else None
            index = order.get(origin.sha) if origin is not None else None
            keyed.append(((0, index) if index is not None else (1, 0), len(keyed), role))
    keyed.sort()
    # the roles in that order; each inbox's messages keep the file's order (blame of hand-moved
    # lines cannot reorder one inbox)
    queues = {role: iter(found) for role, found in placed.items()}
    return [next(queues[role]).message for _, _, role in keyed]


def consume(ctx: Context, *, to: str | None, ids: list[str], every: bool, phase: str | None) -> Consumed:
    if to is None:  # your own inbox
        to = ctx.role
        if to is None:
            raise UsageError(f"inbox consume needs --to ROLE (to), or a role of your own: {ctx.role_hint}")
    return _consume(ctx, to=_role(to), ids=ids, every=every, phase=phase)


def _consume(ctx: Context, *, to: str, ids: list[str], every: bool, phase: str | None) -> Consumed:
    if every == bool(ids):
        raise UsageError("name the messages to consume, or pass --all (not both)")
    ctx.need_role(to, doing=f"consume the {to} inbox")
    ws = ctx.workspace
    from loopkit.txn import Plan

    def plan() -> Plan:
        inbox_path = ws.inbox_file(to)
        text = read_exact(inbox_path) or ""
        placed = inbox_records.parse(text, role=to) if text else []
        if phase is not None:
            placed = [p for p in placed if p.message.phase == phase]
        if not every:
            known = {p.message.id for p in placed}
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise BadInput(f"no such message in the {to} inbox: {', '.join(unknown)}")
            placed = [p for p in placed if p.message.id in ids]
        if not placed:
            return Plan({}, action="consume", phase=None, subject={}, result={"consumed": ()})
        # an emptied inbox keeps its heading: a deleted one would let git's rename detection pair
        # it with a new archive file in a merge, and lose messages (SPEC section 1)
        writes: dict[Path, str | None] = {}
        taken: set[Path] = set()
        for p in placed:
            path = _archive_path(ctx, p.message, taken)
            writes[path] = archive.check(
                render_message(ctx, p.message, archived=True), p.message, name=path.name
            )
        writes[inbox_path] = inbox_records.remove(text, placed, role=to, name=inbox_path.name)
        phases = sorted({p.message.phase for p in placed if p.message.phase})
        label = f"{to.upper()}-INBOX consumed: {', '.join(p.message.id for p in placed)}"
        for name in phases:
            if ws.journal_file(name, to) is None or not (
                ws.status_file(name).is_file() or ws.spec_file(name).is_file()
            ):
                continue
            body = render(
                "journal-consumed.md.j2",
                workspace=ws.root,
                messages=[p.message for p in placed if p.message.phase == name],
            )
            from loopkit.services.journals import append_entry, entry_block  # a consume that journals only

            block = entry_block(ctx, label, body.strip("\n"))
            path, journal_text, _ = append_entry(ctx, phase=name, role=to, block=block)
            writes[path] = journal_text
        return Plan(
            writes,
            action="consume",
            phase=",".join(phases) or None,
            subject={"role": to, "count": len(placed)},
            body=label,
            trailers=[("Loopkit-Message", p.message.id) for p in placed],
            result={"consumed": tuple(p.message for p in placed)},
        )

    outcome = ctx.transact(plan)
    return Consumed(**outcome.plan.result, commit=outcome.commit)


def _archive_path(ctx: Context, message: Message, taken: set[Path]) -> Path:
    """A new file per archived message. The id comes from a file people can edit: only its safe
    characters reach the file name, and an existing archive is never overwritten."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", message.id).lstrip(".")[:96] or "message"
    base = ctx.workspace.archive_dir / f"{message.to.upper()}-{safe}"
    path = base.with_name(base.name + ".md")
    counter = 2
    while path.exists() or path in taken:
        path = base.with_name(f"{base.name}-{counter}.md")
        counter += 1
    taken.add(path)
    return path
