"""The merge driver's merge: three versions of one of loopkit's files → one, by record identity.

Each version is cut into items: a *record* (a journal entry, a STATUS record line, an inbox or
archived message) with its identity, or one line of hand-written text. Every record stands as one
token, so a three-way line merge (diff3) over the tokens sees two records appended at the same
place as two tokens, not as two overlapping runs of lines; its diffs pair records by identity
before they pair lines of text, so a blank line between records never pairs across a record.
Where both sides changed the same place:

- if at most one side changed hand-written text there, the records are merged as sets (kept by
  both, or added by one; one removed by either side is gone) around that side's text: no conflict;
- otherwise people changed the same lines in two ways: a real conflict, written with markers.

A record is written back with the bytes of the side it came from, never reformatted, so git blame
still names the commit that wrote each of its lines. The result is parsed back and must hold
exactly the expected records, each in its place (a STATUS record in its milestone's section),
or the merge is reported as a conflict rather than written wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from loopkit.markdown.edit import newline_of, split_lines
from loopkit.records import Span

KINDS = ("journal", "status", "inbox", "archive", "text")
MARKER = 7


@dataclass(frozen=True)
class Item:
    """One line of hand-written text (key None) or one record (key its identity)."""

    key: str | None
    text: str  # the exact text, line endings included
    anchor: str = ""  # a record's first line: two edits of one record share it
    section: str | None = None  # the STATUS section a record sits in

    @property
    def token(self) -> str:
        return f"R\0{self.key}" if self.key is not None else "T\0" + self.text.rstrip("\r\n")

    @property
    def blank(self) -> bool:
        return self.key is None and not self.text.strip()


def merge(base: bytes, ours: bytes, theirs: bytes, kind: str) -> tuple[bytes, bool]:
    """The merged file and whether it holds a real conflict (then with conflict markers)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    texts = [data.decode("utf-8", errors="surrogateescape") for data in (base, ours, theirs)]
    merged, conflict = merge_text(*texts, kind=kind)
    return merged.encode("utf-8", errors="surrogateescape"), conflict


def merge_text(base: str, ours: str, theirs: str, *, kind: str) -> tuple[str, bool]:
    if ours == theirs or theirs == base:
        return ours, False
    if ours == base:
        return theirs, False
    o, a, b = (items(text, kind) for text in (base, ours, theirs))
    if kind == "archive":
        # An archived message is the same message whoever archived it and when: one copy.
        a_keys, b_keys = _keys(a), _keys(b)
        if b_keys and b_keys <= a_keys:
            return ours, False
        if a_keys and a_keys <= b_keys:
            return theirs, False
    chosen = _contents(o, a, b)
    expected = _expected(o, a, b)
    out: list[Item] = []
    conflict = False
    for chunk in diff3([i.token for i in o], [i.token for i in a], [i.token for i in b]):
        tag, (a0, a1), (o0, o1), (b0, b1) = chunk
        if tag == "a":
            out += a[a0:a1]
        elif tag == "b":
            out += b[b0:b1]
        else:
            after_blank = bool(out) and out[-1].blank
            resolved = _resolve(o[o0:o1], a[a0:a1], b[b0:b1], expected, after_blank)
            if resolved is None:
                conflict = True
                out.append(Item(None, "<" * MARKER + " ours\n"))
                out += a[a0:a1]
                out.append(Item(None, "=" * MARKER + "\n"))
                out += b[b0:b1]
                out.append(Item(None, ">" * MARKER + " theirs\n"))
            else:
                out += resolved
    out = _dedupe(out)
    text = _join([chosen.get(i.key, i) if i.key is not None else i for i in out], newline_of(ours))
    if conflict:
        return text, True
    if not _verified(text, kind, expected=expected, sides=(a, b)):
        return _whole_conflict(ours, theirs), True
    return text, False


# -- cutting a file into items ------------------------------------------------------------------
def items(text: str, kind: str) -> list[Item]:
    lines = split_lines(text)
    spans = _spans(text, kind)
    out: list[Item] = []
    at = 0
    copies: dict[str, int] = {}
    for start, end, key, section in spans:
        out += [Item(None, line) for line in lines[at:start]]
        # trailing blank lines separate records; they are not part of one
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        body = "".join(lines[start:end])
        identity = key if key is not None else body.rstrip("\r\n")
        # two byte-identical records (the same entry written twice in one minute) are two records:
        # the n-th copy has its own identity, so a union keeps as many as either side holds
        seen = copies.get(identity, 0)
        copies[identity] = seen + 1
        if seen:
            identity = f"{identity}\0copy {seen}"
        out.append(Item(identity, body, lines[start].rstrip("\r\n"), section))
        at = end
    out += [Item(None, line) for line in lines[at:]]
    return out


