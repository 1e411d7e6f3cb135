"""The benchmark harness: an isolated HOME, fresh processes timed side by side with a baseline
(B0, a bare typer app), medians, ratios, the table."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PY = sys.executable
LOOPKIT = (
    str(Path(PY).parent / "loopkit") if (Path(PY).parent / "loopkit").exists() else shutil.which("loopkit")
)
MB = 1_000_000
# loopkit trusts what it remembered of a file only when the file had not changed within 2 s of the
# read (git's "racily clean" rule, services/status.py RACY_NS): a workspace timed right after it
# was built would never be warm. `settle()` waits that out once after a build.
RACY_S = 2.0


def settle() -> None:
    time.sleep(RACY_S + 0.5)


# -- sizes ----------------------------------------------------------------------------------------
FULL = {
    "parse_sizes": [1 * MB, 4 * MB],  # small, big: issue 24 measures 4 MB
    "parse_n": 5,
    "cmd_n": 7,
    "add_big": 10 * MB,
    "add_small": 10_000,
    "status_phases": 200,
    "status_bytes": 100 * MB,
    "status_full": 20,
    "filler_rounds": 4,
    "realistic_phases": 200,
}
QUICK = {
    "parse_sizes": [200_000, 800_000],
    "parse_n": 3,
    "cmd_n": 3,
    "add_big": 1 * MB,
    "add_small": 10_000,
    "status_phases": 20,
    "status_bytes": 5 * MB,
    "status_full": 3,
    "filler_rounds": 2,
    "realistic_phases": 20,
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
    argv: list[str], *, cwd: Path, env: dict[str, str], out: Path | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[float, int, float]:
    """Wall time, peak RSS (kB) and CPU time (user + system, with its own children) of one child;
    an exit code outside `ok` is an error."""
    sink_out = open(out, "wb") if out else subprocess.DEVNULL  # noqa: SIM115
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink_out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if out:
            sink_out.close()  # type: ignore[union-attr]
        if proc.returncode not in ok:
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
    ok: tuple[int, ...] = (0,),
) -> tuple[Timing, Timing]:
    """Two commands timed alternately, so drift on the machine touches both alike; `before(cwd)`
    runs untimed before every run, the warm-up included; `ok`: the exit codes that are no error."""
    envs = []
    for _, _, extra in (a, b):
        env = dict(os.environ)
        env.update(extra)
        envs.append(env)
    for (argv, cwd, _), env in zip((a, b), envs, strict=True):
        if before is not None:
            before(cwd)
        run_once(argv, cwd=cwd, env=env, ok=ok)
    result: list[Timing] = [new_timing(), new_timing()]
    for _ in range(n):
        for i, ((argv, cwd, _), env) in enumerate(zip((a, b), envs, strict=True)):
            if before is not None:
                before(cwd)
            result[i].add(*run_once(argv, cwd=cwd, env=env, ok=ok))
    return result[0], result[1]


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


def compare(
    section: str,
    what: str,
    a: Timing,
    b: Timing,
    op: str | None = None,
    target: float | None = None,
    *,
    goal: str | None = None,
) -> Row:
    """A row of a / b; `goal` names one of GOALS, whose target the row is then judged on."""
    if goal is not None:
        op, target = "<=", GOALS[goal][1]
    return Row(
        section,
        what,
        f"{a.median * 1000:.0f} ms (cpu {a.cpu_median * 1000:.0f})",
        f"{b.median * 1000:.0f} ms (cpu {b.cpu_median * 1000:.0f})",
        a.median / b.median,
        op,
        target,
        a.cpu_median / b.cpu_median if b.cpu_median else None,
        goal,
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
    goal: str | None = None  # a key of GOALS: the row is that goal's figure

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


# -- issue 21's speed goals -----------------------------------------------------------------------
# key: (the figure, its goal as a ratio <=, the section of run.py that measures it), in the order
GOALS: dict[str, tuple[str, float, str]] = {
    "parse": ("journal parse 4 MB / markdown-it-py's own parse", 1.25, "1"),
    "add": ("journal add 10 MB / 10 kB, with commit", 1.3, "2"),
    "add-nc": ("journal add --no-commit 10 MB / 10 kB", 1.1, "2"),
    "probe-nc": ("probe exec --no-commit -- true / bare typer", 1.8, "4"),
    "probe": ("probe exec -- true (with its commit) / bare typer", 2.2, "4"),
    "inbox": ("inbox list / bare typer", 1.5, "7"),
    "status-big": ("status --json, 200 phases, 100 MB of journals, warm / empty journals", 1.2, "5"),
    "status-cold": ("the same, cold (.git/loopkit deleted) / empty journals warm", 4.0, "5"),
    "status-real": ("status --json, realistic 200 phases, warm / bare typer", 2.0, "6"),
    "check-real": ("check --json, realistic 200 phases, warm / bare typer", 4.0, "6"),
}


def print_goals(rows: list[Row], *, quick: bool) -> None:
    """Issue 21's table: each goal's figure from this run, its goal, met or missed."""
    found = {r.goal: r for r in rows if r.goal}
    title = "issue 21 speed goals, measured side by side in this run"
    if quick:
        title += " -- QUICK: small sizes and N=3, not the goals' sizes; a smoke figure only"
    print(title)
    head = ("figure", "ratio", "cpu ratio", "goal", "met", "as measured (loopkit / baseline)")
    body = []
    for key, (figure, target, section) in GOALS.items():
        row = found.get(key)
        if row is None or row.ratio is None:
            body.append((figure, "", "", f"<= {target:g}×", "not run", f"section {section} not run"))
            continue
        met = "met" if row.ratio <= target else "MISSED"
        body.append(
            (
                figure,
                f"{row.ratio:.2f}×",
                f"{row.cpu_ratio:.2f}×" if row.cpu_ratio is not None else "",
                f"<= {target:g}×",
                met + (" (quick)" if quick else ""),
                f"{row.what.strip()}: {row.value} / {row.baseline}",
            )
        )
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print(fmt.format(*line).rstrip())


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
