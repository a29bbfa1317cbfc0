"""Servers the tests start as real processes: a free port, and waiting for an answer."""

from __future__ import annotations

import socket
import subprocess
import time

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
