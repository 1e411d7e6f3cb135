"""Signed records (SPEC section 10): the I/O, one verifier run per command; the rules are
state.py's and signed.py's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopkit.model.git import Origin
from loopkit.services.context import Context
from loopkit.signed import Signature

if TYPE_CHECKING:
    from loopkit.gitrepo.signers import TrustedSigners


def trusted(ctx: Context) -> TrustedSigners:
    """The trusted allowed-signers text, read once per command (the chain costs one git log)."""
    found = ctx.cache.get("signing:trusted")
    if found is None:
        from loopkit.gitrepo.signers import signers_path, trusted_signers

        ws = ctx.workspace
        assert ws.repo_root is not None
        found = trusted_signers(
            ws.repo_root,
            path=signers_path(ws.rel),
            orchestrator_email=ws.config.identities["orchestrator"].email,
            environ=ctx.environ,
            memory=ctx.index,
        )
        ctx.cache["signing:trusted"] = found
    return found


def signatures(ctx: Context, shas: list[str]) -> dict[str, Signature] | None:
    """What the pinned verifier says of these commits, with every answer of this command kept:
    `status` and `check` ask first for every record commit of the workspace in one git process
    (view._books), and a later question about commits already asked costs nothing. None while no
    role signs."""
    ws = ctx.workspace
    if not ws.config.signed or ws.repo_root is None:
        return None
    memo: dict[str, Signature | None] = ctx.cache.setdefault("signing:memo", {})
    todo = [sha for sha in dict.fromkeys(shas) if sha not in memo]
    if todo:
        from loopkit.gitrepo.signing import verify

        found = verify(ws.repo_root, todo, trusted(ctx).text, environ=ctx.environ, memory=ctx.index)
        for sha in todo:
            memo[sha] = found.get(sha)
    return {sha: sig for sha in shas if (sig := memo.get(sha)) is not None}


def spec_signatures(ctx: Context, commits: list[Origin]) -> dict[str, Signature] | None:
    """Signatures of every spec commit (all phases at once) when a role that opens phases signs."""
    config = ctx.workspace.config
    if not any(role in config.signed for role in config.open_phase):
        return None
    from loopkit.trust import spec_candidates

    return signatures(ctx, [origin.sha for origin, _ in spec_candidates(commits, None, config)])
