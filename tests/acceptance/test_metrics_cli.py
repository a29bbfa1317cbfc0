"""``jobtrail metrics serve`` and ``jobtrail worker --metrics-port`` as real processes
answering HTTP, on both backends; and jobtrail without prometheus_client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from jobtrail import App
from tests.acceptance.conftest import Cli
from tests.support.processes import children_of

OPS = '''
import os
from jobtrail import App, Permanent, Retry

app = App(os.environ["OPS_URL"], lease=1.0)
app.queue("mail", max_latency=0.5)


@app.job(queue="mail")
def send(n: int) -> int:
    return n


@app.job(retry=Retry(max_attempts=1))
def decline(card: str) -> None:
    raise Permanent(f"card {card} declined")
'''

#: Runs the command line with prometheus_client made unimportable.
WITHOUT_PROMETHEUS = (
    "import sys; sys.modules['prometheus_client'] = None; "
    "from jobtrail.cli.main import main; main(sys.argv[1:])"
)


def get(url: str) -> tuple[int, str]:
    """The status and body of a GET of *url* (an error status included)."""
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of sample *name* with exactly *labels* in the exposition *text*."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(cli: Cli, *args: str, **env: str) -> subprocess.Popen[str]:
    """``jobtrail ARGS`` started in *cli*'s directory, its standard error piped."""
    return subprocess.Popen([sys.executable, "-m", "jobtrail", *args], cwd=cli.cwd,
                            env={**cli.env, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_answering(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Wait until *url* answers, failing with *proc*'s errors if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            get(url)
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_metrics_serve_answers_http_until_sigterm(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``jobtrail metrics serve --port 0`` says where it listens, answers /metrics with the
    store's gauges, /healthz with 200 then 503 naming the late queue, and stops on SIGTERM."""
    make_app()
    (cli.cwd / "ops.py").write_text(OPS)
    server = start(cli, "metrics", "serve", "--app", "ops:app", "--port", "0", OPS_URL=db_url)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert line.startswith("serving metrics on http://127.0.0.1:"), line
        base = line.split()[3]
        status, text = get(f"{base}/metrics")
        assert status == 200 and metric(text, "jobtrail_store_up") == 1
        assert get(f"{base}/healthz")[0] == 200
        enqueued = cli("enqueue", "ops:app", "send", "--arg", "n=1", OPS_URL=db_url)
        assert enqueued.code == 0, enqueued.stderr
        time.sleep(0.8)
        status, body = get(f"{base}/healthz")
        assert status == 503
        assert [(f["check"], f["subject"]) for f in json.loads(body)["findings"]] == [
            ("latency", "mail")]
        status, text = get(f"{base}/metrics")
        assert metric(text, "jobtrail_jobs", queue="mail", job="send", status="queued") == 1
        assert metric(text, "jobtrail_oldest_waiting_seconds", queue="mail") >= 0.8  # type: ignore[operator]
        status, body = get(f"{base}/livez")
        assert status == 200 and body.startswith("ok ")
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=20)
    assert server.returncode == 0, errors


def test_a_worker_serves_the_metrics_of_its_processes_and_stops_the_server_with_it(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``jobtrail worker --processes 2 --metrics-port`` serves counters added up across its
    worker processes and the store's gauges; SIGTERM stops the workers and the server."""
    make_app()
    (cli.cwd / "ops.py").write_text(OPS)
    for n in range(5):
        assert cli("enqueue", "ops:app", "send", "--arg", f"n={n}", OPS_URL=db_url).code == 0
    assert cli("enqueue", "ops:app", "decline", "--arg", "card=1", OPS_URL=db_url).code == 0
    port = free_port()
    worker = start(cli, "worker", "ops:app", "--processes", "2", "--metrics-port", str(port),
                   OPS_URL=db_url)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_answering(url, worker)
        deadline = time.monotonic() + 30
        while True:
            text = get(url)[1]
            sent = metric(text, "jobtrail_attempts_total", job="send", queue="mail",
                          status="succeeded", outcome="")
            live = metric(text, "jobtrail_workers", state="live")
            if sent == 5 and live == 2:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert metric(text, "jobtrail_dead_letters_total", job="decline", queue="default",
                      status="dead") == 1
        assert metric(text, "jobtrail_jobs", queue="mail", job="send", status="succeeded") == 5
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        server_pids = [pid for pid in children_of(worker.pid)
                       if b"metrics\x00serve" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(server_pids) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=60)
    assert worker.returncode == 0, errors
    assert not Path(f"/proc/{server_pids[0]}").exists() or \
        Path(f"/proc/{server_pids[0]}/stat").read_text().split()[2] == "Z"
    try:
        get(url)
        raise AssertionError("the metrics server outlived its worker")
    except OSError:
        pass


def test_serve_on_a_port_in_use_is_one_error_line(cli: Cli, db_url: str,
                                                  make_app: Callable[..., App]) -> None:
    """A port another process holds is an error line naming it, exit 1."""
    make_app()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ran = cli("metrics", "serve", "--url", db_url, "--port", str(port))
    assert ran.code == 1
    assert ran.error_line().startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


def test_without_prometheus_client_jobtrail_imports_and_metrics_say_what_to_install(
        cli: Cli, tmp_path: Path) -> None:
    """With prometheus_client missing, jobtrail and its other commands work, and asking for
    metrics is one error naming the extra to install."""
    (cli.cwd / "ops.py").write_text(OPS)
    env = {**cli.env, "OPS_URL": f"sqlite:///{tmp_path / 'ops.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", WITHOUT_PROMETHEUS, *args], cwd=cli.cwd,
                              env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    assert run("db", "upgrade", "ops:app").returncode == 0
    for args in (("metrics", "serve", "--app", "ops:app"),
                 ("worker", "ops:app", "--burst", "--metrics-port", "9999")):
        ran = run(*args)
        assert ran.returncode == 2, ran.stderr
        assert "pip install 'jobtrail[prometheus]'" in ran.stderr
        assert "Traceback" not in ran.stderr
    library = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['prometheus_client'] = None\n"
         "from jobtrail import App\nfrom jobtrail.errors import ConfigurationError\n"
         "App('sqlite:///x.db')\ntry:\n    App('sqlite:///x.db', metrics=True)\n"
         "except ConfigurationError as exc:\n    print(exc)\n"],
        cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert library.returncode == 0, library.stderr
    assert "pip install 'jobtrail[prometheus]'" in library.stdout
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None


def test_a_worker_whose_metrics_port_is_taken_says_so(cli: Cli, db_url: str,
                                                      make_app: Callable[..., App]) -> None:
    """``worker --metrics-port`` on a port another process answers on is an error, not a
    worker that runs on thinking its metrics are served."""
    make_app()
    (cli.cwd / "ops.py").write_text(OPS)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ran = cli("worker", "ops:app", "--burst", "--metrics-port", str(port), timeout=60,
                  OPS_URL=db_url)
    assert ran.code == 1, ran.stderr
    assert "the metrics server could not start" in ran.stderr
