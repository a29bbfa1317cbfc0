"""Servers the tests start as real processes: a free port, and waiting for an answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_answer(server: subprocess.Popen[bytes], url: str, timeout: float = 20.0,
                 **headers: str) -> httpx2.Response:
    """The first answer of *server* to a GET of *url*, once it listens; fails when the
    process ends first or nothing answers within *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, server.communicate()[1].decode()
        try:
            return httpx2.get(url, headers=headers, timeout=2)
        except httpx2.TransportError:
            assert time.monotonic() < deadline, f"nothing answered {url} in {timeout:g} s"
            time.sleep(0.1)


@contextmanager
def dashboard_process(folder: Path, target: str, **env: str) -> Iterator[str]:
    """``jobtrail dashboard --app TARGET`` served by its own process from *folder* (on the
    import path, with *env* set and no jobtrail app or URL inherited): its base URL once it
    answers; stopped on the way out."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("JOBTRAIL_APP", "JOBTRAIL_URL")}
    environment.update(PYTHONPATH=os.pathsep.join([str(folder), os.getcwd()]), **env)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "dashboard", "--app", target, "--port", str(port)],
        cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        first_answer(server, base + "/login")
        yield base
    finally:
        server.terminate()
        server.wait(10)
        if server.stderr is not None:
            server.stderr.close()
