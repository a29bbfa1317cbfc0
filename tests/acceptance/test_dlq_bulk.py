"""``jobtrail dlq replay`` and ``dlq discard`` on many dead letters (both backends): ids, or
``--all`` narrowed by ``--job``, ``--queue``, ``--error`` and ``--since``, counted,
confirmed, done in batches."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from jobtrail import App, Context, Permanent, Retry, Status
from jobtrail.clock import ManualClock
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli, Run

ONCE = Retry(max_attempts=1)


class Declined(Exception):
    """A card was declined (a class of the test's own module)."""


def bad_deploy(app: App, count: int) -> list[int]:
    """*count* jobs run by a worker and dead of a NameError, as after a bad deploy."""

    @app.job(retry=ONCE)
    def sync_account(n: int) -> None:
        undefined_helper(n)  # type: ignore[name-defined]  # noqa: F821  # the bad deploy

    handles = sync_account.enqueue_many({"n": n} for n in range(count))
    run_until_idle(app)
    return [handle.id for handle in handles]


def test_one_command_replays_the_thousand_dead_letters_of_a_bad_deploy(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """1,000 jobs dead of a NameError are all queued again by one command, in batches with
    progress; a dead letter of another error stays where it is."""
    app = make_app()
    dead = bad_deploy(app, 1000)

    @app.job(retry=ONCE)
    def refund(order: int) -> None:
        raise Permanent(f"order {order} was never paid")

    other = refund.enqueue(order=7)
    run_until_idle(app)
    assert app.count_dead_letters() == 1001
    run = cli("dlq", "replay", "--all", "--error", "NameError", "--yes", "--url", db_url)
    assert run.code == 0, run.stderr
    assert run.stdout == "queued again: 1,000 of 1,000 jobs\n"
    assert run.stderr.splitlines() == [
        "1,000 dead letters matching --error NameError will be queued again",
        "replay: 500 of 1,000 jobs done", "replay: 1,000 of 1,000 jobs done"]
    queued = cli("jobs", "list", "--status", "queued", "--limit", "1000", "--url", db_url,
                 "--json").json()
    assert queued["total"] == 1000 and queued["next_before"] is None
    assert sorted(job["id"] for job in queued["jobs"]) == dead
    assert {(job["attempts"], job["error"]) for job in queued["jobs"]} == {(0, None)}
    left = cli("dlq", "list", "--url", db_url, "--json").json()
    assert [job["id"] for job in left["jobs"]] == [other.id] and left["total"] == 1


def test_replay_all_json_is_one_result_per_job(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """--all --json prints a JSON array with one result per job replayed; progress and the
    count stay on standard error."""
    dead = bad_deploy(make_app(), 3)
    run = cli("dlq", "replay", "--all", "--yes", "--json", "--url", db_url)
    assert run.code == 0, run.stderr
    assert run.json() == [{"id": job_id, "ok": True, "result": "done", "job_name": "sync_account",
                           "queue": "default", "status": "queued", "message": None}
                          for job_id in reversed(dead)]
    assert run.stderr == "3 dead letters will be queued again\n"


def dead_letters_of_every_kind(make_app: Callable[..., App]) -> dict[str, int]:
    """Dead letters that differ by job, queue, error class and when they ended (three hours
    ago, by a store clock that runs behind, or now), by a short name."""
    ids: dict[str, int] = {}
    for age, clock in (("old", ManualClock(start=time.time() - 3 * 3600)), ("new", None)):
        app = make_app(store_options={"clock": clock} if clock else {})

        @app.job(retry=ONCE)
        def sync(ctx: Context, key: str) -> None:
            raise NameError(key)

        @app.job(retry=ONCE, queue="mail")
        def notify(ctx: Context, key: str, declined: bool) -> None:
            if declined:
                raise Declined(key)
            raise NameError(key)

        ids[f"{age}-sync"] = sync.enqueue(key="a").id
        ids[f"{age}-notify-name"] = notify.enqueue(key="b", declined=False).id
        ids[f"{age}-notify-declined"] = notify.enqueue(key="c", declined=True).id
        run_until_idle(app)
    return ids


FILTERS: list[tuple[list[str], set[str]]] = [
    ([], {"old-sync", "old-notify-name", "old-notify-declined", "new-sync", "new-notify-name",
          "new-notify-declined"}),
    (["--job", "notify"], {"old-notify-name", "old-notify-declined", "new-notify-name",
                           "new-notify-declined"}),
    (["--queue", "default"], {"old-sync", "new-sync"}),
    (["--error", "NameError"], {"old-sync", "old-notify-name", "new-sync", "new-notify-name"}),
    (["--error", "Declined"], {"old-notify-declined", "new-notify-declined"}),
    (["--error", f"{__name__}.Declined"], {"old-notify-declined", "new-notify-declined"}),
    (["--error", "Error"], set()),
    (["--since", "1h"], {"new-sync", "new-notify-name", "new-notify-declined"}),
    (["--since", "2d"], {"old-sync", "old-notify-name", "old-notify-declined", "new-sync",
                         "new-notify-name", "new-notify-declined"}),
    (["--job", "notify", "--error", "NameError", "--since", "90m"], {"new-notify-name"}),
    (["--queue", "mail", "--error", "Declined", "--since", "4h"],
     {"old-notify-declined", "new-notify-declined"}),
    (["--job", "sync", "--queue", "mail"], set()),
]


def test_every_filter_combination_selects_the_same_jobs_to_list_and_to_act_on(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """dlq list and dlq discard --all select the same dead letters for each combination of
    --job, --queue, --error (as stored or by short name) and --since (an age)."""
    ids = dead_letters_of_every_kind(make_app)
    for filters, expected in FILTERS:
        listed = cli("dlq", "list", *filters, "--url", db_url, "--json")
        assert listed.code == 0, (filters, listed.stderr)
        assert {job["id"] for job in listed.json()["jobs"]} == {ids[k] for k in expected}, filters
        assert listed.json()["total"] == len(expected)
    combined = ["--job", "notify", "--error", "NameError", "--since", "90m"]
    run = cli("dlq", "discard", "--all", *combined, "--yes", "--json", "--url", db_url)
    assert run.code == 0, run.stderr
    assert [result["id"] for result in run.json()] == [ids["new-notify-name"]]
    assert cli("dlq", "list", *combined, "--url", db_url, "--json").json()["total"] == 0
    assert cli("dlq", "list", "--url", db_url, "--json").json()["total"] == 5


def one_error_line(run: Run, code: int) -> str:
    """The one line a command that failed with *code* wrote on standard error."""
    assert run.code == code, (run.code, run.stdout, run.stderr)
    return run.error_line()


def test_bad_selections_are_one_line_and_change_nothing(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """An empty --all selection, ids with --all, neither, filters without --all, a
    malformed --since or an empty --error: one line, a non-zero exit, nothing done."""
    bad_deploy(make_app(), 2)
    url = ["--url", db_url]
    assert one_error_line(cli("dlq", "replay", "--all", "--error", "KeyError", "--yes", *url),
                          3) == "error: no dead letters matching --error KeyError: nothing to replay"
    assert "no dead letters matching --job nobody --since" in one_error_line(
        cli("dlq", "discard", "--all", "--job", "nobody", "--since", "1w", "--yes", *url), 3)
    assert "give job ids or --all, not both" in one_error_line(
        cli("dlq", "replay", "1", "--all", "--yes", *url), 2)
    assert "name the jobs to discard: their ids, or --all" in one_error_line(
        cli("dlq", "discard", *url), 2)
    assert "narrow --all: add --all" in one_error_line(
        cli("dlq", "replay", "1", "--queue", "default", *url), 2)
    since = one_error_line(cli("dlq", "replay", "--all", "--since", "yesterday", *url), 2)
    assert "'yesterday' is not a time: give an age such as 45s, 30m, 1h, 2d or 1w" in since
    assert "an empty error class matches nothing" in one_error_line(
        cli("dlq", "replay", "--all", "--error", "", "--yes", *url), 2)
    assert cli("dlq", "list", *url, "--json").json()["total"] == 2


def test_without_a_terminal_or_yes_it_refuses_at_once(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """--all with no terminal to confirm at and no --yes says how many it would have done
    and refuses at once, never waiting for an answer."""
    bad_deploy(make_app(), 2)
    started = time.monotonic()
    run = cli("dlq", "discard", "--all", "--url", db_url, timeout=30)
    assert one_error_line(run, 2) == (
        "error: 2 dead letters will be discarded, but standard input is not a terminal to "
        "confirm it: add --yes to go ahead (see 'jobtrail dlq discard --help')")
    assert time.monotonic() - started < 20
    assert cli("dlq", "list", "--url", db_url, "--json").json()["total"] == 2


def at_a_terminal(cli: Cli, answer: str, *args: str,
                  meanwhile: Callable[[], object] = lambda: None) -> tuple[int, str, str]:
    """Run ``jobtrail`` with its standard input on a terminal that types *answer* once it
    is asked (after running *meanwhile*, as another operator would act while it waits)."""
    main, terminal = pty.openpty()
    try:
        done = subprocess.Popen(
            [sys.executable, "-m", "jobtrail", *args], cwd=cli.cwd, env=cli.env, stdin=terminal,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert done.stderr is not None
        asked = b""
        deadline = time.monotonic() + 60
        while b"Go ahead?" not in asked and done.poll() is None:
            assert time.monotonic() < deadline, asked
            if select.select([done.stderr], [], [], 0.1)[0]:
                asked += os.read(done.stderr.fileno(), 4096)
        meanwhile()
        os.write(main, answer.encode())
        out, err = done.communicate(timeout=60)
    finally:
        os.close(main)
        os.close(terminal)
    return done.returncode, out.decode(), (asked + err).decode()


@pytest.mark.parametrize(("answer", "code", "left"), [("y\n", 0, 0), ("n\n", 1, 2), ("\n", 1, 2)],
                         ids=["yes", "no", "default-no"])
def test_at_a_terminal_it_asks_before_acting(
    cli: Cli, make_app: Callable[..., App], db_url: str, answer: str, code: int, left: int
) -> None:
    """At a terminal, --all says how many and asks; only yes goes ahead (no by default)."""
    bad_deploy(make_app(), 2)
    returned, out, err = at_a_terminal(cli, answer, "dlq", "replay", "--all", "--url", db_url)
    assert returned == code, err
    assert err.startswith("2 dead letters will be queued again\nGo ahead? [y/N]: ")
    if code:
        assert err.endswith("error: not confirmed: nothing was done\n") and out == ""
    else:
        assert out == "queued again: 2 of 2 jobs\n"
    assert cli("dlq", "list", "--url", db_url, "--json").json()["total"] == left


def test_a_job_that_moves_on_while_the_command_asks_is_skipped_and_counted(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """While --all waits for its answer, another operator replays one of the jobs it
    counted: that job is one line, skipped and counted in the summary, exit 1."""
    app = make_app()
    dead = bad_deploy(app, 3)
    returned, out, err = at_a_terminal(cli, "y\n", "dlq", "replay", "--all", "--url", db_url,
                                       meanwhile=lambda: app.replay(dead[1]))
    assert returned == 1, err
    assert out == ("queued again: 2 of 3 jobs; 1 skipped: their status changed since they were "
                   "selected\n")
    assert err.endswith(f"error: cannot replay job {dead[1]}: it is queued, expected dead or "
                        "orphaned or cancelled\n")
    assert {app.get(job_id).status for job_id in dead} == {Status.QUEUED}
    assert [e.name for e in app.events(dead[1])].count("replayed") == 1


def test_replaying_ids_refuses_an_uncertain_effect_and_replays_the_rest(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """Several ids: each is a line; the job whose effect is uncertain is refused as a
    single replay is (its card masked), the unknown id is not found, the others are
    replayed, and the exit code is 1."""
    app = make_app(store_options={"clock": (clock := ManualClock())})
    card = "4111111111111111"

    @app.job(redact=["card"], retry=Retry(max_attempts=2, base=0, jitter="none"))
    def charge(ctx: Context, card: str) -> None:
        ctx.effect("charge", lambda: None, key=f"charge-{card}")

    uncertain = charge.enqueue(card=card)
    (job,) = app.store.claim("crashed", None, 1, 30.0)
    assert app.store.begin_effect(job.id, job.claim, 1, "charge", f"charge-{card}", False) is None
    clock.advance(31)
    app.store.reap_expired()
    run_until_idle(app)
    dead = bad_deploy(app, 2)
    assert app.get(uncertain.id).outcome == "effect_uncertain"
    ids = [str(dead[0]), str(uncertain.id), "424242", str(dead[1])]
    run = cli("dlq", "replay", *ids, "--url", db_url)
    assert run.code == 1
    assert run.stdout.splitlines() == [
        f"job {dead[0]} (sync_account) queued again: now queued",
        f"job {dead[1]} (sync_account) queued again: now queued",
        "queued again: 2 of 4 jobs; 1 not found; 1 refused: an effect is uncertain (record "
        "what happened with `jobtrail dlq resolve`, then replay)"]
    refused, missing = run.stderr.splitlines()
    assert refused.startswith(f"error: cannot replay job {uncertain.id}: its effect 'charge' "
                              "(key 'charge-[redacted]')")
    assert "jobtrail dlq resolve" in refused and card not in run.stdout + run.stderr
    assert missing == "error: no job with id 424242"
    again = cli("dlq", "replay", str(uncertain.id), "--url", db_url, "--json")
    assert again.code == 1
    (result,) = again.json()
    assert (result["ok"], result["result"], result["status"]) == (False, "uncertain", "dead")
    assert card not in again.stdout + again.stderr


def test_a_job_replayed_or_discarded_already_is_one_line_and_the_others_go_on(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """Discarding ids among which one is no dead letter any more: that one is a line saying
    its status, the others are discarded, exit 1; unknown ids alone exit 3."""
    app = make_app()
    dead = bad_deploy(app, 3)
    app.replay(dead[1])
    run = cli("dlq", "discard", *map(str, dead), "--url", db_url, "--json")
    assert run.code == 1
    results: list[dict[str, Any]] = run.json()
    assert [(r["id"], r["result"], r["status"]) for r in results] == [
        (dead[0], "done", "cancelled"), (dead[1], "status", "queued"),
        (dead[2], "done", "cancelled")]
    assert run.stderr == (f"error: cannot discard job {dead[1]}: it is queued, expected dead "
                          "or orphaned\n")
    missing = cli("dlq", "discard", "98", "99", "--url", db_url)
    assert missing.code == 3 and missing.stderr.splitlines() == [
        "error: no job with id 98", "error: no job with id 99"]
