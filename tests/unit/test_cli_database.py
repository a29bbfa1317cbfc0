"""What the command line shows of a database URL: never its password."""

from __future__ import annotations

import pytest

from jobtrail.cli.database import describe_store_error, hide_password, masked_url, url_argument
from jobtrail.errors import StoreError


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


def test_a_store_error_is_one_line_naming_the_upgrade_of_this_database() -> None:
    """The store's message is kept, on one line; its bare upgrade hint becomes the command
    for this database, and the URL's password is masked wherever the text spells it out."""
    url = "postgresql://app:hunter2@db/jobs"
    error = StoreError(f"database 'jobs' does not exist on {url}:\n  create it, "
                       "then run `jobtrail db upgrade`")
    line = describe_store_error(error, url, f"jobtrail db upgrade {url_argument(url)}")
    assert line == ("database 'jobs' does not exist on postgresql://app:***@db/jobs: create "
                    "it, then run `jobtrail db upgrade --url 'postgresql://app:***@db/jobs'` "
                    "(with the password in place of ***)")
