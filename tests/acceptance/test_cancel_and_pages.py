"""``jobtrail cancel ID...``, listings a page at a time ("50 of 1,234", ``--before``, the
command for the next page), and ``--since`` as an age everywhere (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobtrail import App, Retry
from jobtrail.store.base import NewJob
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import JOB_KEYS, Cli, Shop


def waiting_and_done(make_app: Callable[..., App]) -> tuple[list[int], int]:
    """Three jobs that wait to run, and one that already succeeded."""
    app = make_app()

    @app.job
    def ping(n: int) -> int:
        return n

    done = ping.enqueue(n=0)
    run_until_idle(app)
    return [ping.enqueue(n=n).id for n in (1, 2, 3)], done.id


def test_cancel_cancels_each_waiting_job_and_says_why_not_for_the_others(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """One line per job: the waiting ones cancelled, the finished one and the unknown id
    each one error line, then a summary; exit 1; the others are cancelled all the same."""
    waiting, done = waiting_and_done(make_app)
    run = cli("cancel", str(waiting[0]), str(done), "777", str(waiting[2]), "--url", db_url)
    assert run.code == 1
    assert run.stdout.splitlines() == [
        f"job {waiting[0]} (ping) cancelled: now cancelled",
        f"job {waiting[2]} (ping) cancelled: now cancelled",
        "cancelled: 2 of 4 jobs; 1 not found; 1 refused: their status does not allow it"]
    assert run.stderr.splitlines() == [
        f"error: cannot cancel job {done}: it is succeeded, expected queued or retrying",
        "error: no job with id 777"]
    listed = cli("jobs", "list", "--status", "queued", "--url", db_url, "--json").json()
    assert [job["id"] for job in listed["jobs"]] == [waiting[1]]


def test_cancel_exit_codes_and_json(cli: Cli, make_app: Callable[..., App], db_url: str) -> None:
    """--json is an array of results, one per distinct id; exit 0 when all are cancelled,
    3 when the only failures are unknown ids, and usage errors are one line."""
    waiting, done = waiting_and_done(make_app)
    run = cli("cancel", str(waiting[1]), str(waiting[1]), "--url", db_url, "--json")
    assert run.code == 0, run.stderr
    assert run.json() == [{"id": waiting[1], "ok": True, "result": "done", "job_name": "ping",
                           "queue": "default", "status": "cancelled", "message": None}]
    assert run.stdout.count("\n") > 1 and run.stderr == ""
    unknown = cli("cancel", "99999999999999999999999", "0", "--url", db_url, "--json")
    assert unknown.code == 3
    results: list[dict[str, Any]] = unknown.json()
    assert [(r["ok"], r["result"], r["job_name"]) for r in results] == [
        (False, "not_found", None)] * 2
    assert unknown.stderr.splitlines() == ["error: no job with id 99999999999999999999999",
                                           "error: no job with id 0"]
    single = cli("cancel", "31337", "--url", db_url)
    assert single.code == 3 and single.error_line() == "error: no job with id 31337"
    empty = cli("cancel", "--url", db_url)
    assert empty.code == 2 and "Missing argument 'ID...'" in empty.error_line()
    word = cli("cancel", "seven", "--url", db_url)
    assert word.code == 2 and "'seven' is not a valid integer" in word.error_line()
    refused = cli("cancel", str(done), "--url", db_url)
    assert refused.code == 1 and refused.error_line() == (
        f"error: cannot cancel job {done}: it is succeeded, expected queued or retrying")


def test_a_job_name_with_a_newline_stays_on_its_line(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """Each job's line is one line, whatever its name holds."""
    app = make_app()
    (job_id,) = app.store.enqueue([NewJob("evil\nname\x1b[31m", "q", "{}", max_attempts=1)])
    run = cli("cancel", str(job_id), "--url", db_url)
    assert run.code == 0, run.stderr
    assert run.stdout == f"job {job_id} (evil\\nname\\x1b[31m) cancelled: now cancelled\n"


