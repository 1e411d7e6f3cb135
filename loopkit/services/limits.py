"""`[limits]` of loopkit.toml: sizes past which a body, note, subject or title is refused (exit 4)."""

from __future__ import annotations

from loopkit.errors import BadInput
from loopkit.services.context import Context


def check(ctx: Context, kind: str, text: str | None, what: str) -> None:
    """Refuse `text` (nothing written) when its UTF-8 is longer than `[limits] <kind>` allows."""
    if not text:
        return
    limit = int(getattr(ctx.workspace.config.limits, kind))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise BadInput(
            f"{what} is {size} bytes, over the limit of {limit} ([limits] {kind} in loopkit.toml); "
            "nothing was written"
        )


def no_nul(text: str | None, what: str) -> None:
    if text and "\x00" in text:
        raise BadInput(f"{what} holds NUL bytes; loopkit writes text only")
