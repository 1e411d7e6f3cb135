"""UTC timestamps: parsing the many ways agents write them, and the two ways loopkit writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# A heading's leading timestamp, in the variants agents commonly write (SPEC section 1):
# `2026-06-13`, `2026-06-13T13:24Z`, `2026-06-13 13:24 UTC`, `2026-06-13T13:24:00Z`, `[2026-06-13 13:24]`,
# then `—`, `–`, `-`, `:` or `→` between the time and the title.
_HEADING = re.compile(
    r"""^\s*(?P<open>\[)?
    (?P<date>\d{4}-\d{2}-\d{2})
    (?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?)?
    \s*(?:Z|UTC|GMT|\+00:?00)?
    (?(open)\]|)
    (?:\s*(?:—|–|-|:|→)\s*|\s+|$)
    (?P<title>.*)$""",
    re.VERBOSE | re.DOTALL | re.ASCII,  # `٢٠٢٦` is not a year loopkit reads
)


# what `iso`, `heading` and LOOPKIT_NOW write (strptime's %Y-%m-%dT%H:%M[:%S[.%f]]Z, read by hand:
# strptime imports _strptime, calendar and locale on every start)
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)T(?P<h>\d\d):(?P<mi>\d\d)(?::(?P<s>\d\d)(?:\.(?P<f>\d{1,6}))?)?Z",
    re.ASCII,
)


def parse_heading(text: str) -> tuple[str, bool, str] | None:
    """`(at, date_only, title)` when the heading text starts with a timestamp, else None."""
    match = _HEADING.match(text)
    if match is None:
        return None
    try:
        year, month, date = (int(part) for part in match["date"].split("-"))
        day = datetime(year, month, date)
        if match["h"] is not None:
            day = day.replace(hour=int(match["h"]), minute=int(match["m"]), second=int(match["s"] or 0))
    except ValueError:
        return None
    return iso(day), match["h"] is None, match["title"].strip()


def iso(moment: datetime) -> str:
    """Seconds precision, as evidence and records are written: `2026-06-13T13:44:01Z`."""
    return f"{heading(moment)[:-1]}:{moment.second:02d}Z"


def heading(moment: datetime) -> str:
    """Minute precision, as headings are written: `2026-06-13T13:44Z`."""
    # by hand: strftime writes the year 1 as `1`, not `0001`, on glibc
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}Z"


def parse_iso(text: str) -> datetime | None:
    """The inverse of `iso` and `heading` (and of LOOPKIT_NOW)."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    try:
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"] or 0),
            int((match["f"] or "0").ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def now(fixed: str | None) -> datetime:
    """The clock: `LOOPKIT_NOW` when set (tests, replays), else the system's UTC time."""
    if fixed:
        moment = parse_iso(fixed.strip())
        if moment is None:
            from loopkit.errors import BadInput

            raise BadInput(f"LOOPKIT_NOW={fixed!r} is not a UTC time like 2026-06-13T13:44:00Z")
        return moment
    return datetime.now(UTC).replace(microsecond=0)
