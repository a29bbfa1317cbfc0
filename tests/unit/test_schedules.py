"""Schedules of periodic jobs: their ticks in UTC and in a time zone across a change of
daylight saving time, which missed ticks are due, and the errors of bad options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobtrail import App
from jobtrail.errors import JobDefinitionError
from jobtrail.schedules import MAX_CATCH_UP, make_schedule


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_every_ticks_on_multiples_of_its_interval_since_the_epoch() -> None:
    schedule = make_schedule("j", every=timedelta(minutes=5))
    assert schedule is not None and schedule.text == "every 300 s"
    assert schedule.next_after(at("2026-12-05T10:02:00+00:00")) == at("2026-12-05T10:05:00+00:00")
    assert schedule.next_after(at("2026-12-05T10:05:00+00:00")) == at("2026-12-05T10:10:00+00:00")
    assert schedule.latest_at(at("2026-12-05T10:05:00+00:00")) == at("2026-12-05T10:05:00+00:00")
    fractional = make_schedule("j", every=0.3)
    assert fractional is not None
    assert [fractional.next_after(t) for t in (0.0, 0.3, 0.59)] == [0.3, 0.6, 0.6]


def test_cron_reads_its_fields_in_its_time_zone_summer_and_winter() -> None:
    """Nine in the morning in Paris is 08:00 UTC in winter and 07:00 UTC in summer."""
    schedule = make_schedule("j", cron="0 9 * * *", tz="Europe/Paris")
    assert schedule is not None and schedule.text == "cron 0 9 * * * (Europe/Paris)"
    winter = schedule.next_after(at("2026-12-05T12:00:00+00:00"))
    summer = schedule.next_after(at("2026-07-05T12:00:00+00:00"))
    assert datetime.fromtimestamp(winter, UTC).isoformat() == "2026-12-06T08:00:00+00:00"
    assert datetime.fromtimestamp(summer, UTC).isoformat() == "2026-07-06T07:00:00+00:00"
    hourly = make_schedule("j", cron="@hourly")
    assert hourly is not None
    assert hourly.latest_at(at("2026-12-05T10:00:00+00:00")) == at("2026-12-05T10:00:00+00:00")


def test_due_is_the_latest_tick_or_with_catch_up_the_missed_ones_oldest_first() -> None:
    plain = make_schedule("j", cron="*/5 * * * *")
    catching = make_schedule("j", cron="*/5 * * * *", catch_up=3)
    everything = make_schedule("j", cron="*/5 * * * *", catch_up=True)
    assert plain is not None and catching is not None and everything is not None
    after, now = at("2026-12-05T10:00:00+00:00"), at("2026-12-05T10:31:00+00:00")
    assert plain.due(after, now) == [at("2026-12-05T10:30:00+00:00")]
    assert catching.due(after, now) == [at(f"2026-12-05T10:{m}:00+00:00") for m in (20, 25, 30)]
    assert len(everything.due(after, now)) == 6 and everything.catch_up == MAX_CATCH_UP
    assert plain.due(at("2026-12-05T10:30:00+00:00"), now) == []  # dealt with already
    assert len(everything.due(0.0, now)) == MAX_CATCH_UP  # a year away: the latest 1,000


@pytest.mark.parametrize(("options", "message"), [
    ({"cron": "* * *"}, "has 3 fields; it needs five"),
    ({"cron": "61 * * * *"}, "does not parse"),
    ({"cron": "* * * * * *"}, "has 6 fields"),
    ({"cron": 5}, "cron must be a str"),
    ({"every": 0}, "every=0 is out of range"),
    ({"every": -5}, "out of range"),
    ({"every": float("nan")}, "out of range"),
    ({"every": "5m"}, "every must be seconds"),
    ({"every": True}, "every must be seconds"),
    ({"cron": "* * * * *", "every": 60}, "not both"),
    ({"cron": "* * * * *", "tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"every": 60, "tz": "Europe/Paris"}, "tz= applies to cron= schedules"),
    ({"tz": "UTC"}, "tz= applies to periodic jobs"),
    ({"catch_up": 3}, "catch_up= applies to periodic jobs"),
    ({"every": 60, "catch_up": -1}, "catch_up must be True, False or how many"),
    ({"every": 60, "catch_up": 1001}, "0 to 1000"),
    ({"owner": ""}, "owner must be a non-empty str"),
    ({"owner": 7}, "owner must be a non-empty str"),
    ({"runbook": "https://a\nb"}, "runbook must be one line"),
    ({"description": "x" * 5000}, "description is 5,000 characters long"),
    ({"owner": "\udc80"}, "cannot be written as UTF-8"),
])
def test_bad_options_are_refused_at_import_naming_the_job(tmp_path: Path, options: dict[str, object],
                                                          message: str) -> None:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        with pytest.raises(JobDefinitionError, match=f"job 'nightly'.*{message}"):
            app.job(name="nightly", **options)(lambda: None)  # type: ignore[call-overload]
        assert "nightly" not in app.registry
    finally:
        app.close()


def test_a_periodic_job_needs_no_argument_the_scheduler_cannot_give(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        with pytest.raises(JobDefinitionError, match=r"job 'report' is periodic.*region"):
            @app.job(every=60)
            def report(region: str) -> None: ...

        @app.job(every=60)
        def defaults(region: str = "eu") -> str:
            return region

        assert defaults.schedule is not None
    finally:
        app.close()
