"""What every benchmark job does, in every library: note when it started, and for the
round-trip jobs, make one network round trip to the harness's Redis server.

`record(i)` appends one line ``"<i> <time.time()>"`` to a file of its own process under
``$PEERS_RECORD_DIR`` (a RAM-backed directory when the machine has one): one ``write``
system call, no network round trip, the same code for every library. The harness reads
the files; it never asks a library for results.

`roundtrip(i)` records its start the same way, then sends one ``INCR`` to the Redis
database of ``$PEERS_REDIS_URL`` with redis-py and waits for the reply, as a job that
calls a cache or another service would. The client is made once per process, at its first
round trip (after a fork, again in the child), and keeps its connections open: one for
each job it runs at once. `roundtrip_async(i)` is the same with redis-py's asyncio client,
made once per process and event loop, for libraries that run ``async def`` jobs.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

#: The counter every round-trip job increments; the harness resets and reads it.
KEY = "peers:roundtrips"

_dir = os.environ.get("PEERS_RECORD_DIR", "")
_fd = -1
_pid = -1
_lock = threading.Lock()
_client: Any = None
_client_pid = -1
_async_client: tuple[int, asyncio.AbstractEventLoop, Any] | None = None


def record(i: int) -> None:
    """Append ``i`` and the current time to this process's record file."""
    global _fd, _pid
    pid = os.getpid()
    if pid != _pid:  # first job of this process (or a forked child)
        _fd = os.open(os.path.join(_dir, str(pid)), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _pid = pid
    os.write(_fd, b"%d %.6f\n" % (i, time.time()))


def redis_url() -> str:
    return os.environ.get("PEERS_REDIS_URL") or "redis://127.0.0.1:6379/15"


def _sync_client() -> Any:
    global _client, _client_pid
    pid = os.getpid()
    if _client_pid != pid:
        with _lock:
            if _client_pid != pid:
                import redis

                _client = redis.Redis.from_url(redis_url())
                _client_pid = pid
    return _client


def roundtrip(i: int) -> None:
    """Record the start, then one round trip to Redis (a blocking call)."""
    record(i)
    _sync_client().incr(KEY)


async def roundtrip_async(i: int) -> None:
    """Record the start, then one round trip to Redis with the asyncio client."""
    global _async_client
    record(i)
    loop = asyncio.get_running_loop()
    pid = os.getpid()
    if _async_client is None or _async_client[0] != pid or _async_client[1] is not loop:
        import redis.asyncio

        _async_client = (pid, loop, redis.asyncio.Redis.from_url(redis_url()))
    await _async_client[2].incr(KEY)


# -- the harness's side -----------------------------------------------------------------


def reset_roundtrips() -> None:
    """Set the round-trip counter to zero (before a drain of a round-trip job)."""
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        client.delete(KEY)
    finally:
        client.close()


def roundtrips() -> int:
    """How many round trips the jobs have made since `reset_roundtrips`."""
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        return int(client.get(KEY) or 0)
    finally:
        client.close()
