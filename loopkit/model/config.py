"""`loopkit.toml` and the phase specs, as records, and the git identities they name."""

from __future__ import annotations

from dataclasses import dataclass, field

from loopkit.model import ROLES


@dataclass(frozen=True)
class ProbeSpec:
    """A probe as a phase's spec defines it: what to run and what to expect."""

    id: str
    title: str
    run: str
    observe: str = "exit"
    expect: tuple[str, ...] = ()
    expect_not: tuple[str, ...] = ()
    expect_exit: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Milestone:
    """A milestone of a phase's spec, with the probes it needs and the paths it covers."""

    id: str
    title: str
    paths: tuple[str, ...] = ()
    probes: tuple[ProbeSpec, ...] = ()


@dataclass(frozen=True)
class PhaseSpec:
    """A phase's spec (`phases/<phase>.toml`)."""

    phase: str
    title: str
    plan: str | None = None
    milestones: tuple[Milestone, ...] = ()
    paths: tuple[str, ...] = ()  # the phase's scope, for milestones without their own

    def milestone(self, mid: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == mid), None)

    def scope(self, mid: str) -> tuple[str, ...]:
        """SPEC section 1: a milestone's scope is its own `paths`, else its phase's; `()` is all
        the code (every tracked file outside the workspace folder). The one place this is decided."""
        milestone = self.milestone(mid)
        if milestone is not None and milestone.paths:
            return milestone.paths
        return self.paths

    @property
    def scoped(self) -> bool:
        """Whether the spec names any `paths` at all; without any, the DONE gate keeps the strict
        rule (SPEC section 3, condition 2)."""
        return bool(self.paths) or any(m.paths for m in self.milestones)


@dataclass(frozen=True)
class Identity:
    """A git identity: a name and an email."""

    name: str
    email: str


@dataclass(frozen=True)
class Limits:
    """Sizes (bytes of UTF-8) past which loopkit refuses text, far above anything written by hand."""

    body: int = 1 << 20
    note: int = 4096
    subject: int = 1024
    title: int = 1024


@dataclass(frozen=True)
class Config:
    """`loopkit.toml`, every default filled in."""

    status: str = "STATUS-{phase}.md"
    journals: dict[str, str] = field(
        default_factory=lambda: {"builder": "JOURNAL-{phase}.md", "adversary": "REVIEW-{phase}.md"}
    )
    inbox: str = "{ROLE}-INBOX.md"
    archive: str = "inbox-archive"
    identities: dict[str, Identity] = field(
        default_factory=lambda: {r: Identity(r, f"{r}@loopkit.invalid") for r in ROLES}
    )
    probe_timeout: float = 30.0
    redact_patterns: tuple[str, ...] = ()
    open_phase: tuple[str, ...] = ("orchestrator",)
    signed: tuple[str, ...] = ()
    replay: bool = False  # [rules] replay: a PASS needs the adversary's own run (SPEC section 11)
    git_remote: str = "origin"
    git_sync: bool = False
    lock_timeout: float | None = None
    commit_url: str | None = None
    limits: Limits = field(default_factory=Limits)
