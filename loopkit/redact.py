"""The one redaction function everything loopkit writes goes through (SPEC section 3, Redaction).

Every rule yields spans of the *original* text; the spans are merged and each merged span becomes
`[REDACTED]`. Working on spans instead of replacing rule after rule means no rule can see (or
break up) another rule's marker, so the order of the rules never matters.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import quote, quote_plus

from loopkit.errors import BadInput

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 6

T = TypeVar("T")

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH", re.IGNORECASE)
# Git identities are public (they end up in every commit) and `AUTH` would otherwise catch them.
_PUBLIC_NAME = re.compile(r"GIT_(?:AUTHOR|COMMITTER)_", re.IGNORECASE)

# Built-in shapes. A pattern with a group named `s` redacts that group only, so the context that
# tells a reader what was there (`Authorization:`, `https://…@host`) stays readable.
# Speed matters (this runs on every write): each pattern starts with a literal, which lets `re`
# skip ahead. A token glued to the text before it (`keyAKIA…`, `id-glpat-…`) is still a token:
# nothing is asked of what precedes the literal, and a run such as `glpat-glpat-…` is one greedy
# match, scanned once.
# The AWS assignment is ASCII-case-insensitive, a slow scan, so it only runs when a lowercase copy
# of the text holds its gate.
_Rule = tuple[re.Pattern[str], tuple[str, ...]]
_AI = re.ASCII | re.IGNORECASE
_RULES: tuple[_Rule, ...] = (
    # URL userinfo, any scheme; greedy to the last `@` of the authority because people write
    # unescaped `@` in passwords.
    (re.compile(r"://(?<=[A-Za-z0-9]://)(?P<s>[^\s/?#\"'<>`]*)@"), ()),
    # a longer token stops where another one starts: back-to-back tokens are two redactions
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36}(?:(?!gh[pousr]_)[A-Za-z0-9])*"), ()),
    (re.compile(r"github_pat_[A-Za-z0-9_]{22,}"), ()),
    # GitLab: personal, runner, deploy, pipeline-trigger, feed, CI-build, incoming-mail, OAuth-app,
    # service-account, agent and feature-flag tokens
    (re.compile(r"gl(?:pat|rt|dt|ptt|ft|cbt|imt|oas|soat|agent|ffct)-[A-Za-z0-9_-]{20,}"), ()),
    # no check of what follows: a key id glued to another (AKIA…AKIA…) is redacted on the next pass
    (re.compile(r"A[KS]IA[A-Z0-9]{16}"), ()),
    (
        re.compile(
            r"secret_?access_?key[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            _AI,
        ),
        ("secret",),
    ),
    (re.compile(r"(?:xox[abeprs]|xapp)-[A-Za-z0-9-]{10,}"), ()),
    (re.compile(r"https://hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/_-]+)"), ()),
    # The signature may be empty (alg "none"); header and payload still identify a session.
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), ()),
)

# HTTP headers. Right after a quote (`curl -H 'Authorization: Bearer x'`) the value ends at the
# closing quote; as a quoted JSON key its value is the quoted string that follows; anywhere else
# (curl -v dumps, pasted requests) it runs to the end of the line.
_HEADER = r"(?:proxy-authorization|authorization|set-cookie|cookie)"
_HEADER_QUOTED = re.compile(rf"(?P<q>['\"]){_HEADER}[ \t]*:[ \t]*(?P<s>[^\r\n]*?)(?=(?P=q)|[\r\n]|\Z)", _AI)
_HEADER_KEY = re.compile(
    rf"(?P<q>['\"]){_HEADER}(?P=q)[ \t]*:[ \t]*(?P<r>['\"])(?P<s>(?:\\.|(?!(?P=r))[^\\\r\n])*)",
    _AI,
)
# Names first is fast only case-sensitively, so this one runs on the lowercase copy. It stops at
# the colon: matching the value too would rescan the rest of a long line for every skipped name.
_HEADER_LINE = re.compile(rf"{_HEADER}[ \t]*:[ \t]*")
_HEADER_LINE_AI = re.compile(_HEADER_LINE.pattern, _AI)
_EOL = re.compile(r"[\r\n]")
# A text's header spans are looked for only when its lowercase copy holds one of these.
_HEADER_GATES = ("authorization", "cookie")

_PEM = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")

# `curl -u user:pass`, `--user user:pass`, `-su'user:pass'`: the argument of curl's -u, as the
# shell reads one word, anywhere after `curl` on the same line (flags such as `-sS` may come first).
_CURL = re.compile(r"curl\b")
_CURL_USER = re.compile(
    r"[ \t](?:-[A-Za-z]*u[ \t]*|--user(?:=|[ \t]+))"
    # one shell word: quoted parts, escapes and bare characters, a stray quote included
    r"""(?P<s>(?:'[^'\r\n]*'|"(?:\\.|[^"\\\r\n])*"|\\.|\S)+)"""
)