def test_jobs_list_says_how_many_match_and_pages_with_before(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """The table ends with "showing 2 of 5 jobs" and the command for the next page, which
    runs as printed; following --json's next_before meets every job once."""
    app = make_app()

    @app.job(queue="mail")
    def note(n: int) -> None: ...

    ids = [note.enqueue(n=n).id for n in range(5)]
    run = cli("jobs", "list", "--queue", "mail", "--limit", "2", "--url", db_url)
    assert run.code == 0, run.stderr
    *table, count, next_page = run.stdout.splitlines()
    assert [line.split()[0] for line in table[2:]] == [str(ids[4]), str(ids[3])]
    assert count == "showing 2 of 5 jobs, newest first"
    command = f"jobtrail jobs list --queue mail --limit 2 --url {db_url} --before {ids[3]}"
    assert next_page == f"next page: `{command}`"
    second = cli.shell(command)
    assert second.code == 0, second.stderr
    assert [line.split()[0] for line in second.stdout.splitlines()[2:4]] == [str(ids[2]),
                                                                               str(ids[1])]
    assert f"showing 2 of 5 jobs, newest first, ids below {ids[3]}" in second.stdout
    seen: list[int] = []
    before: list[str] = []
    while True:
        page = cli("jobs", "list", "--limit", "2", "--url", db_url, *before, "--json").json()
        assert set(page) == {"jobs", "total", "next_before"} and page["total"] == 5
        assert all(set(job) == JOB_KEYS for job in page["jobs"])
        seen += [job["id"] for job in page["jobs"]]
        if page["next_before"] is None:
            break
        assert page["next_before"] == seen[-1]
        before = ["--before", str(page["next_before"])]
    assert seen == list(reversed(ids))
    last = cli("jobs", "list", "--limit", "5", "--url", db_url)
    assert "next page" not in last.stdout and "showing 5 of 5 jobs" in last.stdout
    past = cli("jobs", "list", "--before", str(ids[0]), "--url", db_url)
    assert past.stdout == f"no jobs below id {ids[0]} (5 match in all)\n"
    bad = cli("jobs", "list", "--before", "0", "--url", db_url)
    assert bad.code == 2 and "--before" in bad.error_line()


def test_dlq_list_pages_keep_their_filters_and_their_moment(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """dlq list says how many of how many; its next page repeats the filters, with --since
    as the moment it meant (an age would move)."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1))
    def fail(n: int) -> None:
        raise KeyError(n)

    ids = [handle.id for handle in fail.enqueue_many({"n": n} for n in range(3))]
    run_until_idle(app)
    run = cli("dlq", "list", "--error", "KeyError", "--since", "1h", "-n", "1", "--url", db_url)
    assert run.code == 0, run.stderr
    *_, count, next_page = run.stdout.splitlines()
    assert count == "showing 1 of 3 dead letters, newest first"
    assert next_page.startswith("next page: `jobtrail dlq list --error KeyError --since 20")
    assert next_page.endswith(f"+00:00 --limit 1 --url {db_url} --before {ids[2]}`")
    second = cli.shell(next_page.split("`")[1])
    assert second.code == 0, second.stderr
    assert "showing 1 of 3 dead letters" in second.stdout and f"--before {ids[1]}" in second.stdout
    page = cli("dlq", "list", "--error", "KeyError", "-n", "2", "--url", db_url, "--json").json()
    assert [job["id"] for job in page["jobs"]] == [ids[2], ids[1]]
    assert (page["total"], page["next_before"]) == (3, ids[1])
    assert cli("dlq", "list", "--job", "other", "--url", db_url).stdout == (
        "no dead letters match --job other\n")


def test_since_takes_an_age_or_an_iso_time_everywhere(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """paths variants, funnel and divergences take --since 1h as well as ISO-8601; a
    malformed one is one line naming the forms, exit 2."""
    app = make_app()

    @app.job
    def ping() -> None: ...

    ping.enqueue()
    run_until_idle(app)
    for command in (["paths", "variants", "ping"], ["paths", "funnel", "ping"],
                    ["paths", "divergences"], ["dlq", "list"]):
        for since in ("45s", "30m", "1h", "2d", "1w", "2026-01-01", "2026-01-01T09:30+02:00"):
            run = cli(*command, "--since", since, "--url", db_url, "--json")
            assert run.code == 0, (command, since, run.stderr)
            assert run.json() is not None
        bad = cli(*command, "--since", "1 hour", "--url", db_url)
        assert bad.code == 2, command
        assert bad.error_line() == (
            "error: Invalid value for '--since': '1 hour' is not a time: give an age such as "
            "45s, 30m, 1h, 2d or 1w, or an ISO-8601 time such as 2026-12-01 or "
            f"2026-12-01T09:30 (UTC unless it names a zone) (see 'jobtrail {command[0]} "
            f"{command[1]} --help')")
    variants = cli("paths", "variants", "ping", "--since", "1h", "--url", db_url, "--json")
    assert sum(v["count"] for v in variants.json()) == 1
    assert cli("paths", "variants", "ping", "--since", "2099-01-01", "--url", db_url,
               "--json").json() == []


def test_since_takes_an_age_in_the_commands_of_an_app_module(cli: Cli, shop: Shop) -> None:
    """flows coverage and rules check, which read the app's code, take --since 2d too; a
    malformed one is refused before the app is even loaded."""
    run = cli("flows", "coverage", shop.target, "--since", "2d", "--json")
    assert run.code == 0, run.stderr
    assert run.json() is not None
    for command in (["flows", "coverage"], ["rules", "check"]):
        bad = cli(*command, shop.target, "--since", "2x")
        assert bad.code == 2
        assert "'2x' is not a time: give an age such as 45s" in bad.error_line()


def test_a_filter_no_store_can_hold_matches_nothing(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """Bytes that are not UTF-8 in a filter (a lone surrogate to Python) list nothing and
    select nothing, on every backend, instead of failing as if the store were away."""
    waiting_and_done(make_app)
    odd = "caf\udce9"  # what Python makes of the Latin-1 bytes of "café"
    for command in (["jobs", "list", "--queue", odd], ["jobs", "list", "--job", odd],
                    ["dlq", "list", "--job", odd], ["dlq", "list", "--error", odd]):
        run = cli(*command, "--url", db_url, "--json")
        assert run.code == 0, (command, run.stderr)
        assert run.json() == {"jobs": [], "total": 0, "next_before": None}
    replay = cli("dlq", "replay", "--all", "--queue", odd, "--yes", "--url", db_url)
    assert replay.code == 3
    assert replay.error_line() == ("error: no dead letters matching --queue caf\\udce9: "
                                   "nothing to replay")
