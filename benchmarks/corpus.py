"""Journal text in the corpus style, and the small repositories the scenarios time loopkit in."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import git, lk

# -- journal text in the corpus style -------------------------------------------------------------
SERVICES = [
    "traefik",
    "keycloak",
    "drone",
    "dashboard",
    "backupbot",
    "bridge",
    "reports",
    "registry",
    "grafana",
    "sweep",
]
FILES = [
    "runner/warm_reconcile.py",
    "nix/modules/proxy.nix",
    "nix/modules/dashboard.nix",
    "runner/health.py",
    "bridge/app.py",
    "tools/sweep.sh",
    "deploy/compose.yml",
    "runner/alerts.py",
]
LABELS = [
    "Orientation",
    "Code examination",
    "Fix approach (committed to DECISIONS.md)",
    "Fix applied",
    "Rollback-still-works reasoning",
    "DEFERRED.md update",
    "Key finding from Adversary",
    "Open questions",
    "Verification",
]
TITLES = [
    "Phase start",
    "Builder poll (M{m} monitoring)",
    "Adversary verdict received + builder-clone fix",
    "Controlled reproduction of the {svc} health gate",
    "Alert clearance for {svc}",
    "Re-run after nixos-rebuild",
    "Orchestrator instructions read",
    "Idle break-it probes for {svc}",
    "Rollback drill on {svc}",
    "Notes on {svc} start-up order",
]
_PROSE = (
    "the health gate now probes the service API directly so a cold boot no longer waits for the "
    "dashboard and rollback still triggers when the proxy is broken because the probe hits the same "
    "process the old probe was stronger only in that it also tested a routed backend which made it "
    "unworkable on cold boot confirmed in code and by a controlled reproduction with replicas at zero"
)
WORDS = _PROSE.split()


def _sentence(rng: random.Random, lo: int = 8, hi: int = 30) -> str:
    start = rng.randrange(len(WORDS))
    count = rng.randint(lo, hi)
    words = [WORDS[(start + i) % len(WORDS)] for i in range(count)]
    return " ".join(words).capitalize() + "."


def _heading(rng: random.Random, at: datetime, title: str) -> str:
    style = rng.random()
    if style < 0.55:
        return f"## {at:%Y-%m-%dT%H:%M}Z — {title}"
    if style < 0.65:
        return f"## {at:%Y-%m-%d} — {title}"
    if style < 0.72:
        return f"### {at:%Y-%m-%d %H:%M} UTC – {title}"
    if style < 0.80:
        return f"## {at:%Y-%m-%dT%H:%M:%S}Z - {title}"
    if style < 0.87:
        return f"## [{at:%Y-%m-%d %H:%M}] {title}"
    if style < 0.94:
        return f"## {at:%Y-%m-%dT%H:%M}Z: {title}"
    return f"## {at:%Y-%m-%dT%H:%M}Z → {title}"


def _host(rng: random.Random) -> str:
    return f"{rng.choice(SERVICES)}.ci.example.net"


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def free_entry(rng: random.Random, at: datetime) -> str:
    """One hand-written entry in the corpus style (blank lines lost, as published)."""
    svc = rng.choice(SERVICES)
    title = rng.choice(TITLES).format(m=rng.randint(1, 2), svc=svc)
    lines = [_heading(rng, at, title)]
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.30:
            lines.append(f"**{rng.choice(LABELS)}:**")
            for _ in range(rng.randint(2, 6)):
                pick = rng.random()
                if pick < 0.35:
                    code = rng.choice(["200", "404", "HTTP/2 200", "HTTP 503", "000"])
                    lines.append(
                        f"- Pre-check: `https://{_host(rng)}/api/version` → {code} "
                        f"({_sentence(rng, 3, 8)[:-1]})"
                    )
                elif pick < 0.65:
                    lines.append(
                        f"- `{rng.choice(FILES)}` lines {rng.randint(10, 400)}-{rng.randint(401, 900)}: "
                        f"{_sentence(rng, 6, 18)}"
                    )
                else:
                    lines.append(f"- {_sentence(rng, 5, 20)}")
        elif kind < 0.55:
            lines.append(f"**{rng.choice(LABELS)}:** {_sentence(rng, 12, 40)} {_sentence(rng)}")
        elif kind < 0.85:
            host = _host(rng)
            lines.append(f"**Controlled reproduction ({at:%Y-%m-%d}):**")
            lines.append("```")
            lines.append(f"# Scaled {svc} swarm service to 0 replicas:")
            lines.append(f"docker service scale ccci-{svc}_app=0")
            lines.append(f'curl -sk -o /dev/null -w "%{{http_code}}" --max-time 5 "https://{host}/"')
            lines.append("→ HTTP 404 ← FAILS (would loop in wait_healthy until 900s timeout)")
            lines.append(
                f'curl -sk -o /dev/null -w "%{{http_code}}" --max-time 10 "https://{host}/api/version"'
            )
            lines.append(f"→ HTTP 200 ← PASSES immediately ({svc}'s own API)")
            lines.append(f"docker service scale ccci-{svc}_app=1 → 1/1 ✓")
            lines.append(f"systemctl start deploy-{svc}")
            lines.append(f"curl -sk https://{host}/ → 200 ✓")
            lines.append("```")
        else:
            lines.append(f"Builder loop re-launched by orchestrator. {_sentence(rng)}")
            lines.append(f"- deploy-{svc}: `active (exited)` since {at:%H:%M:%S} UTC")
            lines.append(
                f"- builder-clone: at commit `{_sha(rng)[:7]}` (needs `git pull` before nixos-rebuild)"
            )
            lines.append("- No BUILDER-INBOX or new ADVERSARY-INBOX")
    if rng.random() < 0.3:
        lines.append(f"**Next:** commit + claim M{rng.randint(1, 2)}. → M1 PASS received @{at:%H:%M}Z.")
    return "\n".join(lines) + "\n"


def probe_entry(
    rng: random.Random,
    at: datetime,
    *,
    phase: str,
    milestone: str,
    probe: str,
    title: str,
    command: str,
    head: str,
) -> str:
    """An entry exactly as `loopkit probe exec` writes it (rendered by loopkit itself)."""
    from loopkit.model import ProbeRecord
    from loopkit.services.probes import render_evidence

    passed = rng.random() < 0.8
    observed = "200" if passed else rng.choice(["404", "503", "000"])
    record = ProbeRecord(
        phase=phase,
        milestone=milestone,
        probe=probe,
        title=title,
        command=command,
        observe="stdout",
        observed=observed,
        exit=0,
        expect=("200",),
        expect_not=(),
        expect_exit=None,
        result="PASS" if passed else "FAIL",
        duration=round(rng.uniform(0.01, 2.5), 3),
        at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        head=head,
        dirty=rng.random() < 0.05,
        stdout=observed,
        stderr="",
        stdout_bytes=len(observed),
        stderr_bytes=0,
    )
    return render_evidence(record)


def journal_text(
    rng: random.Random,
    size: int,
    *,
    phase: str,
    start: datetime,
    end: datetime,
    probes: list[tuple[str, str, str, str]],
    heads: list[str],
    probe_share: float = 0.125,
) -> str:
    """About `size` bytes of entries between two times; one entry in eight a loopkit probe entry."""
    parts: list[str] = []
    total = 0
    estimate = max(1, size // 700)
    step = (end - start) / estimate
    at = start
    while total < size:
        if probes and rng.random() < probe_share:
            mid, pid, title, command = rng.choice(probes)
            text = probe_entry(
                rng,
                at,
                phase=phase,
                milestone=mid,
                probe=pid,
                title=title,
                command=command,
                head=rng.choice(heads),
            )
        else:
            text = free_entry(rng, at)
        parts.append(text)
        total += len(text.encode()) + 1
        at = min(at + step, end)
    return "\n".join(parts)


# -- 1. journal parse throughput ------------------------------------------------------------------


def spec_toml(
    phase: str,
    title: str,
    milestones: list[dict[str, Any]],
    plan: str | None = None,
    paths: list[str] | None = None,
) -> str:
    out = [f'phase = "{phase}"', f'title = "{title}"']
    if plan:
        out.append(f'plan = "{plan}"')
    if paths:  # the phase's scope (SPEC section 1)
        out.append("paths = [" + ", ".join(f'"{p}"' for p in paths) + "]")
    for m in milestones:
        out += ["", "[[milestones]]", f'id = "{m["id"]}"', f'title = "{m["title"]}"']
        if m.get("paths"):
            out.append("paths = [" + ", ".join(f'"{p}"' for p in m["paths"]) + "]")
        for p in m["probes"]:
            out += ["", "  [[milestones.probes]]", f'  id = "{p["id"]}"', f'  title = "{p["title"]}"']
            out.append(f"  run = {json.dumps(p['run'])}")
            out.append(f"  observe = {json.dumps(p['observe'])}")
            for key in ("expect", "expect_not"):
                if p.get(key):
                    out.append(f"  {key} = " + json.dumps(p[key]))
    return "\n".join(out) + "\n"


def new_repo(root: Path, *, when: datetime) -> Path:
    """A git repository with some code outside a `docs/` loopkit workspace."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("def main() -> None:\n    print('hello')\n", encoding="utf-8")
    (root / "README.md").write_text("# service\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial code", when=when)
    lk(root, "init", "docs")
    return root / "docs"


