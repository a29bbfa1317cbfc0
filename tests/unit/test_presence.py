"""When a PostgreSQL finish notifies waiters: while a waiters' connection is known open."""

from __future__ import annotations

import time

import psycopg
import pytest

from jobtrail.store.postgres import presence
from jobtrail.store.postgres.presence import Presence


def test_the_servers_answer_stands_for_the_ttl_then_is_asked_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One question to the server per TTL, its answer used meanwhile."""
    monkeypatch.setattr(presence, "TTL", 0.2)
    asked: list[bool] = []
    answers = iter([False, True])

    def ask() -> bool:
        asked.append(True)
        return next(answers)

    known = Presence()
    assert [known.listening(ask) for _ in range(5)] == [False] * 5
    assert len(asked) == 1
    time.sleep(0.25)
    assert known.listening(ask) is True and len(asked) == 2


def test_an_announcement_counts_at_once_and_a_failed_question_as_yes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A waiters' connection that announces itself makes finishes notify without asking;
    a question the server cannot answer counts as yes (a notification too many is cheap)."""
    monkeypatch.setattr(presence, "TTL", 60.0)
    known = Presence()
    assert known.listening(lambda: False) is False
    known.announced()
    assert known.listening(lambda: False) is True

    def failing() -> bool:
        raise psycopg.OperationalError("server closed the connection")

    assert Presence().listening(failing) is True
