"""The time of a journal entry, from its heading (or the line right under it), in the styles agents
write: a leading timestamp (SPEC section 1), a time alone under a date heading, an approximate time,
a timestamp after the title, or a `**Timestamp**: …` line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from loopkit.timefmt import iso, parse_heading

_SEP = r"(?:\s*(?:—|–|-|:|→)\s*|\s+|$)"
_ZONE = r"(?:\s*(?:Z|UTC|GMT|\+00:?00))?"
# `2026-05-04 ~01:10 UTC — title`, `2026-05-04 12:XX — title`: a date with an approximate time
_APPROX_FULL = re.compile(
    r"^\s*(?P<open>\[)?~?(?P<date>\d{4}-\d{2}-\d{2})[T ]\s*(?P<tilde>~|≈)?\s*"
    r"(?P<h>\d{1,2}):(?P<m>\d{2}|XX|xx)" + _ZONE + r"(?(open)\]|)" + _SEP + r"(?P<title>.*)$",
    re.DOTALL,
)
# `18:08 UTC — title`, `~01:10 UTC`, `12:XX — title`, `[18:08]`: a time of day alone
_TIME_ONLY = re.compile(
    r"^\s*(?P<open>\[)?(?P<tilde>~|≈)?\s*(?P<h>\d{1,2}):(?P<m>\d{2}|XX|xx)(?::(?P<s>\d{2})(?:\.\d+)?)?"
    + _ZONE
    + r"(?(open)\]|)"
    + _SEP
    + r"(?P<title>.*)$",
    re.DOTALL,
)
# `Build #57 — 2026-03-01 18:01 UTC — Builder A`: a segment that is a whole timestamp
_SEGMENTS = re.compile(r"\s+(?:—|–|-|\|)\s+")
_WHOLE_STAMP = re.compile(
    r"^\[?\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s*(?:Z|UTC|GMT|\+00:?00))?\]?$"
)
# `**Timestamp**: 2026-02-10 18:27 UTC`, `Date: 2026-02-10`, right under an undated heading
_LABEL = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?(?:Timestamp|Date|Time|When)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*"
    r"(?P<value>[^\n]*?)\s*(?:\*\*|__)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Stamp:
    """A heading's time: `at` in UTC (None for a time of day alone, see `clock`)."""

    at: str | None
    date_only: bool
    approx: bool
    title: str
    clock: tuple[int, int, int] | None = None  # a time of day with no date: (h, m, s)

    def on(self, day: str) -> Stamp:
        """A time of day placed on the date of `day` (an ISO time)."""
        if self.clock is None:
            return self
        h, m, s = self.clock
        return Stamp(f"{day[:10]}T{h:02d}:{m:02d}:{s:02d}Z", False, self.approx, self.title)


def _clock(h: str, m: str, s: str | None) -> tuple[int, int, int, bool] | None:
    hour, approx = int(h), m.upper() == "XX"
    minute = 0 if approx else int(m)
    second = int(s or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second, approx


def read(text: str) -> Stamp | None:
    """The time a heading's text gives, or None when it gives none."""
    match = _APPROX_FULL.match(text)
    if match is not None and (match["tilde"] or match["m"].upper() == "XX"):
        clock = _clock(match["h"], match["m"], None)
        try:
            day = datetime.strptime(match["date"], "%Y-%m-%d")
        except ValueError:
            return None
        if clock is None:
            return None
        moment = day.replace(hour=clock[0], minute=clock[1])
        return Stamp(iso(moment), False, True, match["title"].strip())
    stamp = parse_heading(text)
    if stamp is not None:
        return Stamp(stamp[0], stamp[1], False, stamp[2])
    match = _TIME_ONLY.match(text)
    if match is not None:
        clock = _clock(match["h"], match["m"], match["s"])
        if clock is not None:
            approx = clock[3] or bool(match["tilde"])
            return Stamp(None, False, approx, match["title"].strip(), clock[:3])
    return _trailing(text)


def _trailing(text: str) -> Stamp | None:
    """`Title — 2026-03-01 18:01 UTC — more`: the timestamp is one whole segment, not the first."""
    if not any(c.isdigit() for c in text):
        return None
    parts = _SEGMENTS.split(text.strip())
    for index, part in enumerate(parts[1:], start=1):
        if _WHOLE_STAMP.match(part):
            stamp = parse_heading(part)
            if stamp is None:
                return None
            title = " — ".join(p for i, p in enumerate(parts) if i != index)
            return Stamp(stamp[0], stamp[1], False, title)
    return None


def from_label(line: str) -> Stamp | None:
    """`**Timestamp**: 2026-02-10 18:27 UTC` (or `Date:`, `Time:`, `When:`): the whole value a time."""
    match = _LABEL.match(line)
    if match is None:
        return None
    stamp = read(match["value"])
    if stamp is None or stamp.at is None or stamp.title.strip(" ()"):
        return None
    return stamp
