"""Runs one probe command and judges what it observed (SPEC section 3, Probe evidence).

Pure stdlib and no workspace knowledge: the caller records the Outcome (redacted) wherever it
belongs. `judge`, `observe_output` and `validate_observe` are pure so the rules test alone.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopkit.errors import BadInput
from loopkit.model import Result

TIMEOUT = "timeout"
NOT_FOUND = "not-found"
NOT_EXECUTABLE = "not-executable"
UNOBSERVED = "unobserved"
# Outcomes where no genuine observation was made. They never FAIL (a negative probe must not
# pass by accident through `expect_not`), they are ERROR unless listed in `expect`.
SPECIAL = frozenset({TIMEOUT, NOT_FOUND, NOT_EXECUTABLE, UNOBSERVED})

HEAD_BYTES = 1 << 20  # kept from the start of each stream; observations see this much
TAIL_BYTES = 64 << 10  # kept from the end, for the excerpt's tail
EXCERPT_HEAD = 3000  # characters
EXCERPT_TAIL = 1000
# Characters of context redacted around each cut of an excerpt, so that a secret straddling a
# cut is recognised whole instead of surviving as an unrecognisable fragment.
REDACT_CONTEXT = 16384

TERM_GRACE = 0.5  # after SIGTERM to the group on timeout, before SIGKILL
PIPE_GRACE = 0.2  # after the main process exits, for the pipes to reach EOF
DRAIN = 0.1  # after SIGKILL, to collect what was already written into the pipes
_POLL = 0.05  # how often to look for an exit while a leftover process holds the pipes open
_CHUNK = 1 << 16

# `sh` reports a command it could not find as 127 and one it could not execute as 126. Read as
# plain exit codes, a probe such as `curl … ; expect_not 200` on a machine without curl would
# pass by accident, so for shell runs these become the same special observations as for argv.
_SHELL_CODES = {127: NOT_FOUND, 126: NOT_EXECUTABLE}


@dataclass(frozen=True)
class Outcome:
    """What running one probe showed: the observation, the exit, the result and the output excerpts."""

    observed: str
    exit: int | None  # None when it never started or was killed for the timeout
    result: Result
    stdout: str  # bounded excerpt, see _Stream.excerpt
    stderr: str  # idem; when the command could not start, the OS error
    stdout_bytes: int  # total bytes the command wrote
    stderr_bytes: int
    duration: float
    full_stdout: str  # what the observation used (first HEAD_BYTES); never written anywhere


def default_observe(expect: Sequence[str], expect_not: Sequence[str]) -> str:
    return "stdout" if expect or expect_not else "exit"


def validate_observe(kind: str) -> None:
    if kind in ("exit", "stdout"):
        return
    if kind.startswith("regex:"):
        try:
            groups = re.compile(kind.removeprefix("regex:")).groups
        except (re.error, OverflowError, RecursionError) as exc:
            raise BadInput(f"bad observe pattern {kind!r}: {exc}") from exc
        if groups != 1:
            raise BadInput(f"observe pattern {kind!r} must have exactly one group, not {groups}")
        return
    raise BadInput(f"unknown observe kind {kind!r}: use exit, stdout or regex:<one-group pattern>")


def observe_output(kind: str, *, exit: int | None, stdout: str) -> str:
    validate_observe(kind)
    if kind == "exit":
        return UNOBSERVED if exit is None else str(exit)
    if kind == "stdout":
        return stdout.strip() or UNOBSERVED
    match = re.search(kind.removeprefix("regex:"), stdout)
    value = (match.group(1) or "").strip() if match else ""
    return value or UNOBSERVED


def judge(
    *,
    observed: str,
    exit: int | None,
    expect: Sequence[str],
    expect_not: Sequence[str],
    expect_exit: int | None,
) -> Result:
    allowed, forbidden = _as_set(expect), _as_set(expect_not)
    exit_ok = expect_exit is None or exit == expect_exit
    if observed in SPECIAL:
        return "PASS" if observed in allowed and exit_ok else "ERROR"
    conditions = [exit_ok]
    if allowed:
        conditions.append(observed in allowed)
    if forbidden:
        conditions.append(observed not in forbidden)
    if not allowed and not forbidden and expect_exit is None:
        conditions.append(exit == 0)
    return "PASS" if all(conditions) else "FAIL"


def _as_set(values: Sequence[str]) -> frozenset[str]:
    # A bare string is a Sequence[str] too; `"200"` must mean {"200"}, not {"2", "0"}.
    return frozenset((values,) if isinstance(values, str) else values)


def run(
    *,
    argv: Sequence[str] | None = None,
    shell: str | None = None,
    observe: str = "exit",
    expect: Sequence[str] = (),
    expect_not: Sequence[str] = (),
    expect_exit: int | None = None,
    timeout: float = 30.0,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> Outcome:
    """Run `argv` (no shell) or `shell` (through `sh -c`) and judge it.

    `redact`, when given, is applied to the excerpts before they are cut, so that a secret
    cannot survive as a fragment at a cut; the caller still redacts whatever it writes."""
    command = _command(argv, shell, observe=observe, timeout=timeout, cwd=cwd)

    def outcome(observed: str, exit: int | None, *, ended: float, out: _Stream, err: _Stream) -> Outcome:
        return Outcome(
            observed=observed,
            exit=exit,
            result=judge(
                observed=observed, exit=exit, expect=expect, expect_not=expect_not, expect_exit=expect_exit
            ),
            stdout=out.excerpt(redact),
            stderr=err.excerpt(redact),
            stdout_bytes=out.total,
            stderr_bytes=err.total,
            duration=round(ended - started, 3),
            full_stdout=out.text(),
        )

    started = time.monotonic()
    try:
        proc = _spawn(command, cwd, env)
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        why = _Stream()
        why.note(f"cannot execute {command[0]!r}: {os.strerror(exc.errno or errno.ENOEXEC)}")
        observed = NOT_FOUND if missing else NOT_EXECUTABLE
        return outcome(observed, None, ended=time.monotonic(), out=_Stream(), err=why)

    out, err = _Stream(), _Stream()
    timed_out, ended = _supervise(proc, out, err, deadline=started + timeout)
    if timed_out:
        return outcome(TIMEOUT, None, ended=ended, out=out, err=err)
    code = proc.returncode
    if shell is not None and code in _SHELL_CODES:
        observed = _SHELL_CODES[code]
    else:
        observed = observe_output(observe, exit=code, stdout=out.text())
    return outcome(observed, code, ended=ended, out=out, err=err)


def _command(
    argv: Sequence[str] | None, shell: str | None, *, observe: str, timeout: float, cwd: str | Path | None
) -> list[str]:
    """The probe's command line, its arguments checked: exit 4 (BadInput) naming the first wrong one."""
    if (argv is None) == (shell is None):
        raise BadInput("a probe needs exactly one of a command line or a shell command")
    if isinstance(argv, str):  # list("curl -s …") would run the program "c"
        raise BadInput("a probe's command line must be a list of arguments, not one string")
    command = ["sh", "-c", shell] if shell is not None else list(argv or ())
    if not command or (shell is not None and not shell.strip()):
        raise BadInput("a probe needs a command to run")
    validate_observe(observe)
    if not (timeout > 0 and math.isfinite(timeout)):
        raise BadInput(f"probe timeout must be a positive number of seconds, not {timeout}")
    if cwd is not None and not Path(cwd).is_dir():
        raise BadInput(f"probe folder {str(cwd)!r} does not exist")
    return command