def _spans(text: str, kind: str) -> list[Span]:
    """Each record of the file with its identity, as the record module of its kind defines it."""
    if kind == "text" or not text:
        return []
    from loopkit.records import archive, inbox, journal, status

    readable = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    kinds = {"journal": journal.spans, "status": status.spans, "inbox": inbox.spans, "archive": archive.spans}
    return kinds[kind](readable)


def _keys(seq: Sequence[Item]) -> set[str]:
    return {i.key for i in seq if i.key is not None}


# -- three-way merge of token sequences ---------------------------------------------------------
Chunk = tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]]


def diff3(o: Sequence[str], a: Sequence[str], b: Sequence[str]) -> list[Chunk]:
    """Chunks of a three-way merge: ("a", …) take ours' range, ("b", …) theirs', ("conflict", …)
    both changed it. Ranges are (start, end) in a, o, b, in that order."""
    ma, mb = _matches(o, a), _matches(o, b)
    chunks: list[Chunk] = []
    io = ia = ib = 0
    while io < len(o) or ia < len(a) or ib < len(b):
        k = 0
        while ma.get(io + k) == ia + k and mb.get(io + k) == ib + k and io + k < len(o):
            k += 1
        if k:
            chunks.append(("a", (ia, ia + k), (io, io + k), (ib, ib + k)))
            io, ia, ib = io + k, ia + k, ib + k
            continue
        j = io
        while j < len(o) and not (j in ma and j in mb and ma[j] >= ia and mb[j] >= ib):
            j += 1
        ja, jb = (ma[j], mb[j]) if j < len(o) else (len(a), len(b))
        oc, ac, bc = o[io:j], a[ia:ja], b[ib:jb]
        if list(ac) == list(oc):
            chunks.append(("b", (ia, ja), (io, j), (ib, jb)))
        elif list(bc) == list(oc) or list(ac) == list(bc):
            chunks.append(("a", (ia, ja), (io, j), (ib, jb)))
        else:
            chunks.append(("conflict", (ia, ja), (io, j), (ib, jb)))
        io, ia, ib = j, ja, jb
    return chunks


def _matches(o: Sequence[str], x: Sequence[str]) -> dict[int, int]:
    """Which token of x each token of o is, as a line diff pairs them, but anchored: records are
    paired by identity first, then the written lines between two paired records, then the blank
    lines between two paired lines. A plain line diff finds a blank line as good a match as any
    and may pair blanks instead: a record the side kept then goes unpaired, reads as the side's
    new text in place of another record, and the merge keeps it even where the other side removed
    it; a heading the side kept reads as moved into the region before it, as if the side had
    rewritten that region's hand text, and the merge conflicts where nobody changed it."""
    found: dict[int, int] = {}
    tiers = (_is_record, _is_written, None)

    def pair(o0: int, o1: int, x0: int, x1: int, tier: int) -> None:
        keep = tiers[tier]
        oi = [i for i in range(o0, o1) if keep is None or keep(o[i])]
        xi = [j for j in range(x0, x1) if keep is None or keep(x[j])]
        matcher = SequenceMatcher(None, [o[i] for i in oi], [x[j] for j in xi], autojunk=False)
        at_o, at_x = o0, x0
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                i, j = oi[block.a + k], xi[block.b + k]
                if keep is not None:
                    pair(at_o, i, at_x, j, tier + 1)
                found[i] = j
                at_o, at_x = i + 1, j + 1
        if keep is not None:
            pair(at_o, o1, at_x, x1, tier + 1)

    pair(0, len(o), 0, len(x), 0)
    return found


def _is_record(token: str) -> bool:
    return token.startswith("R\0")


def _is_written(token: str) -> bool:
    """A record, or a line of hand-written text that is not blank."""
    return not token.startswith("T\0") or bool(token[2:].strip())


