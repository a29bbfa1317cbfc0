"""What the command line shows of a database URL: never its password."""

from __future__ import annotations

import pytest

from jobtrail.cli.database import hide_password, masked_url, url_argument


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:hunter2@db:5432/jobs", "postgresql://app:***@db:5432/jobs"),
        ("postgresql://app@db/jobs?password=hunter2&sslmode=require",
         "postgresql://app@db/jobs?password=***&sslmode=require"),
        ("postgresql://app:***@db/jobs", "postgresql://app:***@db/jobs"),
        ("postgresql://app@db/jobs", "postgresql://app@db/jobs"),
        ("sqlite:///jobs.db", "sqlite:///jobs.db"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    """The password, in the authority or as ?password=, shows as ***; the rest is kept."""
    assert masked_url(url) == shown


def test_a_message_loses_the_password_of_every_url_it_quotes() -> None:
    """A URL quoted in a message shows *** for the password; other words that happen to
    spell it are left alone (a short password masked everywhere would garble the text)."""
    url = "postgresql://postgres:postgres@db/jobs"
    assert hide_password(f"cannot use {url} or postgresql://db/jobs?password=postgres", url) == (
        "cannot use postgresql://postgres:***@db/jobs or postgresql://db/jobs?password=***")
    assert hide_password("role postgres is fine", url) == "role postgres is fine"
    assert hide_password("nothing secret", None) == "nothing secret"


def test_the_url_argument_is_quoted_for_a_shell() -> None:
    """--url is quoted so that a shell reads it whole, the password masked."""
    assert url_argument("sqlite:///my jobs.db") == "--url 'sqlite:///my jobs.db'"
    assert url_argument("postgresql://a:b@h/d") == "--url 'postgresql://a:***@h/d'"
