"""SPEC section 10 as a pure rule: does a record of a signed role count, given its commit's signature?

No I/O here: `loopkit.gitrepo.signing.verify` produces the `Signature`s, and the gates, `status`
and `check` ask `decide` about each record of a role named in `[rules] signed`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["good", "bad", "none"]
Verdict = Literal["counts", "unsigned-record", "bad-signature"]

UNSIGNED: Final = "unsigned-record"
BAD: Final = "bad-signature"


@dataclass(frozen=True)
class Signature:
    """What the pinned verifier said about one commit.

    `status`: "good" (valid and the key is in the trusted allowed-signers text), "bad" (invalid,
    or signed by a key the text does not list), "none" (no signature git could check).
    `principal`: the allowed-signers principal of the key when good, else None.
    `author_email`: the commit's author email as written in the object (no mailmap)."""

    status: Status
    principal: str | None
    author_email: str

    def principals(self) -> tuple[str, ...]:
        """A line of allowed_signers may list several principals separated by commas."""
        if self.status != "good" or not self.principal:
            return ()
        return tuple(p.strip() for p in self.principal.split(",") if p.strip())


def decide(
    *,
    signed_roles: Collection[str],
    role: str,
    signature: Signature | None,
    role_email: str,
) -> Verdict:
    """Whether a record written for `role` counts, by its commit's signature alone.

    Roles outside `signed_roles` always count here (their provenance rules apply elsewhere). For a
    signed role: no signature (or no commit: `signature` None) is `unsigned-record`; an invalid
    signature, a key not allowed, a good signature whose principal is not exactly the role's email
    (a wildcard principal included), or a commit not authored by that email is `bad-signature`:
    git says good whoever the author is, so the principal and the author are checked here."""
    if role not in signed_roles:
        return "counts"
    if signature is None or signature.status == "none":
        return UNSIGNED
    if signature.status != "good":
        return BAD
    if role_email not in signature.principals():
        return BAD
    if signature.author_email != role_email:
        return BAD
    return "counts"


def explain(verdict: Verdict, *, role: str, signature: Signature | None, role_email: str) -> str:
    """One line for `check` and the gate naming why a record does not count."""
    if verdict == "counts":
        return "signed by a key allowed for the role"
    if verdict == UNSIGNED:
        return f"the commit is not signed; {role} records count only in commits signed by {role_email}"
    assert signature is not None
    if signature.status != "good":
        return f"the commit's signature is invalid or its key is not allowed for {role_email}"
    if role_email not in signature.principals():
        return f"signed by a key allowed for {signature.principal}, not for {role_email}"
    return f"signed for {role_email} but authored by {signature.author_email}"