# PuTTY private keys: from the file's first line (or `Private-Lines:`, for an excerpt that starts
# later) to the end of its `Private-MAC:` line.
_PUTTY = re.compile(r"PuTTY-User-Key-File-|Private-Lines:|Private-MAC:")
_PUTTY_MAC = re.compile(r"Private-MAC:[ \t]*[0-9A-Za-z]*")

Span = tuple[int, int]

# A reference to an environment variable, which the shell fills in: `$NAME`, `${NAME}`.
_REFERENCE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _PUBLIC_NAME.match(name)


def _variants(value: str) -> set[str]:
    """The forms a value takes when it is written: raw, inside JSON, inside a URL or a form."""
    forms = {value, value.strip()}
    # as a shell script holds it: inside '…' (`'\''` or `'"'"'` for each `'`), unquoted (`\'`),
    # inside "…" (a backslash before `\`, `"`, `$` and a backquote)
    if "'" in value:
        forms.update(value.replace("'", q) for q in ("'\\''", "'\"'\"'", "\\'"))
    forms.add(re.sub(r'([\\"$`])', r"\\\1", value))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    for encode in (quote, quote_plus):
        try:
            forms.add(encode(value, safe="", errors="surrogateescape"))
        except UnicodeError:
            continue  # a lone surrogate has no URL form, so it cannot appear in one either
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def _occurrences(text: str, needle: str) -> Iterator[Span]:
    # Overlapping occurrences too: `aaaaaa` twice in `aaaaaaa` must leave no `a` of it behind.
    start = text.find(needle)
    while start >= 0:
        yield start, start + len(needle)
        start = text.find(needle, start + 1)


def _header_spans(text: str, lowered: str) -> Iterator[Span]:
    yield from _group_spans(_HEADER_QUOTED, text, "s")
    yield from _group_spans(_HEADER_KEY, text, "s")
    # lower() keeps positions unless a character grows (İ → i̇); then scan the original instead.
    scan, pattern = (lowered, _HEADER_LINE) if len(lowered) == len(text) else (text, _HEADER_LINE_AI)
    pos = 0
    while (match := pattern.search(scan, pos)) is not None:
        if match.start() and text[match.start() - 1] in "'\"":
            # The quoted rules own this one. Resume after its colon, not at the end of the line
            # (a later header may follow) nor inside it (`cookie` inside `'Set-Cookie:`).
            pos = match.end()
            continue
        pos = _line_end(text, match.end())
        if pos > match.end():
            yield match.end(), pos


def _header_gate(lowered: str) -> bool:
    return any(gate in lowered for gate in _HEADER_GATES)


def _line_end(text: str, start: int) -> int:
    # One scan that stops at the first end of line; two str.find calls would each run to the
    # end of the text when it lacks that character, once per header.
    eol = _EOL.search(text, start)
    return len(text) if eol is None else eol.start()


def _pem_spans(text: str) -> Iterator[Span]:
    """Whole private-key blocks; a BEGIN without END runs to the end of the text, and an END
    without BEGIN (a bounded excerpt that starts inside a key) runs back to where the previous
    block ended, or to the start of the text."""
    free_from = 0
    pos = 0
    while (marker := _PEM.search(text, pos)) is not None:
        if marker.group(1) == "END":
            yield free_from, marker.end()
            free_from = pos = marker.end()
            continue
        end = _PEM.search(text, marker.end())
        while end is not None and end.group(1) != "END":
            end = _PEM.search(text, end.end())
        if end is None:
            yield marker.start(), len(text)
            return
        yield marker.start(), end.end()
        free_from = pos = end.end()


