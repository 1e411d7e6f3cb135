"""gitignore-style path globs, for a milestone's `paths` (SPEC section 3, DONE gate condition 2)."""

from __future__ import annotations

import re
from functools import cache


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if body.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif body.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = body.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
                index += 1
            else:
                out.append("[" + body[index + 1 : end].replace("!", "^", 1) + "]")
                index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    prefix = "" if anchored else "(?:.*/)?"
    # a pattern names a file or a folder: a folder covers everything below it
    return re.compile(prefix + "".join(out) + "(?:/.*)?")


def match(pattern: str, path: str) -> bool:
    return _compile(pattern).fullmatch(path) is not None
