"""A real network remote for tests and benchmarks: `git daemon` serving a folder on 127.0.0.1.

    with git_daemon(base) as url:          # base holds bare repositories, e.g. base/remote.git
        git clone f"{url}/remote.git" …   # git://127.0.0.1:PORT/remote.git, pushes allowed

The daemon is stopped when the block ends. Standard library only: benchmarks/builders.py imports
it too."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` serving every repository under `base` (pushes enabled); yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", f"--base-path={base}", "--export-all", "--enable=receive-pack",
         f"--port={port}", "--listen=127.0.0.1", "--reuseaddr", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("git daemon did not start")
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