def simple_phase(ws: Path, repo: Path, *, when: datetime) -> None:
    (ws / "phases" / "p.toml").write_text(
        spec_toml(
            "p",
            "Proxy health gate without the dashboard",
            [
                {
                    "id": "M1",
                    "title": "Health probe no longer needs the dashboard",
                    "paths": ["src/**"],
                    "probes": [
                        {
                            "id": "P1",
                            "title": "probe answers 200",
                            "run": "printf 200",
                            "observe": "stdout",
                            "expect": ["200"],
                        },
                        {
                            "id": "P1-neg",
                            "title": "gate has teeth",
                            "run": "printf 000",
                            "observe": "stdout",
                            "expect_not": ["200"],
                        },
                    ],
                },
                {
                    "id": "M2",
                    "title": "Stable after rebuild",
                    "probes": [
                        {
                            "id": "P2",
                            "title": "stable",
                            "run": "printf 200",
                            "observe": "stdout",
                            "expect": ["200"],
                        }
                    ],
                },
            ],
        ),
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "loopkit workspace and phase spec", when=when)
    lk(ws, "phase", "new", "p", role="orchestrator", now=when)


def fill_journal(ws: Path, repo: Path, size: int, *, seed: int) -> int:
    """Append corpus-style entries (with loopkit probe entries) until the journal has `size` bytes;
    commit it as a person would."""
    path = ws / "JOURNAL-p.md"
    have = path.stat().st_size
    rng = random.Random(seed)
    head = git(repo, "rev-parse", "HEAD").strip()
    text = journal_text(
        rng,
        max(0, size - have - 1),
        phase="p",
        start=datetime(2026, 6, 1, 8, tzinfo=UTC),
        end=datetime(2026, 6, 12, 20, tzinfo=UTC),
        probes=[
            ("M1", "P1", "probe answers 200", "printf 200"),
            ("M1", "P1-neg", "gate has teeth", "printf 000"),
        ],
        heads=[head],
    )
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write("\n" + text)
    git(repo, "add", "docs/JOURNAL-p.md")
    git(repo, "commit", "-q", "-m", "journal(p): notes", when=datetime(2026, 6, 12, 21, tzinfo=UTC))
    return path.stat().st_size
