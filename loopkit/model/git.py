"""What git tells of a line: the commit that added it."""

from __future__ import annotations

from dataclasses import dataclass, field

from loopkit.model.config import Identity


@dataclass(frozen=True)
class Origin:
    """The commit that added a line, as git blame tells it."""

    sha: str
    author: Identity
    committer: Identity
    trailers: dict[str, str] = field(default_factory=dict)