def _curl_user_spans(text: str) -> Iterator[Span]:
    """Each line is searched once, from its first `curl` on."""
    pos = 0
    while (curl := _CURL.search(text, pos)) is not None:
        end = _line_end(text, curl.end())
        yield from _group_spans(_CURL_USER, text, "s", curl.end(), end)
        pos = end


def _putty_spans(text: str) -> Iterator[Span]:
    """Whole PuTTY key files, as _pem_spans does for PEM blocks: a start without a MAC runs to the
    end of the text, a MAC without a start runs back to where the previous key ended."""
    free_from = 0
    pos = 0
    while (marker := _PUTTY.search(text, pos)) is not None:
        if marker.group() == "Private-MAC:":
            mac = _PUTTY_MAC.match(text, marker.start())
            assert mac is not None
            yield free_from, mac.end()
            free_from = pos = mac.end()
            continue
        mac = _PUTTY_MAC.search(text, marker.end())
        if mac is None:
            yield marker.start(), len(text)
            return
        yield marker.start(), mac.end()
        free_from = pos = mac.end()


class Redactor:
    """Precompiled once per process (or per workspace), then applied to every write."""

    def __init__(self, *, environ: Mapping[str, str], extra_patterns: Sequence[str] = ()) -> None:
        extra: list[re.Pattern[str]] = []
        for source in extra_patterns:
            try:
                extra.append(re.compile(source))
            except (re.error, OverflowError, RecursionError) as exc:
                raise BadInput(f"bad redact pattern {source!r}: {exc}") from exc
        self._extra = tuple(extra)
        # form → the names whose value it is (two variables may share a value).
        owners: dict[str, set[str]] = {}
        for name, value in environ.items():
            if len(value) >= MIN_SECRET_LEN and is_secret_name(name):
                for form in _variants(value):
                    owners.setdefault(form, set()).add(name)
        self._forms = sorted(owners)
        self._owners = owners

    def _spans(self, text: str) -> list[Span]:
        return [*self._env_spans(text), *self._shape_spans(text)]

    def _env_spans(self, text: str) -> Iterator[Span]:
        for form in self._forms:
            yield from _occurrences(text, form)

    def _shape_spans(self, text: str) -> list[Span]:
        spans: list[Span] = []
        lowered = text.lower()
        for pattern, gates in _RULES:
            if gates and not any(gate in lowered for gate in gates):
                continue
            group: int | str = "s" if "s" in pattern.groupindex else 0
            spans.extend(_group_spans(pattern, text, group))
        if _header_gate(lowered):
            spans.extend(_header_spans(text, lowered))
        for pattern in self._extra:
            spans.extend(_group_spans(pattern, text, 1 if pattern.groups else 0))
        spans.extend(_pem_spans(text))
        spans.extend(_putty_spans(text))
        spans.extend(_curl_user_spans(text))
        return spans

    def _replace(self, text: str, spans: list[Span]) -> str:
        if not spans:
            return text
        markers = list(_occurrences(text, REDACTED))
        pieces: list[str] = []
        done = 0
        for start, end in _merge(_absorb(spans, markers)):
            pieces.append(text[done:start])
            pieces.append(REDACTED)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def redact(self, text: str) -> str:
        # One pass is enough unless a marker completed a match that was not there before
        # (a value such as `D]abc1` next to a new `[REDACTED]`). Each pass that changes the text
        # removes unredacted characters or markers, so the loop ends; it makes redact idempotent.
        while (next_text := self._replace(text, self._spans(text))) != text:
            text = next_text
        return text

    def literal_secrets(self, text: str) -> bool:
        """Whether `text` holds a secret written out: a secret variable's value, or a shape that
        `redact` hides and that refers to no variable. A file committed as it stands (a phase
        spec) may say `Authorization: Bearer $TOKEN`, `https://deploy:$PASS@` or `curl -u "$U:$P"`:
        the shell fills them in when the probe runs."""
        if any(True for _ in self._env_spans(text)):
            return True
        shapes = self._shape_spans(text)
        return bool(shapes) and any(not _REFERENCE.search(text, start, end) for start, end in _merge(shapes))

    def redact_pieces(self, text: str, pieces: Sequence[tuple[str, Sequence[int]]]) -> str:
        """`text`, written from `pieces` (a command line from its arguments, each quoted for the
        shell), redacted as written and through each piece as it was before quoting: a secret that
        quoting split apart (a value holding `'`) is found in its piece, one spread over several
        pieces (a key block given as three arguments) in the text. A piece is its raw string and
        where each of its characters starts in `text`, then where the last one ends."""
        spans = self._spans(text)
        for raw, where in pieces:
            spans.extend((where[start], where[end]) for start, end in self._spans(raw))
        return self.redact(self._replace(text, spans))

    def redact_obj(self, obj: T) -> T:
        """Every string inside JSON-like data (dicts, lists, tuples); keys are left as they are.

        Equal to redacting each string on its own (`_redact_each`), which costs a dozen scans per
        string, thousands of strings per `status --json`: the strings are searched once, joined,
        for what could start a redaction, and only the strings holding one are redacted. The
        result shares what is unchanged with `obj` (it is `obj` itself when nothing is
        redacted), so it must not be modified; no caller does."""
        strings: list[str] = []
        _collect(obj, strings)
        replaced: dict[int, str] = {}
        for index in self._suspects(strings):
            text = self.redact(strings[index])
            if text != strings[index]:
                replaced[index] = text
        if not replaced:
            return obj
        return cast(T, _rebuild(obj, replaced, itertools.count()))

    def _redact_each(self, obj: Any) -> Any:
        """The definition redact_obj is pinned to (tests/test_redact_fast.py): a new copy of
        `obj` with every string redacted."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {key: self._redact_each(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [self._redact_each(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_each(item) for item in obj)
        return obj

    def _suspects(self, strings: list[str]) -> set[int]:
        """Indexes of the strings that could hold a span (`_spans`): every string that does is
        among them (and the rest are returned unchanged by `redact`). Each source of spans is
        looked for once, in the strings joined by newlines:
        - secret forms: every occurrence, overlapping ones too, as `_spans` finds them;
        - `_RULES` and `_PEM`: they have no anchors, no character they consume can be a
          newline, and each lookaround answers the same next to the joining newline as at the
          string's edge (`(?<=[A-Za-z0-9]://)`, `(?!gh[pousr]_)`, `(?![A-Za-z0-9/+=])`). So a
          match inside one string is a match of the joined text, no match of the joined text
          spans two strings, and `finditer` reports one that starts in that string;
        - headers: `_spans` asks for a gate in each string's lowercase copy (see below);
        - a user's patterns may have anchors or classes that would see the other strings: each
          string is asked on its own, as `_spans` asks it."""
        if not strings:
            return set()
        text = "\n".join(strings)
        starts = list(itertools.accumulate((len(s) + 1 for s in strings[:-1]), initial=0))

        def owner(pos: int) -> int:
            return bisect.bisect_right(starts, pos) - 1

        found: set[int] = set()
        for form in self._forms:
            found.update(owner(start) for start, _ in _occurrences(text, form))
        # str.lower maps each character on its own except Σ (σ or ς, by context), so an ASCII
        # gate in one string's lowercase copy is in the joined text's too.
        lowered = text.lower()
        for pattern, gates in _RULES:
            if not gates or any(gate in lowered for gate in gates):
                found.update(owner(match.start()) for match in pattern.finditer(text))
        found.update(owner(match.start()) for match in _PEM.finditer(text))  # no marker, no span
        found.update(owner(match.start()) for match in _PUTTY.finditer(text))  # likewise
        # within one line, which the joining newlines end as a string's end does
        found.update(owner(start) for start, _ in _curl_user_spans(text))
        if _header_gate(lowered):
            # Header spans need the gate in the string's own lowercase copy. Only İ grows when
            # lowered; without it positions in `lowered` are positions in `text`.
            if len(lowered) == len(text):
                for gate in _HEADER_GATES:
                    found.update(owner(start) for start, _ in _occurrences(lowered, gate))
            else:
                found.update(i for i, s in enumerate(strings) if _header_gate(s.lower()))
        for pattern in self._extra:
            group = 1 if pattern.groups else 0
            found.update(
                i
                for i, s in enumerate(strings)
                if i not in found and next(_group_spans(pattern, s, group), None) is not None
            )
        return found

    def leaks(self, text: str) -> list[str]:
        """Names (never values) of secret variables whose value still shows in `text`.

        An occurrence wholly inside a `[REDACTED]` marker is not a leak: a value such as
        `REDACT` would otherwise make every redacted text unwritable."""
        markers = list(_occurrences(text, REDACTED))
        starts = [m[0] for m in markers]
        names: set[str] = set()
        for form, owners in self._owners.items():
            if not owners <= names and any(
                not _inside(span, markers, starts) for span in _occurrences(text, form)
            ):
                names |= owners
        return sorted(names)

    def may_leak(self, head: bytes, tail: bytes) -> bool:
        """Whether the UTF-8 text `head + tail` may hold a secret's value. False means `leaks` of
        that text is empty (a value shows in the text only where its UTF-8 form shows in the
        bytes); it costs a byte search per form, without joining, decoding or lowering the text."""
        for form in self._owners:
            data = form.encode("utf-8", "surrogatepass")
            edge = head[max(0, len(head) - len(data) + 1) :]  # a form that starts in head, ends in tail
            if data in head or data in edge + tail:
                return True
        return False

    def check(self, text: str) -> None:
        """The last guard before a write: refuse rather than write a secret."""
        names = self.leaks(text)
        if names:
            listed = ", ".join(f"${name}" for name in names)
            raise BadInput(f"refusing to write: text still holds the value of {listed}", details=names)


def _group_spans(
    pattern: re.Pattern[str], text: str, group: int | str, pos: int = 0, endpos: int | None = None
) -> Iterator[Span]:
    for match in pattern.finditer(text, pos, len(text) if endpos is None else endpos):
        start, end = match.span(group)
        if start < end:  # an unmatched or empty group hides nothing
            yield start, end


def _collect(obj: Any, strings: list[str]) -> None:
    """The strings _redact_each redacts, in the order _rebuild meets them."""
    if isinstance(obj, str):
        strings.append(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect(value, strings)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _collect(item, strings)


def _rebuild(obj: Any, replaced: dict[int, str], counter: Iterator[int]) -> Any:
    """`obj` with its strings numbered as _collect numbers them and replaced by index; a
    container is copied only when something inside it changed."""
    if isinstance(obj, str):
        return replaced.get(next(counter), obj)
    if isinstance(obj, dict):
        values = [_rebuild(value, replaced, counter) for value in obj.values()]
        if any(map(operator.is_not, values, obj.values())):
            return dict(zip(obj.keys(), values, strict=True))
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_rebuild(item, replaced, counter) for item in obj]
        if any(map(operator.is_not, items, obj)):
            return items if isinstance(obj, list) else tuple(items)
        return obj
    return obj


def _inside(span: Span, markers: list[Span], starts: list[int]) -> bool:
    i = bisect.bisect_right(starts, span[0]) - 1
    return i >= 0 and span[1] <= markers[i][1]


def _absorb(spans: list[Span], markers: list[Span]) -> list[Span]:
    """Widen a span that cuts into an existing marker to the whole marker, so the output never
    holds half a marker (which the next pass would see as new text)."""
    if not markers:
        return spans
    starts = [m[0] for m in markers]
    widened: list[Span] = []
    for start, end in spans:
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and start < markers[i][1]:
            start = markers[i][0]
        j = bisect.bisect_right(starts, end - 1) - 1
        if j >= 0 and end - 1 < markers[j][1]:
            end = markers[j][1]
        widened.append((start, end))
    return widened


def _merge(spans: list[Span]) -> Iterator[Span]:
    # Overlapping spans merge; touching ones stay apart (two secrets side by side read as two).
    spans = sorted(spans)
    start, end = spans[0]
    for s, e in spans[1:]:
        if s < end:
            end = max(end, e)
        else:
            yield start, end
            start, end = s, e
    yield start, end


def from_environ(extra_patterns: Sequence[str] = ()) -> Redactor:
    return Redactor(environ=os.environ, extra_patterns=extra_patterns)


def looks_secret(text: str) -> bool:
    """Whether the built-in token shapes find a secret in `text` (no environment involved)."""
    return any(True for rule, _ in _RULES for _ in rule.finditer(text))
