"""The option set every command shares (SPEC section 3), the help's epilogs, and how bodies are read."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from loopkit.errors import UsageError

Json = Annotated[bool, typer.Option("--json", help="Machine output on stdout.")]


Workspace = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="DIR",
        help="The workspace folder (else LOOPKIT_WORKSPACE, else found upwards).",
    ),
]


Role = Annotated[
    str | None,
    typer.Option("--role", metavar="ROLE", help="builder | adversary | orchestrator (else LOOPKIT_ROLE)."),
]


NoCommit = Annotated[bool, typer.Option("--no-commit", help="Write the files but do not commit them.")]


# claim, verdict and done count only as loopkit's own commits: their service refuses --no-commit
# (exit 2), so the option is there for it to refuse, and hidden
Committed = Annotated[bool, typer.Option("--no-commit", hidden=True)]


OptPhase = Annotated[
    str | None,
    typer.Option(
        "--phase", metavar="PHASE", envvar="LOOPKIT_PHASE", help="Only this phase (else LOOPKIT_PHASE)."
    ),
]


BodyFile = Annotated[
    str | None, typer.Option("--body-file", metavar="FILE", help="Read the text from FILE (- for stdin).")
]


def epilog(example: str, codes: str) -> str:
    """The end of each command's help: an example, then its exit codes (SPEC section 5)."""
    lines = [f"  {line}" for line in example.strip("\n").split("\n")]
    return "\b\nExample:\n" + "\n".join(lines) + f"\n\n\b\nExit codes: {codes}"


EXIT_ALL = (
    "0 done, 1 a probe failed its expectation or check found problems, 2 usage error, 3 refused by "
    "a gate or a role rule (nothing written), 4 bad input, 5 git failed, 70 a bug (please report "
    "it), 124 inbox wait timed out."
)


def _body(body: str | None, body_file: str | None, *, required: bool = False) -> str | None:
    """--body, else --body-file (`-`: standard input), else standard input when it is not a terminal.
    `required`: nothing given at all on a terminal is refused rather than written as an empty body."""
    from loopkit.errors import BadInput
    from loopkit.services.context import stdin_text

    if body is not None and body_file is not None:
        raise UsageError("give --body or --body-file, not both")
    if body_file is not None:
        if body_file == "-":
            return stdin_text(strict=True) or ""
        try:
            data = (Path.cwd() / body_file).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read --body-file {body_file}: {exc.strerror}") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"--body-file {body_file} is not UTF-8 text (byte {exc.start}); nothing was written"
            ) from None
    if body is not None:
        return body
    text = stdin_text()
    if text is None and required and _on_terminal():
        raise BadInput("no body: give --body TEXT or --body-file FILE, or pipe it on standard input")
    return text


def _on_terminal() -> bool:
    try:
        return sys.stdin is not None and not sys.stdin.closed and os.isatty(sys.stdin.fileno())
    except (OSError, ValueError):
        return False


def _given_body(body: str | None, body_file: str | None) -> str | None:
    """--body or --body-file only: standard input is never read for these."""
    return _body(body, body_file) if body is not None or body_file is not None else None
