"""The store contract's tests run on a store that reads a clock they move forward, instead
of sleeping while time passes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobtrail.clock import ManualClock
from jobtrail.store import Store, open_store


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the `store` under test: it runs with real time and jumps when told."""
    return ManualClock()


@pytest.fixture
def store(db_url: str, clock: ManualClock) -> Iterator[Store]:
    """An open store on the empty database, reading the time from `clock`."""
    opened = open_store(db_url, clock=clock)
    opened.migrate()
    yield opened
    opened.close()
