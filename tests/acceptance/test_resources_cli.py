"""``jobs show`` and ``jobtrail resources``: what attempts used, per attempt and per job
type (in a subprocess, on both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable

from jobtrail import App
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli

MIB = 2**20


def _burn(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def test_jobs_show_and_resources_report_usage(cli: Cli, db_url: str,
                                              make_app: Callable[..., App]) -> None:
    """``jobs show`` prints an attempt's CPU time and peak memory in its timeline, and
    ``jobtrail resources --json`` aggregates attempts per job type."""
    app = make_app()

    @app.job
    def compute(n: int) -> None:
        _burn(0.02 * (n + 1))

    handles = compute.enqueue_many([{"n": n} for n in range(4)])
    run_until_idle(app)
    shown = cli("jobs", "show", str(handles[0].id), "--url", db_url)
    assert shown.code == 0, shown.stderr
    assert "cpu=" in shown.stdout and " ms" in shown.stdout
    assert "peak_memory=" in shown.stdout and "MiB" in shown.stdout
    done = cli("resources", "--url", db_url, "--json")
    assert done.code == 0, done.stderr
    (usage,) = [u for u in done.json()["jobs"] if u["job"] == "compute"]
    assert usage["attempts"] == 4 and usage["cpu_measured"] == 4
    assert 0.015 <= usage["cpu_mean"] <= 0.5
    assert usage["cpu_max"] >= 0.07
    assert usage["wall_max"] >= usage["wall_p95"] >= usage["wall_p50"] > 0
    assert usage["max_rss"] > 10 * MIB
    text = cli("resources", "--url", db_url)
    assert text.code == 0 and "compute" in text.stdout and "MiB" in text.stdout
