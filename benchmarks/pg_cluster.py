"""A throwaway PostgreSQL cluster: created in a temporary directory, started on a free
port, restarted at will, and removed at the end.

The chaos run restarts its database in the middle of the run; it must never do that to a
server somebody else uses, so it makes its own: ``initdb`` into a new temporary
directory, ``pg_ctl start`` on a free port of 127.0.0.1 with its socket in that
directory, one database (``chaos``). PostgreSQL refuses to run as root, so when this
process is root the binaries run as the ``postgres`` OS user through ``runuser``.

``remove`` stops the server (``-m immediate``) and deletes the directory; it never
raises, so it can run from any ``finally``. For the exits no ``finally`` sees (a
``SIGKILL`` of the process that made the cluster), a small reaper process holds a pipe from
it: when the pipe closes without ``remove`` having run, the reaper stops the server and
deletes the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATABASE = "chaos"
PG_USER = "postgres"
START_TIMEOUT = 60
STOP_TIMEOUT = 30
SEARCH_GLOB = "/usr/lib/postgresql/*/bin"
# Run as ``python -c REAPER ROOT PG_CTL_STOP...``: wait for end-of-file on standard input
# (the pipe from the process that made the cluster), then stop the server and remove ROOT.
REAPER = """
import os, shutil, subprocess, sys
root, stop = sys.argv[1], sys.argv[2:]
try:
    while os.read(0, 4096):
        pass
except OSError:
    pass
if os.path.exists(os.path.join(root, "data", "postmaster.pid")):
    subprocess.run(stop, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=90, check=False)
shutil.rmtree(root, ignore_errors=True)
"""


class ClusterError(Exception):
    """The throwaway cluster could not be made, started, restarted or reached."""


def find_bindir(explicit: str | None = None) -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: *explicit*, else the newest
    ``/usr/lib/postgresql/<version>/bin``, else the one of ``pg_ctl`` on ``PATH``."""
    if explicit:
        candidates = [Path(explicit)]
    else:
        found = sorted(Path("/").glob(SEARCH_GLOB.lstrip("/")), key=_version_key, reverse=True)
        on_path = shutil.which("pg_ctl")
        candidates = found + ([Path(on_path).parent] if on_path else [])
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    where = explicit or f"{SEARCH_GLOB} or PATH"
    raise ClusterError(f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}: "
                       "install the PostgreSQL server or pass --pg-bin DIR")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayCluster:
    """One PostgreSQL cluster of this process's own (see the module docstring)."""

    def __init__(self, bindir: Path, *, max_connections: int = 200) -> None:
        self.bindir = bindir
        self.max_connections = max_connections
        self.root: Path | None = None
        self.port = 0
        self.restarts = 0
        self._as_user: list[str] = []
        self._owner: tuple[int, int] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ClusterError("running as root, PostgreSQL must run as another user, "
                                   "and runuser was not found")
            try:
                entry = pwd.getpwnam(PG_USER)
            except KeyError:
                raise ClusterError(f"running as root, PostgreSQL must run as another user, "
                                   f"and there is no {PG_USER!r} user") from None
            self._as_user = [runuser, "-u", PG_USER, "--"]
            self._owner = (entry.pw_uid, entry.pw_gid)

    @property
    def data(self) -> Path:
        assert self.root is not None, "the cluster was not started"
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        assert self.root is not None, "the cluster was not started"
        return self.root / "server.log"

    @property
    def url(self) -> str:
        """The URL of the cluster's database."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        """initdb, start on a free port, create the database."""
        self.root = Path(tempfile.mkdtemp(prefix="jobtrail-chaos-pg-"))
        if self._owner is not None:
            os.chown(self.root, *self._owner)
        # Its own session, so a Ctrl-C meant for the run does not end it before `remove`.
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", REAPER, str(self.root), *self._command(
                "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                "-t", str(STOP_TIMEOUT), "stop")],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync", timeout=120)
        self.port = free_port()
        options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} "
                   f"-c max_connections={self.max_connections}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-o", options,
                  "-w", "-t", str(START_TIMEOUT), "start", timeout=START_TIMEOUT + 10)
        self._create_database()

    def restart(self) -> float:
        """Restart the server as a crash would (``-m immediate``): every connection is cut
        and the server recovers from its WAL. Return the seconds it took."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-m", "immediate",
                  "-w", "-t", str(START_TIMEOUT), "restart", timeout=START_TIMEOUT + 10)
        self.restarts += 1
        return time.monotonic() - started

    def save_log(self, destination: Path) -> None:
        """Copy the server's log next to the run's other evidence (never raises)."""
        if self.root is not None and self.log_file.exists():
            with contextlib.suppress(OSError):
                shutil.copyfile(self.log_file, destination)

    def remove(self) -> None:
        """Stop the server at once and delete its directory; never raises."""
        if self.root is None:
            return
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(ClusterError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                          "-t", str(STOP_TIMEOUT), "stop", timeout=STOP_TIMEOUT + 10)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        if self._reaper is not None:  # nothing left for it to do: let it go
            with contextlib.suppress(OSError):
                if self._reaper.stdin is not None:
                    self._reaper.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._reaper.wait(timeout=STOP_TIMEOUT)
            self._reaper = None

    def _create_database(self) -> None:
        try:
            import psycopg
        except ImportError:
            raise ClusterError("PostgreSQL needs the postgres extra: "
                               "pip install 'jobtrail[postgres]'") from None
        admin = f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"could not create database {DATABASE!r}: {first}") from exc

    def _command(self, program: str, *args: str) -> list[str]:
        return [*self._as_user, str(self.bindir / program), *args]

    def _run(self, program: str, *args: str, timeout: float) -> None:
        """Run a server binary (as the postgres user when root); raise `ClusterError` with
        the last line it wrote when it fails."""
        assert self.root is not None
        output = self.root / "ctl.out"
        command = self._command(program, *args)
        with output.open("ab") as sink:
            try:
                # Its own session: a Ctrl-C meant for the run must not reach the server.
                code = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=sink,
                                      stderr=subprocess.STDOUT, timeout=timeout,
                                      start_new_session=True, check=False).returncode
            except subprocess.TimeoutExpired:
                raise ClusterError(f"{program} {args[-1]} did not finish within "
                                   f"{timeout:g}s (see {output})") from None
        if code != 0:
            raise ClusterError(f"{program} {args[-1]} failed with exit status {code}: "
                               f"{_last_line(output, self.log_file)}")


def _last_line(*files: Path) -> str:
    """The last non-empty line of the first of *files* that has one."""
    for path in files:
        try:
            lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            continue
        if lines:
            return lines[-1].strip()
    return "no output"