# -- where both sides changed the same place ----------------------------------------------------
def _resolve(
    o: list[Item], a: list[Item], b: list[Item], kept: set[str], after_blank: bool
) -> list[Item] | None:
    """Both sides changed this region: the records in it merge as a set (`kept`: the records of
    the whole merge), around the hand-written text of the one side that changed any.
    `after_blank`: what comes before the region ends with a blank line."""
    hand = [[i.text.rstrip("\r\n") for i in side if i.key is None and not i.blank] for side in (o, a, b)]
    if hand[1] != hand[0] and hand[2] != hand[0] and hand[1] != hand[2]:
        return None
    if _edited_twice(o, a, b):
        return None
    spine, other = (b, a) if hand[1] == hand[0] and hand[2] != hand[0] else (a, b)
    spine_keys = _keys(spine)
    out: list[Item] = []
    at = 0
    while at < len(spine):
        item = spine[at]
        at += 1
        if item.key is None or item.key in kept:
            out.append(item)
            continue
        # removed on the other side: its separator goes with it, the blank lines after it, or
        # the ones before it when it ends the region
        if at < len(spine) and spine[at].blank:
            while at < len(spine) and spine[at].blank:
                at += 1
        elif at == len(spine):
            while out and out[-1].blank:
                out.pop()
    pending: list[Item] = []
    for item in other:
        if item.blank:
            pending.append(item)
            continue
        if item.key is not None and item.key in kept and item.key not in spine_keys:
            if out[-1].blank if out else after_blank:
                pending = []
            out += pending
            out.append(item)
        pending = []
    return out


def _edited_twice(o: list[Item], a: list[Item], b: list[Item]) -> bool:
    """A record both sides rewrote, each its own way (same first line, other bytes): hand edits
    of one record, which no set of records can merge."""
    gone = {i.anchor for i in o if i.key is not None and i.key not in _keys(a) and i.key not in _keys(b)}
    new_a = {i.anchor: i.key for i in a if i.key is not None and i.key not in _keys(o) and i.anchor in gone}
    new_b = {i.anchor: i.key for i in b if i.key is not None and i.key not in _keys(o) and i.anchor in gone}
    return any(new_b.get(anchor) not in (None, key) for anchor, key in new_a.items())


def _dedupe(out: list[Item]) -> list[Item]:
    seen: set[str] = set()
    kept: list[Item] = []
    for item in out:
        if item.key is not None:
            if item.key in seen:
                continue
            seen.add(item.key)
        kept.append(item)
    return kept


def _contents(o: list[Item], a: list[Item], b: list[Item]) -> dict[str, Item]:
    """For a record kept by both sides whose bytes differ (a message edited by hand on one side):
    the side that changed it from the base, ours when both did."""
    base = {i.key: i for i in o if i.key is not None}
    theirs = {i.key: i for i in b if i.key is not None}
    chosen: dict[str, Item] = {}
    for item in a:
        if item.key is None:
            continue
        other = theirs.get(item.key)
        if other is None or other.text == item.text:
            continue
        was = base.get(item.key)
        chosen[item.key] = other if was is not None and was.text == item.text else item
    return chosen


def _expected(o: list[Item], a: list[Item], b: list[Item]) -> set[str]:
    base, ours, theirs = _keys(o), _keys(a), _keys(b)
    return (ours & theirs) | (ours - base) | (theirs - base)


def _join(out: list[Item], newline: str) -> str:
    parts = [i.text for i in out]
    for n in range(len(parts) - 1):
        if parts[n] and not parts[n].endswith("\n"):
            parts[n] += newline  # a last line without a newline no longer ends the file
    return "".join(parts)


def _verified(text: str, kind: str, *, expected: set[str], sides: tuple[list[Item], list[Item]]) -> bool:
    merged = [i for i in items(text, kind) if i.key is not None]
    keys = [i.key for i in merged]
    if len(keys) != len(set(keys)) or set(keys) != expected:
        return False
    if kind == "status":
        where = {i.key: i.section for side in sides for i in side if i.key is not None}
        return all(i.key is not None and where.get(i.key) == i.section for i in merged)
    return True


def _whole_conflict(ours: str, theirs: str) -> str:
    newline = newline_of(ours)
    end = "" if not ours or ours.endswith("\n") else newline
    end_b = "" if not theirs or theirs.endswith("\n") else newline
    return (
        f"{'<' * MARKER} ours{newline}{ours}{end}{'=' * MARKER}{newline}{theirs}{end_b}"
        f"{'>' * MARKER} theirs{newline}"
    )
