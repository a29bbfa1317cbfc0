"""SQLite's plans for the reads that must stay fast with a million finished jobs: each
walks an index that holds only what it asks for, never the whole table."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pytest

from jobtrail import App
from jobtrail.records import Status
from jobtrail.store.base import JobFilter
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite import reading


def plan(path: Path, sql: str, params: Mapping[str, object]) -> str:
    """SQLite's plan for *sql*, one line of its steps."""
    with sqlite3.connect(path) as conn:
        return " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """An empty, migrated SQLite database."""
    path = tmp_path / "plans.db"
    App(f"sqlite:///{path}").upgrade()
    return path


@pytest.mark.parametrize(("statuses", "index"), [
    ((Status.RUNNING,), "jobtrail_jobs_leased"),
    ((Status.DEAD,), "jobtrail_jobs_dead"),
    ((Status.DEAD, Status.ORPHANED), "jobtrail_jobs_dead"),
    ((Status.CANCELLED,), "jobtrail_jobs_cancelled"),
    ((Status.QUEUED,), "jobtrail_jobs_ready"),
    ((Status.RETRYING, Status.QUEUED), "jobtrail_jobs_ready"),
])
def test_a_list_of_rare_statuses_reads_their_partial_index(
    database: Path, statuses: tuple[Status, ...], index: str
) -> None:
    """Listing jobs of statuses a partial index holds reads that index, not every job."""
    sql, params = reading._job_query(
        reading._Q["list_jobs"], JobFilter(statuses=statuses, queue="mail"), paged=True)
    assert index in plan(database, sql, params)


def test_a_list_of_succeeded_jobs_walks_down_the_ids(database: Path) -> None:
    """Succeeded jobs, the bulk of the table, are found soonest walking down the ids."""
    sql, params = reading._job_query(
        reading._Q["list_jobs"], JobFilter(statuses=(Status.SUCCEEDED,)), paged=True)
    found = plan(database, sql, params)
    assert "SCAN jobtrail_jobs" in found and "TEMP B-TREE" not in found


@pytest.mark.parametrize(("step", "index"), [
    ("waiting", "jobtrail_jobs_ready_by_queue"), ("held", "jobtrail_jobs_leased"),
    ("held", "jobtrail_jobs_dead"), ("ended", "jobtrail_jobs_finished"),
    ("waits", "jobtrail_jobs_finished"),
])
def test_the_glance_reads_indexes_only(database: Path, step: str, index: str) -> None:
    """Each read of a glance at the queues walks the index of what it counts."""
    params = {"now": 0.0, "since": 0.0, "window_start": 0.0, "bucket": 60.0, "sample": 10,
              "waits": 10}
    found = plan(database, steps("sqlite", "queue_glance")[step], params)
    assert index in found and "SCAN jobtrail_jobs |" not in f"{found} |"


def test_the_retries_check_reads_the_retries_index(database: Path) -> None:
    """The health check's retries read the scheduled retries and the ends by index."""
    stats = steps("sqlite", "retry_stats")
    params = {"since": 0.0, "newest": 10}
    assert "jobtrail_events_retries" in plan(database, stats["retries"], params)
    assert "jobtrail_jobs_finished" in plan(database, stats["outcomes"], params)


@pytest.mark.parametrize(("query", "params"), [
    ("recent_runs", {"job_name": "sync", "since": None, "limit": 5}),
    ("recent_runs", {"job_name": "sync", "since": 0.0, "limit": 5}),
    ("runs", {"job_name": "sync", "since": None}),
    ("run_names", {"limit": 5}),
])
def test_the_runs_of_a_job_are_read_through_their_index(
    database: Path, query: str, params: Mapping[str, object]
) -> None:
    """A job's newest runs, all its runs and the names with runs walk the index of runs by
    job and end, never the whole table nor every job's ends."""
    found = plan(database, queries("sqlite")[query], params)
    assert "USING INDEX jobtrail_jobs_runs" in found, found
    assert "jobtrail_jobs_finished" not in found and "SCAN jobtrail_jobs |" not in f"{found} |"


def test_the_divergences_of_a_kind_are_read_through_their_index(database: Path) -> None:
    """Listing and counting the divergences of one kind walks the index by kind."""
    for template in ("divergences", "recent_divergence_counts"):
        sql = reading._Q[template].format(filters="AND kind = :kind")
        found = plan(database, sql, {"kind": "missing", "limit": 5, "newest": 5})
        assert "jobtrail_divergences_by_kind" in found, (template, found)