def _spawn(
    command: list[str], cwd: str | Path | None, env: Mapping[str, str] | None
) -> subprocess.Popen[bytes]:
    """The probe's process: no stdin, its own process group. OSError when it cannot start."""
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,  # a probe gets no stdin: `cat` must not wait for us
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )
    except ValueError as exc:  # an embedded NUL, a `=` in an environment name
        raise BadInput(f"cannot run probe: {exc}") from exc


class _Stream:
    """One output stream, bounded: the first HEAD_BYTES, the last TAIL_BYTES and a count."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._note = ""

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self.tail += data
        if len(self.tail) > TAIL_BYTES:
            del self.tail[: len(self.tail) - TAIL_BYTES]  # cheap: bytearray trims its front

    def note(self, message: str) -> None:
        self._note = message

    def text(self) -> str:
        return self.head.decode("utf-8", "replace")

    def excerpt(self, redact: Callable[[str], str] | None) -> str:
        """The whole stream when it is at most EXCERPT_HEAD + EXCERPT_TAIL characters, else
        its head and tail around `…[N bytes omitted]…`. Decoding with surrogateescape keeps one
        character per undecodable byte, so N counts the bytes exactly (unless `redact` changed
        the parts shown, which shifts it by the difference)."""
        scrub = redact or _same
        if self._note:
            return scrub(self._note)
        head = self.head.decode("utf-8", "surrogateescape")
        if self.total <= HEAD_BYTES and len(head) <= EXCERPT_HEAD + EXCERPT_TAIL:
            return _shown(scrub(head))
        tail = head if self.total <= HEAD_BYTES else self.tail.decode("utf-8", "surrogateescape")
        first = scrub(head[: EXCERPT_HEAD + REDACT_CONTEXT])[:EXCERPT_HEAD]
        last = scrub(tail[-(EXCERPT_TAIL + REDACT_CONTEXT) :])[-EXCERPT_TAIL:]
        omitted = max(0, self.total - len(_raw(first)) - len(_raw(last)))
        return f"{_shown(first)}\n…[{omitted} bytes omitted]…\n{_shown(last)}"


def _same(text: str) -> str:
    return text


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _shown(text: str) -> str:
    # Undecodable bytes become U+FFFD in what people read.
    return _raw(text).decode("utf-8", "replace")


def _supervise(
    proc: subprocess.Popen[bytes], out: _Stream, err: _Stream, *, deadline: float
) -> tuple[bool, float]:
    """Collect both pipes until the process ends or the deadline passes; then make sure nothing
    of its process group survives. Returns (timed out, when it ended or was stopped)."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    pgid = proc.pid  # start_new_session made it the leader of its own group
    try:
        _pump(selector, streams, until=deadline, stop=lambda: proc.poll() is not None)
        if proc.poll() is None:
            # Both pipes are closed but the process runs on: wait for it, up to the deadline.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        ended = time.monotonic()
        timed_out = proc.poll() is None
        if timed_out:
            _signal_group(pgid, signal.SIGTERM)

            def gone() -> bool:  # the leader and everything it started
                return proc.poll() is not None and not _group_alive(pgid)

            _pump(selector, streams, until=ended + TERM_GRACE, stop=gone)
        else:
            # Leftover children (`server &`) may hold our pipes open: give them a moment to
            # finish writing, then they go like the rest of the group.
            _pump(selector, streams, until=time.monotonic() + PIPE_GRACE)
        # A probe leaves nothing behind. The group id cannot be reused while any member lives;
        # once all are gone, reuse would take a full cycle of the pid space, not these moments.
        _signal_group(pgid, signal.SIGKILL)
        proc.kill()
        # SIGKILL cannot be ignored; only a process stuck in the kernel outlives it, and then
        # we return anyway rather than hang.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=DRAIN)
        _pump(selector, streams, until=time.monotonic() + DRAIN)
        return timed_out or proc.returncode is None, ended
    finally:
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:  # interrupted (KeyboardInterrupt): still leave nothing
            _signal_group(pgid, signal.SIGKILL)
            proc.kill()


def _pump(
    selector: selectors.BaseSelector,
    streams: dict[int, _Stream],
    *,
    until: float,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Read whatever the pipes offer until both reach EOF, `until` passes, or `stop()`."""
    while selector.get_map() and not stop():
        left = until - time.monotonic()
        if left <= 0:
            return
        for key, _ in selector.select(min(left, _POLL)):
            data = os.read(key.fd, _CHUNK)
            if data:
                streams[key.fd].feed(data)
            else:
                selector.unregister(key.fd)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # Already gone, or (after reuse of the id) not ours: never signal what is not ours.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it is just not ours to signal
    return True
