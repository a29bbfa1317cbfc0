"""Times on the command line: an age or an ISO-8601 time, parsed in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobtrail.cli.times import FORMS, Duration, parse_moment

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ago"), [
    ("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)),
    ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)), ("0s", timedelta(0)),
    (" 90m ", timedelta(minutes=90)), ("1.5h", timedelta(minutes=90)),
    ("1 h", timedelta(hours=1)),
])
def test_an_age_is_that_long_before_now(text: str, ago: timedelta) -> None:
    """45s, 30m, 1h, 2d and 1w (spaces allowed, a fraction too: the same lengths as
    ``queues --window``) name that long before now."""
    assert parse_moment(text, NOW) == NOW - ago


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
    ("2026-11-30T09:30", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)),
    ("2026-11-30T09:30:00Z", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)),
    ("2026-11-30T09:30+02:00", datetime(2026, 11, 30, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
])
def test_an_iso_time_is_read_in_utc_unless_it_names_a_zone(text: str, moment: datetime) -> None:
    """ISO-8601 dates and times are read as given, in UTC when they name no zone."""
    assert parse_moment(text, NOW) == moment


@pytest.mark.parametrize("text", [
    "1x", "h", "-1h", "1H", "1h30m", "", "yesterday", "2026-13-01", "1h\nrm -rf",
    "\x00", "\udc80", "9" * 10_000,
])
def test_anything_else_is_refused_naming_the_forms(text: str) -> None:
    """A malformed time raises one line that quotes it (escaped, cut short) and names the
    forms accepted."""
    with pytest.raises(ValueError, match="is not a time") as caught:
        parse_moment(text, NOW)
    message = str(caught.value)
    assert message.endswith(FORMS) and "\n" not in message and len(message) < 500


def test_an_age_before_the_first_year_is_refused() -> None:
    """An age reaching back before the year 1 is one clear error, not an overflow."""
    with pytest.raises(ValueError, match="reaches back before the year 1"):
        parse_moment("999999999999w", NOW)


def test_a_duration_and_an_age_read_lengths_alike() -> None:
    """``--window`` and ``--since`` take the same lengths: what one accepts, the other
    reads as the same number of seconds."""
    window = Duration(10 * 86_400)
    for text in ("45s", "1.5h", "2d", "1w", " 90m "):
        assert NOW - parse_moment(text, NOW) == timedelta(seconds=window.convert(text, None, None))
