"""``jobtrail retries``: per job type, attempts per success, the errors that caused
retries, how often retried jobs succeeded, backoff (in a subprocess, on both backends)."""

from __future__ import annotations

from collections.abc import Callable

from jobtrail import App, Context, Permanent, Retry, Transient
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli


def test_retries_counts_what_retries_cost_and_bought(cli: Cli, db_url: str,
                                                     make_app: Callable[..., App]) -> None:
    app = make_app()

    @app.job(retry=Retry(max_attempts=3, base=0, jitter="none"))
    def sync(ctx: Context, n: int) -> None:
        if n == 0 and ctx.attempt < 3:
            raise Transient("busy")  # two retries, then success
        if n == 1:
            raise TimeoutError("slow")  # retried until dead
        if n == 2:
            raise Permanent("bad")  # dead at once, no retry

    @app.job
    def steady() -> None: ...

    sync.enqueue_many([{"n": n} for n in range(4)])
    steady.enqueue()
    run_until_idle(app)
    done = cli("retries", "--url", db_url, "--json")
    assert done.code == 0, done.stderr
    by_job = {entry["job"]: entry for entry in done.json()}
    stats = by_job["sync"]
    assert (stats["succeeded"], stats["dead"], stats["retries"]) == (2, 2, 4)
    assert stats["attempts_per_success"] == 2.0  # 3 + 1 attempts for 2 successes
    assert (stats["retried_succeeded"], stats["retried_dead"]) == (1, 1)
    assert stats["retried_success_rate"] == 0.5
    assert stats["errors"] == {"jobtrail.errors.Transient": 2, "TimeoutError": 2}
    assert by_job["steady"]["retries"] == 0 and by_job["steady"]["attempts_per_success"] == 1.0
    table = cli("retries", "--url", db_url, COLUMNS="200")
    assert "sync" in table.stdout and "50%" in table.stdout
    empty = cli("retries", "--url", db_url, "--window", "1s")
    assert empty.code == 0
