"""``jobtrail dashboard`` as a real server in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx2

from jobtrail import App
from jobtrail.testing import run_until_idle
from tests.support.servers import first_answer, free_port

APP_SOURCE = textwrap.dedent(
    '''
    """The app the dashboard serves."""

    import os

    from jobtrail import App

    app = App(os.environ["SHOP_URL"])


    @app.job
    def greet(name: str) -> str:
        return f"hello {name}"
    '''
)


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("JOBTRAIL_DASHBOARD_TOKENS", "JOBTRAIL_APP", "JOBTRAIL_URL",
                          "JOBTRAIL_TRACE_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), os.getcwd()])
    env["SHOP_URL"] = url
    return env


def test_the_command_serves_the_dashboard(tmp_path: Path) -> None:
    """`jobtrail dashboard --app shop:app` listens on the port given, serves / and
    /jobs?format=json (and refuses a request addressed to another name, having no token),
    and stops on SIGTERM."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    (tmp_path / "shop.py").write_text(APP_SOURCE)
    app = App(url)
    app.upgrade()

    @app.job
    def greet(name: str) -> str:
        return f"hello {name}"

    job_id = app.enqueue("greet", name="Ada").id
    run_until_idle(app)
    app.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "dashboard", "--app", "shop:app", "--port", str(port)],
        cwd=tmp_path, env=environment(tmp_path, url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        overview = first_answer(server, base + "/", accept="text/html")
        assert overview.status_code == 200 and "Overview" in overview.text
        assert "content-security-policy" in overview.headers
        rebound = httpx2.get(base + "/", headers={"host": "evil.example"}, timeout=5)
        assert rebound.status_code == 421 and "content-security-policy" in rebound.headers
        listed = httpx2.get(base + "/jobs?format=json", timeout=5).json()
        assert [(job["id"], job["status"]) for job in listed["jobs"]] == [(job_id, "succeeded")]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    said = stderr.decode()
    assert "unauthenticated" in said and f"http://127.0.0.1:{port}/" in said


def test_another_host_without_tokens_is_refused(tmp_path: Path) -> None:
    """Without a token, --host 0.0.0.0 exits 2 with one line saying why and what to do."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    bare = App(url)
    bare.upgrade()
    bare.close()
    run = subprocess.run(
        [sys.executable, "-m", "jobtrail", "dashboard", "--url", url, "--host", "0.0.0.0"],
        cwd=tmp_path, env=environment(tmp_path, url), capture_output=True, timeout=30)
    assert run.returncode == 2
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no dashboard token is configured")
    assert "0.0.0.0" in lines[0] and "jobtrail tokens create" in lines[0]


def test_a_trace_url_that_is_not_an_http_template_is_refused(tmp_path: Path) -> None:
    """--trace-url, or $JOBTRAIL_TRACE_URL, that is not an http(s) address holding
    {trace_id} exits 2 with one line naming the option, before serving anything."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    bare = App(url)
    bare.upgrade()
    bare.close()
    command = [sys.executable, "-m", "jobtrail", "dashboard", "--url", url]
    env = environment(tmp_path, url)
    given = subprocess.run([*command, "--trace-url", "javascript:alert({trace_id})"],
                           cwd=tmp_path, env=env, capture_output=True, timeout=30)
    from_env = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=30,
                              env={**env, "JOBTRAIL_TRACE_URL": "https://tracing.example/x"})
    for run, words in ((given, "is not an http:// or https:// address"),
                       (from_env, "must hold {trace_id}")):
        assert run.returncode == 2
        lines = run.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and "--trace-url" in lines[0] and words in lines[0], lines
