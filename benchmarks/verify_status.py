#!/usr/bin/env python3
"""What verifying signed verdicts costs `loopkit status --json` on the realistic 200-phase workspace.

    .venv/bin/python benchmarks/verify_status.py               # 200 phases, 7 runs each
    .venv/bin/python benchmarks/verify_status.py --phases 20 --runs 3

The workspace is tests/fastbooks.py's (every phase state, the common problems), built in one
`git fast-import`, except that every commit authored by the adversary (its verdicts and what it
consumes) is signed with the adversary's key from `ssh-keygen -t ed25519 -N ''`, and the first
commit holds `docs/allowed_signers`. The same repository is then timed two ways:

- signing off: `[rules] signed = []` (the signatures are there, nothing looks at them);
- signed verdicts: `[rules] signed = ["adversary"]`, cold (`.git/loopkit/index/signatures.json`
  deleted before each run: one pinned `git log` runs ssh-keygen for every verdict commit) and
  warm (the authenticated cache answers: no verification process).

Each figure is the wall-clock median of `--runs` runs of the installed `loopkit` (a fresh process
each, as agents run it) after one discarded warm-up, with a HOME of its own. The goal (issue 9):
warm signed ≤ 1.5x signing off. It prints figures; it never fails on a timing."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import fastbooks  # noqa: E402

from loopkit.gitrepo.signing import SigningKey, commit_tree_sign_args, verify  # noqa: E402
from loopkit.index import Index  # noqa: E402

LOOPKIT = str(Path(sys.executable).parent / "loopkit")
ADVERSARY = "adversary@loopkit.invalid"


class SigningImporter(fastbooks.Importer):
    """fastbooks' importer, signing the adversary's commits: fast-import cannot sign (git 2.39),
    so after each such commit it checkpoints, `commit-tree -S` re-makes the commit signed on the
    same parent, and the branch goes on from the signed one."""

    key: Path
    env: dict[str, str]
    signed = 0
    _from: str | None = None

    def __post_init__(self) -> None:
        # --force: the branch is moved past the unsigned commit each checkpoint wrote
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done", "--force"],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
        )

    def commit(self, writes: dict[str, str], *, who: tuple[str, str], at: datetime, message: str) -> str:
        self.mark += 1
        stamp = f"{int(at.replace(tzinfo=None).timestamp() - fastbooks._epoch_offset())} +0000"
        ident = f"{who[0]} <{who[1]}> {stamp}".encode()
        body = message.encode()
        out = [b"commit refs/heads/main\n", f"mark :{self.mark}\n".encode()]
        out += [b"author " + ident + b"\n", b"committer " + ident + b"\n"]
        out += [f"data {len(body)}\n".encode(), body, b"\n"]
        if self._from is not None:
            out.append(f"from {self._from}\n".encode())
            self._from = None
        elif self.mark > 1:
            out.append(f"from :{self.mark - 1}\n".encode())
        for path, text in writes.items():
            data = text.encode()
            out += [f"M 100644 inline {path}\n".encode(), f"data {len(data)}\n".encode(), data, b"\n"]
            self.files[path] = text
        out.append(f"get-mark :{self.mark}\n".encode())
        self._send(b"".join(out))
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.flush()
        sha = self.proc.stdout.readline().decode().strip()
        if who[1] == ADVERSARY:
            sha = self._sign(sha, who=who, stamp=stamp, message=message)
        self.head = sha
        return sha

    def _sign(self, sha: str, *, who: tuple[str, str], stamp: str, message: str) -> str:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._send(b"checkpoint\nprogress signed\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == b"progress signed"
        env = {
            **self.env,
            "GIT_AUTHOR_NAME": who[0],
            "GIT_AUTHOR_EMAIL": who[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": who[0],
            "GIT_COMMITTER_EMAIL": who[1],
            "GIT_COMMITTER_DATE": stamp,
        }
        parents = subprocess.run(
            ["git", "rev-parse", f"{sha}^@"],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        sign = commit_tree_sign_args(SigningKey(str(self.key), "benchmark"), env)
        signed = subprocess.run(
            [
                "git",
                *sign,
                "commit-tree",
                "-S",
                *[a for p in parents for a in ("-p", p)],
                f"{sha}^{{tree}}",
                "-F",
                "-",
            ],
            cwd=self.root,
            env=env,
            input=message,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self._send(f"reset refs/heads/main\nfrom {signed}\n\n".encode())
        self._from = signed
        self.signed += 1
        return signed


def build(base: Path, phases: int, env: dict[str, str]) -> tuple[Path, int]:
    key = base / "adversary"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, env=env)
    kind, blob = (base / "adversary.pub").read_text(encoding="utf-8").split()[:2]
    allowed = f"{ADVERSARY} {kind} {blob}\n"
    made: list[SigningImporter] = []

    def importer(root: Path) -> SigningImporter:
        found = SigningImporter(root)
        found.key, found.env = key, env
        made.append(found)
        return found

    first = True
    fastbooks.Importer = importer  # type: ignore[misc,assignment]
    # the first commit of the workspace carries allowed_signers: trusted as it stands
    real = SigningImporter.commit

    def first_with_signers(self: SigningImporter, writes: dict[str, str], **kw: object) -> str:
        nonlocal first
        if first:
            first = False
            writes = {**writes, "docs/allowed_signers": allowed}
        return real(self, writes, **kw)  # type: ignore[arg-type]

    SigningImporter.commit = first_with_signers  # type: ignore[method-assign]
    ws = fastbooks.build(base / "repo", phases)
    subprocess.run(["git", "gc", "-q"], cwd=base / "repo", env=env, check=True)
    return ws, made[0].signed


def set_signed(ws: Path, roles: str) -> None:
    path = ws / "loopkit.toml"
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(f"signed = {roles}\n" if line.startswith("signed = ") else line for line in lines), "utf-8"
    )


def timed(ws: Path, env: dict[str, str], runs: int, before: object = None) -> float:
    times = []
    for i in range(runs + 1):
        if callable(before):
            before()
        start = time.perf_counter()
        proc = subprocess.run(
            [LOOPKIT, "status", "--json"], cwd=ws, env=env, capture_output=True, check=False
        )
        elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr.decode()
        if i:
            times.append(elapsed)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopkit-verify-status-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        (home / ".gitconfig").write_text(
            "[user]\n\tname = Person\n\temail = person@example.invalid\n[commit]\n\tgpgsign = false\n",
            encoding="utf-8",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LOOPKIT_", "XDG_"))},
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        os.environ.clear()
        os.environ.update(env)
        start = time.perf_counter()
        ws, signed = build(base, args.phases, env)
        took = time.perf_counter() - start
        print(f"built {args.phases} phases, {signed} signed adversary commits in {took:.1f} s")
        cache = ws.parent / ".git" / "loopkit" / "index" / "signatures.json"

        def cold() -> None:
            cache.unlink(missing_ok=True)

        verdicts = subprocess.run(
            ["git", "log", "--format=%H", "-E", "--grep=^Loopkit-Action: verdict$", "--author=adversary@"],
            cwd=ws.parent, env=env, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        allowed = (ws / "allowed_signers").read_text("utf-8")
        start = time.perf_counter()
        found = verify(ws.parent, verdicts, allowed, environ=env)
        alone = time.perf_counter() - start
        assert all(sig.status == "good" for sig in found.values())
        assert len(found) == len(verdicts)
        start = time.perf_counter()
        for _ in range(2):  # the first fills the index, the second reads it
            memory = Index.open(ws.parent, ws.parent / ".git", env)
            verify(ws.parent, verdicts, allowed, environ=env, memory=memory)
        cached = (time.perf_counter() - start) / 2
        cache.unlink(missing_ok=True)
        print(
            f"verify alone, {len(verdicts)} verdict commits: {alone * 1000:.0f} ms cold, "
            f"{cached * 1000:.0f} ms (fill + read)/2 cached"
        )

        set_signed(ws, "[]")
        off = timed(ws, env, args.runs)
        set_signed(ws, '["adversary"]')
        cold_s = timed(ws, env, args.runs, before=cold)
        warm = timed(ws, env, args.runs)
        check = subprocess.run([LOOPKIT, "check", "--json"], cwd=ws, env=env, capture_output=True, text=True)
        codes = {p["code"] for p in json.loads(check.stdout)["problems"]}
        print(f"status --json, signing off:              {off * 1000:7.0f} ms")
        print(f"status --json, signed verdicts, cold:    {cold_s * 1000:7.0f} ms  ({cold_s / off:.2f}x)")
        ratio = warm / off
        print(f"status --json, signed verdicts, warm:    {warm * 1000:7.0f} ms  ({ratio:.2f}x; goal <= 1.5x)")
        print(f"check's problem codes with signing on: {', '.join(sorted(codes))}")
        shutil.rmtree(base / "repo", ignore_errors=True)


if __name__ == "__main__":
    main()
