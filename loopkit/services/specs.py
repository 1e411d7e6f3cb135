"""The spec a gate uses: the phase file as the orchestrator last committed it (SPEC section 3).

Apart from book.py so that `probe exec` reads a spec without importing the STATUS, journal and
inbox readers it never needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopkit.config import parse_toml, spec_from
from loopkit.errors import BadInput
from loopkit.model.config import PhaseSpec
from loopkit.services.context import Context
from loopkit.services.signatures import spec_signatures
from loopkit.trust import Issue, blob_id, trusted_spec, unsigned_specs

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class SpecState:
    """The spec gates use (the version an orchestrator committed), and what is wrong with specs."""

    spec: PhaseSpec | None
    trusted: bool
    problems: tuple[Issue, ...] = ()

    def needed(self) -> SpecState:
        """For a command that needs the spec (claim, gate, evidence, probes): one that cannot be
        read is exit 4 naming its errors (SPEC section 3), never an empty spec."""
        if self.spec is None:
            broken = [p.message for p in self.problems if p.code == "bad-spec"]
            if broken:
                raise BadInput("; ".join(broken))
        return self


def read_spec(ctx: Context, phase: str) -> SpecState:
    """SPEC section 3: the spec a gate uses is the one the orchestrator opened or updated.

    A spec changed since by anyone else, committed or not, is reported (`untrusted-spec`) and the
    gates go on using the version named by the latest `Loopkit-Spec` commit; a broken one is
    reported (`bad-spec`) without hiding the rest of the workspace.
    """
    ws = ctx.workspace
    path = ws.spec_file(phase)
    shown = f"phases/{path.name}"
    problems: list[Issue] = []

    def problem(code: str, message: str) -> None:
        problems.append(Issue(code, message, phase=phase, file=shown))

    working_bytes, working = _working(ctx, path, shown, phase, problem)
    opened = ws.status_file(phase).is_file()
    origin = None
    if ws.repo_root:
        commits = ctx.repo.spec_commits
        signed = spec_signatures(ctx, commits)
        origin = trusted_spec(commits, phase, ws.config, signed)
        for refused, code, reason in unsigned_specs(commits, phase, ws.config, signed):
            action = refused.trailers.get("Loopkit-Action")
            problem(code, f"the spec commit {refused.sha[:12]} ({action}) counts as none: {reason}")
    if origin is None:
        if opened and working_bytes is not None:
            problem(
                "untrusted-spec",
                f"{shown} was never committed by the orchestrator; claims are refused until "
                f"`loopkit phase update {phase}` (as the orchestrator) commits it",
            )
        return SpecState(working, False, tuple(problems))
    blob = origin.trailers["Loopkit-Spec"]
    if working_bytes is not None and blob_id(working_bytes) == blob:
        return SpecState(working, True, tuple(problems))
    trusted: PhaseSpec | None = None
    data = ctx.repo.blob(blob)
    if data is not None:
        try:
            trusted = spec_from(data, shown, phase=phase)
        except BadInput as exc:
            problem("bad-spec", f"the committed spec: {exc.message}")
    state = "deleted" if working_bytes is None else "changed"
    problem(
        "untrusted-spec",
        f"{shown} was {state} since the orchestrator committed it ({origin.sha[:12]}); gates use "
        f"that version until `loopkit phase update {phase}` commits the change",
    )
    return SpecState(trusted, True, tuple(problems))


def _working(
    ctx: Context, path: Path, shown: str, phase: str, problem: Callable[[str, str], None]
) -> tuple[bytes | None, PhaseSpec | None]:
    """The work tree's phase file (None: there is none) and its spec (None: none, or a bad one,
    a `bad-spec` problem)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise BadInput(f"cannot read {shown}: {exc.strerror}") from None
    found = ctx.index.parsed("specs", path, data, lambda data: _spec_of(data, shown, phase))
    if isinstance(found, str):
        problem("bad-spec", found)
        return data, None
    return data, found


def _spec_of(data: bytes, shown: str, phase: str) -> PhaseSpec | str:
    """A phase file's spec, or why it cannot be read."""
    try:
        return spec_from(data, shown, phase=phase)
    except BadInput as exc:
        return exc.message


def refuse_secrets(ctx: Context, text: str, shown: str) -> None:
    """A spec is committed as it stands (its blob id names it), so it cannot be redacted: one
    holding a secret written out (a variable's value or a token's shape, SPEC section 3,
    Redaction) is refused, every place named (`phases/px.toml: M1 P1 run`). References to the
    environment (`Bearer $TOKEN`) are what a spec should hold instead."""
    found = [place for place, value in _strings(parse_toml(text.encode("utf-8"), shown), "")
             if ctx.redactor.literal_secrets(value)]  # fmt: skip
    if found:
        raise BadInput(
            "; ".join(f"{shown}: {place}: holds a secret" for place in found)
            + ": refer to it through the environment (`$NAME`) instead of writing it in the spec"
        )


def _strings(value: Any, place: str) -> Iterator[tuple[str, str]]:
    """Every string of a TOML document and its place: `title`, `M1 title`, `M1 P1 expect[0]`."""
    if isinstance(value, str):
        yield place, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{place} {key}".strip())
    elif isinstance(value, list):
        for index, item in enumerate(value):
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str) and place.split(" ")[-1] in ("milestones", "probes"):
                inner = " ".join([*place.split(" ")[:-1], ident])  # `M1 P1`, not `milestones M1 probes P1`
            else:
                inner = f"{place}[{index}]"
            yield from _strings(item, inner)
