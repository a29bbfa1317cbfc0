"""``jobtrail dlq``: list, show, replay and discard dead letters."""

from __future__ import annotations

from tests.acceptance.conftest import JOB_KEYS, Cli, Shop, Worked


def test_dlq_list_shows_only_dead_letters_with_their_error(
    cli: Cli, worked: Worked, shop: Shop
) -> None:
    """dlq list shows the dead job and its error, not the succeeded one."""
    run = cli("dlq", "list", "--url", shop.url)
    assert run.code == 0, run.stderr
    assert "card 4000 declined" in run.stdout
    assert "succeeded" not in run.stdout
    listed = cli("dlq", "list", "--url", shop.url, "--json").json()
    assert [job["id"] for job in listed["jobs"]] == [worked.declined]
    assert (listed["total"], listed["next_before"]) == (1, None)
    assert set(listed["jobs"][0]) == JOB_KEYS


def test_dlq_show_of_a_job_outside_the_queue_is_not_found(
    cli: Cli, worked: Worked, shop: Shop
) -> None:
    """dlq show shows a dead letter; a job that is not one exits 3 with one line."""
    shown = cli("dlq", "show", str(worked.declined), "--url", shop.url, "--json")
    assert shown.json()["job"]["status"] == "dead"
    run = cli("dlq", "show", str(worked.added), "--url", shop.url)
    assert run.code == 3
    assert "not in the dead-letter queue" in run.error_line()


def test_dlq_replay_queues_the_job_again(cli: Cli, worked: Worked, shop: Shop) -> None:
    """dlq replay puts the dead job back in the queue with its attempts reset."""
    run = cli("dlq", "replay", str(worked.declined), "--url", shop.url)
    assert run.code == 0, run.stderr
    assert "queued again" in run.stdout
    job = cli("jobs", "show", str(worked.declined), "--url", shop.url, "--json").json()["job"]
    assert (job["status"], job["attempts"]) == ("queued", 0)
    assert cli("dlq", "list", "--url", shop.url, "--json").json()["total"] == 0


def test_dlq_discard_cancels_the_job(cli: Cli, worked: Worked, shop: Shop) -> None:
    """dlq discard --json prints the job's result, now cancelled and out of the queue."""
    run = cli("dlq", "discard", str(worked.declined), "--url", shop.url, "--json")
    assert run.code == 0, run.stderr
    assert run.json() == [{"id": worked.declined, "ok": True, "result": "done",
                           "job_name": "decline", "queue": "default", "status": "cancelled",
                           "message": None}]
    assert cli("dlq", "list", "--url", shop.url, "--json").json()["jobs"] == []


def test_replaying_a_succeeded_job_is_refused(cli: Cli, worked: Worked, shop: Shop) -> None:
    """A transition the job's status forbids exits 1 with one line naming the status."""
    run = cli("dlq", "replay", str(worked.added), "--url", shop.url)
    assert run.code == 1
    assert run.error_line() == (
        f"error: cannot replay job {worked.added}: it is succeeded, "
        "expected dead or orphaned or cancelled"
    )
    again = cli("dlq", "discard", str(worked.added), "--url", shop.url)
    assert again.code == 1
    assert "cannot discard" in again.error_line()
