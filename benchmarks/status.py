"""Scenario P4b: `status --json` on 200 phases with 100 MB of journals, built by loopkit's services."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import journal_text, new_repo, spec_toml
from harness import (
    LOOPKIT,
    MB,
    PY,
    Row,
    Timing,
    compare,
    git,
    lk,
    log,
    new_timing,
    peak_rss,
    run_once,
    settle,
)

# -- 5. status on 200 phases with 100 MB of journals ---------------------------------------------
MODULES = ["proxy", "gate", "bridge", "sweep", "alerts", "keycloak", "drone", "reports", "registry", "backup"]


def phase_plan(count: int, seed: int, *, scoped: bool = True) -> list[dict[str, Any]]:
    """`scoped`: each phase's spec names its own code (`src/<phase>/**`) as its scope, as phases
    worked in parallel in one repository do; M1 names it again at the milestone level."""
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
                "paths": [f"src/{name}/**"] if scoped else [],
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


def build_status(
    root: Path, *, phases: int, total: int, full: int, rounds: int, seed: int, scoped: bool = True
) -> dict[str, Any]:
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
    plan = phase_plan(phases, seed, scoped=scoped)
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
            spec_toml(
                p["name"],
                p["title"],
                p["milestones"],
                plan=f"plans/plan-phase-{p['name']}.md",
                paths=p["paths"],
            ),
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
            [
                PY,
                str(Path(__file__).resolve().parent / "run.py"),
                "--build-status",
                str(big),
                "--bytes",
                str(cfg["status_bytes"]),
                *common,
            ],
            env=dict(os.environ),
        ),
        subprocess.Popen(
            [
                PY,
                str(Path(__file__).resolve().parent / "run.py"),
                "--build-status",
                str(slim),
                "--bytes",
                "0",
                *common,
            ],
            env=dict(os.environ),
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
    settle()  # the emptied copy was just committed: out of the racy window before timing
    argv = [LOOPKIT, "status", "--json"]
    outs = {name: tmp / f"status-{name}.out.json" for name in ("big", "slim", "empty")}
    timings: dict[str, Timing] = {}
    envs = dict(os.environ)
    for name, root in (("big", big), ("slim", slim), ("empty", empty)):
        run_once(argv, cwd=root / "docs", env=envs, out=outs[name])
        timings[name] = new_timing()
    bare_t = new_timing()
    run_once([PY, str(bare)], cwd=tmp, env=envs)
    cold_t = new_timing()  # the big one with .git/loopkit deleted first; the run after it is warm again
    for _ in range(n):
        for name, root in (("big", big), ("slim", slim), ("empty", empty)):
            timings[name].add(*run_once(argv, cwd=root / "docs", env=envs, out=outs[name]))
        bare_t.add(*run_once([PY, str(bare)], cwd=tmp, env=envs))
        shutil.rmtree(big / ".git" / "loopkit", ignore_errors=True)
        cold_t.add(*run_once(argv, cwd=big / "docs", env=envs))
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
            goal="status-big",
        )
    )
    rows.append(
        compare(
            "5",
            "  same, cold (.git/loopkit deleted before each run) vs emptied, warm",
            cold_t,
            empty_t,
            goal="status-cold",
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
    rows.append(compare("P4b", f"status --json, {size} journals vs bare typer app", big_t, bare_t, "<=", 2.0))
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
