#!/usr/bin/env python3
"""loopkit benchmarks: build realistic workspaces in a temporary folder, time loopkit, print figures.

Run with the interpreter loopkit is installed in:

    .venv/bin/python benchmarks/run.py            # full sizes (building takes minutes)
    .venv/bin/python benchmarks/run.py --quick    # small sizes: a smoke run

It prints figures and whether each target is met; it never fails on a timing. It is not part of
the test suite. Command timings are wall-clock medians of N runs (N=7, --quick 3) after one
discarded warm-up run; each command is a fresh process, run the way users and agents run it
(`loopkit …` as a subprocess, the console script of this interpreter). In-process parse timings
are medians of N runs (N=5; 3 for 10 MB; --quick 3). Peak RSS is measured apart from the timings,
through a small launcher process: resource.getrusage(RUSAGE_CHILDREN).ru_maxrss after it ran the
command (Linux counts the parent's resident set at fork into a child's ru_maxrss, so a child of
this script, which holds a 10 MB journal's tokens, would report this script's size instead).

The loopkit code under test is copied into the temporary folder at start and put first on
PYTHONPATH, so edits made to the work tree during a long run cannot change what is measured; the
commit (and whether loopkit/ or templates/ had uncommitted changes) is printed with the results.

Only the standard library and loopkit's own dependencies are used. Everything happens under one
temporary folder (kept with --keep, or placed with --dir) with its own HOME and git configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PY = sys.executable
LOOPKIT = (
    str(Path(PY).parent / "loopkit") if (Path(PY).parent / "loopkit").exists() else shutil.which("loopkit")
)
MB = 1_000_000

# -- sizes ----------------------------------------------------------------------------------------
FULL = {
    "parse_sizes": [1 * MB, 10 * MB],
    "parse_n": 5,
    "cmd_n": 7,
    "add_big": 10 * MB,
    "add_small": 10_000,
    "status_phases": 200,
    "status_bytes": 100 * MB,
    "status_full": 20,
    "filler_rounds": 4,
}
QUICK = {
    "parse_sizes": [200_000, 1 * MB],
    "parse_n": 3,
    "cmd_n": 3,
    "add_big": 1 * MB,
    "add_small": 10_000,
    "status_phases": 20,
    "status_bytes": 5 * MB,
    "status_full": 3,
    "filler_rounds": 2,
}


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- environment ----------------------------------------------------------------------------------
def isolate(tmp: Path) -> dict[str, str]:
    """A HOME of our own: no user or system git configuration, nothing signed, branch `main`."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Dev Person\n\temail = dev@example.invalid\n"
        "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n"
        "[gc]\n\tauto = 0\n",
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOOPKIT_", "GIT_")) and k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE")
    }
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", LC_ALL="C.UTF-8")
    # Bytecode as an installed package has it: this machine sets PYTHONDONTWRITEBYTECODE, and an
    # editable install has no .pyc files, so every start would recompile loopkit (not typer, whose
    # wheel brought its .pyc). A cache folder of our own keeps the work tree untouched.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    os.environ.clear()
    os.environ.update(env)  # in-process service calls (the build) see the same environment
    return env


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, when: datetime | None = None) -> str:
    full = dict(os.environ)
    if env:
        full.update(env)
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        full["GIT_AUTHOR_DATE"] = full["GIT_COMMITTER_DATE"] = stamp
    done = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def lk(
    cwd: Path,
    *args: str,
    role: str | None = None,
    now: datetime | None = None,
    ok: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[str]:
    """The loopkit CLI as an agent runs it."""
    env = dict(os.environ)
    if role:
        env["LOOPKIT_ROLE"] = role
    if now is not None:
        env["LOOPKIT_NOW"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    done = subprocess.run(
        [LOOPKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if done.returncode not in ok:
        raise RuntimeError(
            f"loopkit {' '.join(args)} exited {done.returncode} in {cwd}: {done.stderr.strip()}"
        )
    return done


@dataclass
class Timing:
    runs: list[float]
    maxrss_kb: int
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def add(self, elapsed: float, rss: int, cpu: float) -> None:
        self.runs.append(elapsed)
        self.cpu.append(cpu)
        self.maxrss_kb = max(self.maxrss_kb, rss)


def new_timing() -> Timing:
    return Timing([], 0, [])


def run_once(
    argv: list[str], *, cwd: Path, env: dict[str, str], out: Path | None = None
) -> tuple[float, int, float]:
    """Wall time, peak RSS (kB) and CPU time (user + system, with its own children) of one child."""
    sink_out = open(out, "wb") if out else subprocess.DEVNULL  # noqa: SIM115
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink_out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if out:
            sink_out.close()  # type: ignore[union-attr]
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


_RSS_LAUNCHER = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss(argv: list[str], *, cwd: Path, env_extra: dict[str, str] | None = None) -> int:
    """Peak resident set (kB) of a command and every child it waited for, seen by a small launcher."""
    env = dict(os.environ)
    env.update(env_extra or {})
    done = subprocess.run(
        [PY, "-S", "-E", "-c", _RSS_LAUNCHER, *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    code, rss = done.stdout.split()
    if code != "0":
        raise RuntimeError(f"{' '.join(argv)} exited {code}")
    return int(rss)


def bench(
    argv: list[str],
    *,
    cwd: Path,
    n: int,
    env_extra: dict[str, str] | None = None,
    out: Path | None = None,
) -> Timing:
    env = dict(os.environ)
    env.update(env_extra or {})
    run_once(argv, cwd=cwd, env=env, out=out)  # warm-up, discarded
    timing = new_timing()
    for _ in range(n):
        timing.add(*run_once(argv, cwd=cwd, env=env, out=out))
    return timing


def bench_pair(
    a: tuple[list[str], Path, dict[str, str]],
    b: tuple[list[str], Path, dict[str, str]],
    n: int,
    *,
    before: Any = None,
) -> tuple[Timing, Timing]:
    """Two commands timed alternately, so drift on the machine touches both alike; `before(cwd)`
    runs untimed before every run, the warm-up included."""
    envs = []
    for _, _, extra in (a, b):
        env = dict(os.environ)
        env.update(extra)
        envs.append(env)
    for (argv, cwd, _), env in zip((a, b), envs, strict=True):
        if before is not None:
            before(cwd)
        run_once(argv, cwd=cwd, env=env)
    result: list[Timing] = [new_timing(), new_timing()]
    for _ in range(n):
        for i, ((argv, cwd, _), env) in enumerate(zip((a, b), envs, strict=True)):
            if before is not None:
                before(cwd)
            result[i].add(*run_once(argv, cwd=cwd, env=env))
    return result[0], result[1]


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
def bench_parse(cfg: dict[str, Any], rows: list[Row]) -> None:
    import gc

    from markdown_it import MarkdownIt

    from loopkit.markdown.journal import parse_journal
    from loopkit.markdown.tokens import parser as block_parser

    md = MarkdownIt("commonmark")
    block = block_parser()
    rng = random.Random(1)
    probes = [
        (
            "M1",
            "P1",
            "new probe answers 200",
            "curl -sk -o /dev/null -w %{http_code} https://traefik.ci.example.net/api/version",
        ),
        (
            "M1",
            "P1-neg",
            "gate has teeth",
            "curl -s -o /dev/null -w %{http_code} --max-time 3 http://127.0.0.1:9/",
        ),
        ("M2", "P2", "idle stability", "curl -sk https://ci.example.net/ -o /dev/null -w %{http_code}"),
    ]
    heads = [_sha(rng) for _ in range(6)]
    header = "# JOURNAL — phase pxgate (Builder)\n\n"
    for size in cfg["parse_sizes"]:
        text = header + journal_text(
            rng,
            size - len(header),
            phase="pxgate",
            start=datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
            end=datetime(2026, 6, 13, 18, 0, tzinfo=UTC),
            probes=probes,
            heads=heads,
        )
        mbytes = len(text.encode()) / MB
        n = cfg["parse_n"] if size <= 2 * MB else max(3, cfg["parse_n"] - 2)  # a 10 MB parse takes long
        parse_journal(text[:5000])
        md.parse(text[:5000])
        times: dict[str, list[float]] = {"loopkit": [], "markdown-it": [], "block": []}
        result = None
        for _ in range(n):
            for name, call in (
                ("loopkit", lambda text=text: parse_journal(text)),
                ("markdown-it", lambda text=text: md.parse(text)),
                ("block", lambda text=text: block.parse(text)),
            ):
                gc.collect()
                start = time.perf_counter()
                out = call()
                times[name].append(time.perf_counter() - start)
                if name == "loopkit":
                    result = out
                del out
        assert result is not None
        evidence = sum(len(e.evidence) for e in result.entries)
        probe_records = len(result.probe_records)
        log(
            f"  parse {mbytes:.1f} MB: {len(result.entries)} entries, {evidence} evidence "
            f"({probe_records} probe records), {len(result.warnings)} warnings"
        )
        rate = {k: mbytes / statistics.median(v) for k, v in times.items()}
        label = f"{mbytes:.0f} MB" if mbytes >= 1 else f"{mbytes * 1000:.0f} kB"
        rows.append(
            Row(
                "1",
                f"parse_journal {label} (MB/s, median of {n})",
                f"{rate['loopkit']:.2f} MB/s",
                f"markdown-it commonmark {rate['markdown-it']:.2f} MB/s",
                rate["loopkit"] / rate["markdown-it"],
                ">=",
                0.8,
            )
        )
        rows.append(
            Row(
                "1",
                f"  info: markdown-it block-only parse {label} (loopkit's tokenizer)",
                f"{rate['block']:.2f} MB/s",
                f"loopkit = {rate['loopkit'] / rate['block']:.2f}× of it",
                None,
                None,
                None,
            )
        )


# -- workspaces -----------------------------------------------------------------------------------
def spec_toml(phase: str, title: str, milestones: list[dict[str, Any]], plan: str | None = None) -> str:
    out = [f'phase = "{phase}"', f'title = "{title}"']
    if plan:
        out.append(f'plan = "{plan}"')
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


# -- 2. journal add -------------------------------------------------------------------------------
def bench_journal_add(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    spaces = {}
    for name, size in (("big", cfg["add_big"]), ("small", cfg["add_small"])):
        repo = tmp / f"add-{name}"
        ws = new_repo(repo, when=t0)
        simple_phase(ws, repo, when=t0 + timedelta(minutes=5))
        actual = fill_journal(ws, repo, size, seed=2)
        spaces[name] = (ws, actual)
        log(f"  journal add: {name} journal {actual:,} bytes")
    big_ws, big_size = spaces["big"]
    small_ws, small_size = spaces["small"]
    role = {"LOOPKIT_ROLE": "builder"}
    argv = [LOOPKIT, "journal", "add", "--phase", "p", "--title", "t", "--body", "b"]
    for flag in ([], ["--no-commit"]):
        big, small = bench_pair((argv + flag, big_ws, role), (argv + flag, small_ws, role), n)
        what = "journal add" + (" --no-commit" if flag else " (with commit)")
        rows.append(
            compare(
                "2",
                f"{what}: {big_size / MB:.0f} MB journal vs {small_size / 1000:.0f} kB",
                big,
                small,
                "<=",
                1.2,
            )
        )
        rss_big = peak_rss(argv + flag, cwd=big_ws, env_extra=role)
        rss_small = peak_rss(argv + flag, cwd=small_ws, env_extra=role)
        rows.append(
            Row(
                "2",
                f"  peak RSS, {what} on the {big_size / MB:.0f} MB journal",
                f"{rss_big / 1024:.0f} MiB",
                f"{rss_small / 1024:.0f} MiB on the small one",
                None,
                None,
                None,
            )
        )

    # The first add after the journal grew by hand, or in a fresh clone: loopkit keeps where the
    # journal's last entry starts in .git/loopkit/ (a cache), and without it reads the whole file.
    def forget(ws: Path) -> None:
        for cache in (ws.parent / ".git" / "loopkit").glob("journal-*.json"):
            cache.unlink()

    big, small = bench_pair((argv, big_ws, role), (argv, small_ws, role), n, before=forget)
    rows.append(
        compare(
            "2",
            f"journal add, first after a clone (no .git/loopkit cache): {big_size / MB:.0f} MB vs "
            f"{small_size / 1000:.0f} kB",
            big,
            small,
            "<=",
            1.2,
        )
    )
    check_journal(small_ws, "2")


def check_journal(ws: Path, where: str) -> None:
    """The benchmark's own journals must read back as journals (else the figures mean nothing)."""
    done = lk(ws, "journal", "show", "--phase", "p", "--json")
    data = json.loads(done.stdout)
    if data["warnings"]:
        log(f"  note ({where}): {len(data['warnings'])} parse warnings, first: {data['warnings'][0]}")


# -- 3 and 4. start-up: --help and probe exec -----------------------------------------------------
BARE_APP = '''"""A bare one-command typer app: the floor any typer CLI starts from."""
import typer

app = typer.Typer({options})


@app.command()
def main(name: str = typer.Option("world", help="Who to greet.")) -> None:
    """Greet someone."""
    typer.echo(f"hello {{name}}")


if __name__ == "__main__":
    app()
'''


def write_bare(tmp: Path) -> tuple[Path, Path]:
    plain = tmp / "bare_typer.py"
    plain.write_text(BARE_APP.format(options=""), encoding="utf-8")
    like = tmp / "bare_typer_like_loopkit.py"
    like.write_text(
        BARE_APP.format(
            options="add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None"
        ),
        encoding="utf-8",
    )
    return plain, like


def bench_help(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path, bare_like: Path) -> None:
    n = cfg["cmd_n"]
    lk_help, bare_help = bench_pair(([LOOPKIT, "--help"], tmp, {}), ([PY, str(bare), "--help"], tmp, {}), n)
    rows.append(compare("3", "loopkit --help vs bare typer app --help", lk_help, bare_help, "<=", 1.2))
    lk_help2, like = bench_pair(([LOOPKIT, "--help"], tmp, {}), ([PY, str(bare_like), "--help"], tmp, {}), n)
    rows.append(
        compare("3", "  same, vs bare app with loopkit's typer options (no rich)", lk_help2, like, "<=", 1.2)
    )
    # as this machine runs it by default: PYTHONDONTWRITEBYTECODE and an editable install, no .pyc
    raw = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "no-pycache")}
    lk_raw, bare_raw = bench_pair(([LOOPKIT, "--help"], tmp, raw), ([PY, str(bare), "--help"], tmp, raw), n)
    rows.append(
        compare(
            "3",
            "  info: same, without bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
            lk_raw,
            bare_raw,
            None,
            None,
        )
    )


def bench_probe_exec(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    repo = tmp / "probe"
    ws = new_repo(repo, when=t0)
    simple_phase(ws, repo, when=t0 + timedelta(minutes=5))
    role = {"LOOPKIT_ROLE": "builder"}
    base = [LOOPKIT, "probe", "exec", "--phase", "p", "--milestone", "M1", "--id", "P1"]
    bare_argv = [PY, str(bare)]
    # with its commit first: the --no-commit runs leave the journal changed in the work tree
    committed, bare_t = bench_pair(([*base, "--", "true"], ws, role), (bare_argv, tmp, {}), n)
    nocommit, bare_t2 = bench_pair(([*base, "--no-commit", "--", "true"], ws, role), (bare_argv, tmp, {}), n)
    rows.append(
        compare(
            "4", "probe exec --no-commit -- true vs bare typer app (no args)", nocommit, bare_t2, "<=", 1.5
        )
    )
    rows.append(
        compare(
            "4", "probe exec -- true (with commit) vs bare typer app (no args)", committed, bare_t, "<=", 2.5
        )
    )
    check_journal(ws, "4")


# -- 5. status on 200 phases with 100 MB of journals ---------------------------------------------
MODULES = ["proxy", "gate", "bridge", "sweep", "alerts", "keycloak", "drone", "reports", "registry", "backup"]


def phase_plan(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    phases = []
    for i in range(count):
        mod = MODULES[i % len(MODULES)]
        name = f"p{i:03d}-{mod}"
        milestones = []
        for m in (1, 2):
            probes = []
            for k in range(rng.randint(1, 2)):
                pid = f"P{m}" if k == 0 else f"P{m}-neg"
                if k == 0:
                    kind = rng.random()
                    if kind < 0.5:
                        probes.append(
                            {
                                "id": pid,
                                "title": f"{mod} answers 200",
                                "run": "printf 200",
                                "observe": "stdout",
                                "expect": ["200"],
                            }
                        )
                    elif kind < 0.8:
                        probes.append(
                            {
                                "id": pid,
                                "title": f"{mod} reports its version",
                                "run": "printf 'version 1.4.2'",
                                "observe": "regex:version (\\S+)",
                                "expect": ["1.4.2"],
                            }
                        )
                    else:
                        probes.append(
                            {"id": pid, "title": f"{mod} check exits 0", "run": "true", "observe": "exit"}
                        )
                else:
                    probes.append(
                        {
                            "id": pid,
                            "title": "gate has teeth: a dead service is not healthy",
                            "run": "printf 000",
                            "observe": "stdout",
                            "expect_not": ["200"],
                        }
                    )
            milestones.append(
                {
                    "id": f"M{m}",
                    "title": f"{mod} milestone {m}: " + ("health gate" if m == 1 else "stable after rebuild"),
                    "paths": [f"src/{name}/**"] if m == 1 else [],
                    "probes": probes,
                }
            )
        phases.append(
            {
                "name": name,
                "title": f"{mod.capitalize()} gate, round {i // len(MODULES) + 1}",
                "mod": mod,
                "milestones": milestones,
            }
        )
    return phases


class Clock:
    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now = start
        self.step = step

    def tick(self) -> datetime:
        self.now += self.step
        return self.now


def build_status(root: Path, *, phases: int, total: int, full: int, rounds: int, seed: int) -> dict[str, Any]:
    """One workspace with `phases` phases and `total` bytes of committed journal text (0 for none).

    History, in order: specs; every phase opened (with a code commit each); hand-written journal
    text committed in `rounds` rounds (holding older probe entries, as loopkit renders them);
    then the latest records written through loopkit: for `full` phases the whole loop through the
    CLI (evidence, claim, FAIL, fix, re-claim, PASS, M2, inbox consumed, DONE for some); for most
    others recent probe runs through loopkit's service functions in-process (same code, no
    interpreter start per call), some with M2 not started yet; a quarter stay idle.
    """
    from loopkit.services.context import Context
    from loopkit.services.phases import phase_new
    from loopkit.services.probes import probe_run

    started = time.perf_counter()
    rng = random.Random(seed)
    plan = phase_plan(phases, seed)
    clock = Clock(datetime(2026, 3, 1, 8, tzinfo=UTC), timedelta(minutes=3))
    ws = new_repo(root, when=clock.now)
    repo = root

    def ctx(role: str) -> Context:
        env = dict(os.environ)
        env["LOOPKIT_ROLE"] = role
        env["LOOPKIT_NOW"] = clock.tick().strftime("%Y-%m-%dT%H:%M:%SZ")
        return Context(cwd=ws, environ=env)

    for p in plan:
        (ws / "phases" / f"{p['name']}.toml").write_text(
            spec_toml(p["name"], p["title"], p["milestones"], plan=f"plans/plan-phase-{p['name']}.md"),
            encoding="utf-8",
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"loopkit workspace and {phases} phase specs", when=clock.tick())

    order = list(range(phases))
    full_set = set(rng.sample(order, full))
    rest = [i for i in order if i not in full_set]
    rng.shuffle(rest)
    idle = set(rest[: len(rest) // 4])
    m1_only = set(rest[len(rest) // 4 : len(rest) // 4 + len(rest) * 3 // 10])
    heads: dict[int, str] = {}

    def code_commit(i: int, what: str) -> str:
        folder = repo / "src" / plan[i]["name"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "health.py"
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(
            old + f"# {what} at {clock.now:%Y-%m-%dT%H:%M}\nHEALTH_PATH = '/api/version'\n", encoding="utf-8"
        )
        git(repo, "add", str(path.relative_to(repo)))
        git(repo, "commit", "-q", "-m", f"{plan[i]['mod']}: {what}", when=clock.tick())
        return git(repo, "rev-parse", "HEAD").strip()

    # 1. open every phase (CLI for the sample, in-process for the others), code commits between
    log(f"  [{root.name}] opening {phases} phases")
    for i in order:
        heads[i] = code_commit(i, "first cut")
        if i in full_set:
            lk(ws, "phase", "new", plan[i]["name"], role="orchestrator", now=clock.tick())
        else:
            phase_new(ctx("orchestrator"), plan[i]["name"], None)

    # 2. hand-written journal text, committed in rounds, sizes skewed like real phases
    weights = [rng.lognormvariate(0, 1) for _ in order]
    scale = total / sum(weights) if total else 0
    sizes = [int(w * scale) for w in weights]
    window_start = datetime(2026, 3, 20, tzinfo=UTC)
    window_end = datetime(2026, 5, 31, tzinfo=UTC)
    if total:
        log(f"  [{root.name}] writing {total / MB:.0f} MB of journal text in {rounds} rounds")
        span = (window_end - window_start) / rounds
        for r in range(rounds):
            for i in order:
                p = plan[i]
                probes = [
                    (m["id"], pr["id"], pr["title"], pr["run"])
                    for m in p["milestones"]
                    if m["id"] == "M1" or i % 2 == 0
                    for pr in m["probes"]
                ]
                text = journal_text(
                    random.Random(seed * 1000 + i * 10 + r),
                    sizes[i] // rounds,
                    phase=p["name"],
                    start=window_start + span * r,
                    end=window_start + span * (r + 1) - timedelta(hours=1),
                    probes=probes,
                    heads=[heads[i]],
                )
                path = ws / f"JOURNAL-{p['name']}.md"
                with open(path, "a", encoding="utf-8", newline="") as handle:
                    handle.write("\n" + text)
                git(
                    repo,
                    "commit",
                    "-q",
                    "-m",
                    f"journal({p['name']}): notes, round {r + 1}",
                    "--",
                    str(path.relative_to(repo)),
                    when=window_start + span * (r + 1),
                )
            log(f"  [{root.name}]   round {r + 1}/{rounds} committed")

    # 3. the latest records, written by loopkit
    clock.now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    log(f"  [{root.name}] recent probe runs in {len(rest) - len(idle)} phases (in-process services)")
    for i in rest:
        if i in idle:
            continue
        name = plan[i]["name"]
        probe_run(ctx("builder"), phase=name, milestone="M1", probe=None)
        if i not in m1_only:
            probe_run(ctx("builder"), phase=name, milestone="M2", probe=None)
    log(f"  [{root.name}] full loop through the CLI in {len(full_set)} phases")
    for count, i in enumerate(sorted(full_set)):
        name = plan[i]["name"]
        fails_first = count % 2 == 0
        heads[i] = code_commit(i, "health gate on the service API")
        lk(
            ws,
            "journal",
            "add",
            "--phase",
            name,
            "--title",
            "Starting M1",
            "--body",
            f"**Orientation:**\n- plan read: `plans/plan-phase-{name}.md`",
            role="builder",
            now=clock.tick(),
        )
        lk(ws, "probe", "run", "--phase", name, "--milestone", "M1", role="builder", now=clock.tick())
        lk(
            ws,
            "claim",
            "--phase",
            name,
            "--milestone",
            "M1",
            "--note",
            "health gate probes pass",
            role="builder",
            now=clock.tick(),
        )
        lk(ws, "inbox", "consume", "--to", "adversary", "--all", role="adversary", now=clock.tick())
        lk(
            ws,
            "probe",
            "exec",
            "--phase",
            name,
            "--milestone",
            "M1",
            "--id",
            "B1",
            "--title",
            "break-it: idle stability",
            "--expect",
            "200",
            "--",
            "printf",
            "200",
            role="adversary",
            now=clock.tick(),
        )
        if fails_first:
            lk(
                ws,
                "verdict",
                "FAIL",
                "--phase",
                name,
                "--milestone",
                "M1",
                "--note",
                "rollback path untested",
                role="adversary",
                now=clock.tick(),
            )
            lk(ws, "inbox", "consume", "--to", "builder", "--all", role="builder", now=clock.tick())
            heads[i] = code_commit(i, "rollback path fixed")
            lk(ws, "probe", "run", "--phase", name, "--milestone", "M1", role="builder", now=clock.tick())
            lk(
                ws,
                "claim",
                "--phase",
                name,
                "--milestone",
                "M1",
                "--note",
                "rollback fixed",
                role="builder",
                now=clock.tick(),
            )
            lk(ws, "inbox", "consume", "--to", "adversary", "--all", role="adversary", now=clock.tick())
        lk(
            ws,
            "verdict",
            "PASS",
            "--phase",
            name,
            "--milestone",
            "M1",
            "--note",
            "idle probes pass",
            role="adversary",
            now=clock.tick(),
        )
        lk(ws, "inbox", "consume", "--to", "builder", "--all", role="builder", now=clock.tick())
        lk(ws, "probe", "run", "--phase", name, "--milestone", "M2", role="builder", now=clock.tick())
        lk(ws, "claim", "--phase", name, "--milestone", "M2", role="builder", now=clock.tick())
        lk(ws, "inbox", "consume", "--to", "adversary", "--all", role="adversary", now=clock.tick())
        lk(ws, "verdict", "PASS", "--phase", name, "--milestone", "M2", role="adversary", now=clock.tick())
        if count % 3 != 2:  # a third keep the verdict message pending: ready, not yet done
            lk(ws, "inbox", "consume", "--to", "builder", "--all", role="builder", now=clock.tick())
            if count % 3 == 0:
                lk(
                    ws,
                    "done",
                    "--phase",
                    name,
                    "--summary",
                    "health gate no longer needs the dashboard",
                    role="builder",
                    now=clock.tick(),
                )
        log(f"  [{root.name}]   {count + 1}/{len(full_set)} {name}")
    lk(
        ws,
        "inbox",
        "send",
        "--to",
        "orchestrator",
        "--subject",
        "question on the rollout order",
        "--body",
        "Which goes first?",
        role="builder",
        now=clock.tick(),
    )

    # 4. what auto-gc would have done to a repository with this many objects
    log(f"  [{root.name}] git gc")
    gc_start = time.perf_counter()
    git(repo, "gc", "-q")
    gc_time = time.perf_counter() - gc_start
    journals = sorted(ws.glob("JOURNAL-*.md")) + sorted(ws.glob("REVIEW-*.md"))
    journal_bytes = sum(p.stat().st_size for p in journals)
    commits = int(git(repo, "rev-list", "--count", "HEAD").strip())
    return {
        "seconds": time.perf_counter() - started,
        "gc_seconds": gc_time,
        "journal_bytes": journal_bytes,
        "journals": len(journals),
        "largest": max(p.stat().st_size for p in journals),
        "commits": commits,
        "phases": phases,
        "full": full,
    }


def truncate_journals(src: Path, dst: Path) -> dict[str, Any]:
    """The same workspace, its journals cut back to their first line and that committed."""
    started = time.perf_counter()
    shutil.copytree(src, dst, symlinks=True)
    ws = dst / "docs"
    changed = []
    for path in sorted(ws.glob("JOURNAL-*.md")) + sorted(ws.glob("REVIEW-*.md")):
        with open(path, encoding="utf-8", newline="") as handle:
            first = handle.readline()
        path.write_text(first, encoding="utf-8", newline="")
        changed.append(str(path.relative_to(dst)))
    git(dst, "add", *changed)
    git(dst, "commit", "-q", "-m", "journals emptied", when=datetime(2026, 6, 30, tzinfo=UTC))
    return {
        "seconds": time.perf_counter() - started,
        "journal_bytes": sum((dst / c).stat().st_size for c in changed),
    }


def bench_status(tmp: Path, cfg: dict[str, Any], rows: list[Row], bare: Path) -> None:
    n = cfg["cmd_n"]
    big = tmp / "status-big"
    slim = tmp / "status-slim"
    common = [
        "--phases",
        str(cfg["status_phases"]),
        "--full",
        str(cfg["status_full"]),
        "--rounds",
        str(cfg["filler_rounds"]),
        "--seed",
        "5",
    ]
    log(
        f"  building two workspaces in parallel: {cfg['status_phases']} phases with "
        f"{cfg['status_bytes'] / MB:.0f} MB of journal text, and the same without it"
    )
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [PY, __file__, "--build-status", str(big), "--bytes", str(cfg["status_bytes"]), *common],
            env=dict(os.environ),
        ),
        subprocess.Popen(
            [PY, __file__, "--build-status", str(slim), "--bytes", "0", *common], env=dict(os.environ)
        ),
    ]
    for proc in procs:
        if proc.wait():
            raise RuntimeError("building a status workspace failed")
    build_wall = time.perf_counter() - started
    big_info = json.loads((tmp / "status-big.json").read_text())
    slim_info = json.loads((tmp / "status-slim.json").read_text())
    empty = tmp / "status-empty"
    empty_info = truncate_journals(big, empty)
    log(
        f"  built in {build_wall:.0f} s wall (big {big_info['seconds']:.0f} s "
        f"incl. git gc {big_info['gc_seconds']:.0f} s; "
        f"slim {slim_info['seconds']:.0f} s; empty copy {empty_info['seconds']:.0f} s)"
    )
    log(
        f"  big: {big_info['journals']} journals, {big_info['journal_bytes'] / MB:.1f} MB, "
        f"largest {big_info['largest'] / MB:.1f} MB, "
        f"{big_info['commits']} commits; slim: {slim_info['journal_bytes'] / MB:.2f} MB, "
        f"{slim_info['commits']} commits; "
        f"empty: {empty_info['journal_bytes'] / 1000:.0f} kB"
    )
    argv = [LOOPKIT, "status", "--json"]
    outs = {name: tmp / f"status-{name}.out.json" for name in ("big", "slim", "empty")}
    timings: dict[str, Timing] = {}
    envs = dict(os.environ)
    for name, root in (("big", big), ("slim", slim), ("empty", empty)):
        run_once(argv, cwd=root / "docs", env=envs, out=outs[name])
        timings[name] = new_timing()
    bare_t = new_timing()
    run_once([PY, str(bare)], cwd=tmp, env=envs)
    for _ in range(n):
        for name, root in (("big", big), ("slim", slim), ("empty", empty)):
            timings[name].add(*run_once(argv, cwd=root / "docs", env=envs, out=outs[name]))
        bare_t.add(*run_once([PY, str(bare)], cwd=tmp, env=envs))
    for name in ("big", "slim", "empty"):
        data = json.loads(outs[name].read_text())
        states: dict[str, int] = {}
        problems: dict[str, int] = {}
        for p in data["phases"]:
            states[p["state"]] = states.get(p["state"], 0) + 1
            for pr in p["problems"]:
                problems[pr["code"]] = problems.get(pr["code"], 0) + 1
        log(f"  status --json ({name}): {len(data['phases'])} phases, states {states}, problems {problems}")
    big_t, slim_t, empty_t = timings["big"], timings["slim"], timings["empty"]
    size = f"{big_info['journal_bytes'] / MB:.0f} MB"
    rows.append(
        compare(
            "5",
            f"status --json, {cfg['status_phases']} phases, {size} journals "
            "vs same workspace, journals emptied",
            big_t,
            empty_t,
            "<=",
            1.2,
        )
    )
    rows.append(
        compare(
            "5",
            "  same, vs same history built without the hand-written journal text",
            big_t,
            slim_t,
            "<=",
            1.2,
        )
    )
    rows.append(
        compare("5", f"status --json, {size} journals vs bare typer app (no args)", big_t, bare_t, "<=", 3.0)
    )
    rss = {name: peak_rss(argv, cwd=root / "docs") for name, root in (("big", big), ("empty", empty))}
    rows.append(
        Row(
            "5",
            "  peak RSS, status --json (big workspace)",
            f"{rss['big'] / 1024:.0f} MiB",
            f"{rss['empty'] / 1024:.0f} MiB emptied",
            None,
            None,
            None,
        )
    )
    rows.append(
        Row(
            "5",
            "  build time of the status workspaces (wall, in parallel)",
            f"{build_wall:.0f} s",
            f"big {big_info['seconds']:.0f} s, slim {slim_info['seconds']:.0f} s",
            None,
            None,
            None,
        )
    )


def compare(section: str, what: str, a: Timing, b: Timing, op: str | None, target: float | None) -> Row:
    return Row(
        section,
        what,
        f"{a.median * 1000:.0f} ms (cpu {a.cpu_median * 1000:.0f})",
        f"{b.median * 1000:.0f} ms (cpu {b.cpu_median * 1000:.0f})",
        a.median / b.median,
        op,
        target,
        a.cpu_median / b.cpu_median if b.cpu_median else None,
    )


# -- the table ------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    what: str
    value: str
    baseline: str
    ratio: float | None
    op: str | None
    target: float | None
    cpu_ratio: float | None = None

    @property
    def met(self) -> str:
        if self.ratio is None or self.target is None:
            return ""
        ok = self.ratio >= self.target if self.op == ">=" else self.ratio <= self.target
        return "yes" if ok else "NO"


def print_table(rows: list[Row]) -> None:
    head = ("#", "measure", "loopkit", "baseline", "ratio", "cpu ratio", "target", "met")
    body = [
        (
            r.section,
            r.what,
            r.value,
            r.baseline,
            f"{r.ratio:.2f}×" if r.ratio is not None else "",
            f"{r.cpu_ratio:.2f}×" if r.cpu_ratio is not None else "",
            f"{r.op} {r.target:g}×" if r.target is not None else "",
            r.met,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print(fmt.format(*line))


def machine() -> str:
    import platform

    import markdown_it
    import typer

    try:
        from importlib.metadata import version

        versions = ", ".join(f"{name} {version(name)}" for name in ("typer", "markdown-it-py", "GitPython"))
    except Exception:  # pragma: no cover
        versions = f"markdown-it-py {markdown_it.__version__}, typer {typer.__version__}"
    gitv = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.platform()}; nproc {os.cpu_count()}; Python {platform.python_version()} ({PY}); "
        f"{gitv}; {versions}"
    )


def snapshot(tmp: Path) -> str:
    """Copy the loopkit under test (package, templates, phases) and put the copy first on the path."""
    import importlib.util

    spec = importlib.util.find_spec("loopkit")
    if spec is None or spec.origin is None:
        sys.exit("loopkit is not importable from this interpreter")
    source = Path(spec.origin).resolve().parent.parent
    dest = tmp / "loopkit-src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source / "loopkit", dest / "loopkit", ignore=ignore)
    for extra in ("templates", "phases"):
        if (source / extra).is_dir():
            shutil.copytree(source / extra, dest / extra, ignore=ignore)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(dest) + (os.pathsep + before if before else "")
    sys.path.insert(0, str(dest))
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "log", "-1", "--format=%h %ci %s"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--", "loopkit", "templates"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        head, dirty = "unknown", ""
    state = "with uncommitted changes in loopkit/ or templates/" if dirty else "clean"
    return f"{source} at {head or 'no commit'} ({state}), copied to {dest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and N=3: a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--dir", help="build under this folder (must not exist) instead of a temporary one")
    parser.add_argument("--only", default="1,2,3,4,5", help="comma-separated benchmark numbers (default all)")
    parser.add_argument("--live", action="store_true", help="run the work tree's loopkit, not a copy")
    parser.add_argument("--build-status", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--phases", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--full", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.build_status:  # a child: build one status workspace, write its facts beside it
        root = Path(args.build_status)
        info = build_status(
            root, phases=args.phases, total=args.bytes, full=args.full, rounds=args.rounds, seed=args.seed
        )
        Path(str(root) + ".json").write_text(json.dumps(info), encoding="utf-8")
        return

    if LOOPKIT is None:
        sys.exit("no loopkit console script beside this interpreter: run with the venv's python")
    cfg = QUICK if args.quick else FULL
    only = {part.strip() for part in args.only.split(",")}
    if args.dir:
        tmp = Path(args.dir).resolve()
        tmp.mkdir(parents=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="loopkit-bench-"))
    isolate(tmp)
    code_state = "the live work tree (--live)" if args.live else snapshot(tmp)
    load_start = tuple(round(x, 2) for x in os.getloadavg())
    log(f"machine: {machine()}; load average {load_start}")
    log(f"working in {tmp}")
    rows: list[Row] = []
    bare, bare_like = write_bare(tmp)
    timings = {}
    try:
        for number, label, call in (
            ("1", "journal parse throughput", lambda: bench_parse(cfg, rows)),
            ("2", "journal add on a big journal", lambda: bench_journal_add(tmp, cfg, rows, bare)),
            ("3", "--help", lambda: bench_help(tmp, cfg, rows, bare, bare_like)),
            ("4", "probe exec", lambda: bench_probe_exec(tmp, cfg, rows, bare)),
            ("5", "status on many phases", lambda: bench_status(tmp, cfg, rows, bare)),
        ):
            if number not in only:
                continue
            log(f"[{number}] {label}")
            start = time.perf_counter()
            call()
            timings[number] = time.perf_counter() - start
            log(f"[{number}] done in {timings[number]:.0f} s")
    finally:
        if args.keep or args.dir:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"loopkit benchmarks ({'--quick' if args.quick else 'full'}): {machine()}")
    print(f"loopkit code: {code_state}")
    print(
        f"load average at start {load_start}, at end {tuple(round(x, 2) for x in os.getloadavg())} "
        "(other work on the machine shows as noise)"
    )
    print(
        f"command timings: wall-clock median of N={cfg['cmd_n']} runs after one discarded warm-up, "
        f"commands alternated with their baseline; parse: median of N={cfg['parse_n']} in-process runs "
        f"(N={max(3, cfg['parse_n'] - 2)} above 2 MB).\n"
        "ratio = loopkit's wall median / baseline's (targets are judged on it); cpu ratio = the same for "
        "user+system CPU of the process and its children (less sensitive to other load on the machine).\n"
        "Python bytecode is cached (PYTHONPYCACHEPREFIX in the temporary folder), "
        "as for an installed package."
    )
    print()
    print_table(rows)
    print()
    print("section times: " + ", ".join(f"[{k}] {v:.0f} s" for k, v in timings.items()))


if __name__ == "__main__":
    main()
