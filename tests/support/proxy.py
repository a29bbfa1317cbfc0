"""A TCP proxy on loopback that plays a bad network between a worker and its database.

`FlakyProxy` forwards 127.0.0.1:<port> to a target, one pair of sockets and two pumping
threads per connection. Faults, each on until undone:

- `cut` drops every connection and refuses new ones (a database gone) until `restore`;
- `reset` resets every open connection now (mid-transaction, if one is under way), and
  `drop_randomly` resets each connection with some probability at every chunk it forwards,
  before or after passing it on (so a statement is lost before the server sees it, or the
  server's answer is lost after it committed);
- `stall` stops forwarding in one or both directions, connections kept open and new ones
  accepted but stalled alike (a database that hangs), until `release`;
- `slow` delays every chunk forwarded (a slow link), until ``slow(0)``.

`resets` and `chunks` count what the proxy did, so a test can check its fault happened.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from typing import Literal

Direction = Literal["up", "down", "both"]  # up: client → server; down: server → client
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset, not a FIN


class _Link:
    """One proxied connection: the client's socket and the upstream one."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.closed = False

    def close(self, *, abort: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if abort:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
                    sock.shutdown(socket.SHUT_RD)  # wakes the pump blocked in recv()
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to a target, with the faults of the module docstring."""

    def __init__(self, target_host: str, target_port: int, *, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._state = threading.Condition()
        self._links: list[_Link] = []
        self._stalled: set[str] = set()
        self._delay = 0.0
        self._drop_chance = 0.0
        self._random = random.Random(seed)
        self._closed = False
        self.resets = 0
        self.chunks = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # idle connections (a LISTEN) must stay open
            link = _Link(client, upstream)
            with self._state:
                self._links.append(link)
            for src, dst, way in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=self._pump, args=(link, src, dst, way),
                                 daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while data := src.recv(65536):
                if not self._pass(link, way):
                    return
                dst.sendall(data)
                if not self._pass(link, way, after=True):
                    return
        except OSError:
            pass
        finally:
            self._drop(link, abort=False)

    def _pass(self, link: _Link, way: str, *, after: bool = False) -> bool:
        """Hold a chunk while its direction is stalled or the link is slow; False when the
        link is closed meanwhile, or the dice say to reset it (before or *after* sending)."""
        with self._state:
            if not after:
                self.chunks += 1
                if self._delay:
                    self._state.wait_for(lambda: link.closed, timeout=self._delay)
                self._state.wait_for(lambda: link.closed or way not in self._stalled)
            chance = self._drop_chance / 2  # half before a chunk, half after it
            doomed = not link.closed and chance > 0 and self._random.random() < chance
        if doomed:
            with self._state:
                self.resets += 1
            self._drop(link, abort=True)
        return not link.closed

    def _drop(self, link: _Link, *, abort: bool) -> None:
        with self._state:
            if link in self._links:
                self._links.remove(link)
            link.close(abort=abort)
            self._state.notify_all()

    def _drop_all(self, *, abort: bool) -> int:
        with self._state:
            links = list(self._links)
        for link in links:
            self._drop(link, abort=abort)
        return len(links)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._up.clear()
        self._drop_all(abort=False)

    def restore(self) -> None:
        """Accept connections again."""
        self._up.set()

    def reset(self) -> int:
        """Reset every open connection now (new ones are accepted); return how many."""
        dropped = self._drop_all(abort=True)
        with self._state:
            self.resets += dropped
        return dropped

    def drop_randomly(self, chance: float) -> None:
        """Reset a connection with this *chance* at each chunk it forwards (0: never)."""
        with self._state:
            self._drop_chance = chance

    def stall(self, direction: Direction = "both") -> None:
        """Stop forwarding bytes in *direction* (connections stay open) until `release`."""
        with self._state:
            self._stalled |= {"up", "down"} if direction == "both" else {direction}

    def release(self) -> None:
        """Forward again what was stalled, and whatever comes next."""
        with self._state:
            self._stalled.clear()
            self._state.notify_all()

    def slow(self, delay: float) -> None:
        """Hold every chunk *delay* seconds before forwarding it (0: at once)."""
        with self._state:
            self._delay = delay
            self._state.notify_all()

    @property
    def open_connections(self) -> int:
        """How many connections the proxy forwards now."""
        with self._state:
            return len(self._links)

    def close(self) -> None:
        self._closed = True
        self.release()
        self.slow(0)
        self.drop_randomly(0)
        self.cut()
        self._listener.close()
