"""Which commits count: the spec commit a gate trusts and a signed role's signature, with Issue,
the problem every rule reports. Apart from state.py so that `probe exec`, which checks its spec,
imports none of the STATUS, journal and inbox rules (issue 14)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loopkit.model.config import Config
from loopkit.model.git import Origin
from loopkit.signed import Signature, decide, explain


@dataclass(frozen=True)
class Issue:
    """One unmet gate condition or one problem; `to_json` gives SPEC's shape."""

    code: str
    message: str
    milestone: str | None = None
    file: str | None = None
    line: int | None = None
    phase: str | None = None


def signature_problem(
    role: str, origin: Origin | None, config: Config, signatures: Mapping[str, Signature] | None
) -> tuple[str, str] | None:
    """(code, reason) when a committed record of a signed role does not count by its commit's
    signature; None when it counts, when the role does not sign, or when nothing was verified
    (`signatures` None: signing is off). An uncommitted line is left to the forged-* rules."""
    if signatures is None or origin is None or role not in config.signed:
        return None
    signature = signatures.get(origin.sha)
    email = config.identities[role].email
    verdict = decide(signed_roles=config.signed, role=role, signature=signature, role_email=email)
    if verdict == "counts":
        return None
    return verdict, explain(verdict, role=role, signature=signature, role_email=email)


def spec_candidates(commits: Sequence[Origin], phase: str | None, config: Config) -> list[tuple[Origin, str]]:
    """(commit, role) for each commit that opened a phase (`phase` None: any) or updated its spec,
    authored by a role that may open phases, newest first (`phase new` and `phase update` write
    `Loopkit-Spec`, the spec's blob id)."""
    by_email = {config.identities[r].email: r for r in config.open_phase if r in config.identities}
    found: list[tuple[Origin, str]] = []
    for origin in commits:
        trailers = origin.trailers
        if (
            (phase is None or trailers.get("Loopkit-Phase") == phase)
            and trailers.get("Loopkit-Action") in ("open", "spec")
            and trailers.get("Loopkit-Spec")
            and origin.author.email in by_email
        ):
            found.append((origin, by_email[origin.author.email]))
    return found


def trusted_spec(
    commits: Sequence[Origin],
    phase: str,
    config: Config,
    signatures: Mapping[str, Signature] | None = None,
) -> Origin | None:
    """The newest commit that opened the phase or updated its spec, by a role that may open phases;
    with `signatures`, a commit of a signed role counts only when its signature does (SPEC 10)."""
    for origin, role in spec_candidates(commits, phase, config):
        if signature_problem(role, origin, config, signatures) is None:
            return origin
    return None


def unsigned_specs(
    commits: Sequence[Origin],
    phase: str,
    config: Config,
    signatures: Mapping[str, Signature] | None,
) -> list[tuple[Origin, str, str]]:
    """(commit, code, reason) for each spec commit of the phase that does not count by its signature."""
    found: list[tuple[Origin, str, str]] = []
    for origin, role in spec_candidates(commits, phase, config):
        problem = signature_problem(role, origin, config, signatures)
        if problem is not None:
            found.append((origin, *problem))
    return found


def blob_id(data: bytes) -> str:
    """git's id of a blob holding these bytes."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
