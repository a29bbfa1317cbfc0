"""Reading a SQLite store: jobs, their paths, runs, divergences, workers."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from jobtrail.errors import JobNotFound, StoreLost
from jobtrail.records import Divergence, Event, JobRecord, RunRecord, Status, utc_from_epoch
from jobtrail.store import gauges as store_gauges
from jobtrail.store import glance, policy, queues, rows, segments
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import DivergenceFilter, JobFilter, WorkerRecord
from jobtrail.store.gauges import StoreGauges
from jobtrail.store.queues import QueueReport
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated

_Q = queries("sqlite")
_RETRY_STATS = steps("sqlite", "retry_stats")
_QUEUE_STATS = steps("sqlite", "queue_stats")
_GLANCE = steps("sqlite", "queue_glance")
_GAUGES = steps("sqlite", "gauges")
#: How many ids one statement binds (SQLite's limit on parameters is far above).
CHUNK = 500


def read_job(conn: sqlite3.Connection, sql: str, job_id: int) -> JobRecord:
    """The job *sql* (``get_job`` or ``lock_job``) reads; `JobNotFound` when there is none."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(sql, {"id": job_id}).fetchone()
    finally:
        conn.row_factory = None
    if row is None:
        raise JobNotFound(f"no job with id {job_id}")
    return rows.job_record(row, utc_from_epoch)


class Reading(Database):
    """The reading side of the `Store` contract."""

    @translated
    def get(self, job_id: int) -> JobRecord:
        return read_job(self._conn(), _Q["get_job"], job_id)

    @translated
    def statuses(self, job_ids: Sequence[int]) -> dict[int, Status]:
        found: dict[int, Status] = {}
        conn = self._conn()
        ids = list(job_ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            sql = _Q["statuses"].format(ids=", ".join("?" * len(chunk)))
            found.update((job_id, Status(status)) for job_id, status in conn.execute(sql, chunk))
        return found

    @translated
    def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        sql, params = _job_query(_Q["list_jobs"], where, paged=True)
        return self._records(sql, params)

    @translated
    def count_jobs(self, where: JobFilter) -> int:
        sql, params = _job_query(_Q["count_jobs"], where, paged=False)
        return int(self._conn().execute(sql, params).fetchone()[0])

    @translated
    def dead_letters(self, where: DeadLetterFilter) -> list[JobRecord]:
        sql, params = _dead_letter_query(_Q["dead_letters"], where, paged=True)
        return self._records(sql, params)

    @translated
    def count_dead_letters(self, where: DeadLetterFilter) -> int:
        sql, params = _dead_letter_query(_Q["count_dead_letters"], where, paged=False)
        return int(self._conn().execute(sql, params).fetchone()[0])

    def _records(self, sql: str, params: dict[str, Any]) -> list[JobRecord]:
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            found = conn.execute(sql, params).fetchall()
        finally:
            conn.row_factory = None
        return [rows.job_record(row, utc_from_epoch) for row in found]

    @translated
    def events(self, job_id: int) -> list[Event]:
        found = self._conn().execute(_Q["job_events"], {"id": job_id}).fetchall()
        return segments.expand(found, utc_from_epoch)

    @translated
    def divergences(self, where: DivergenceFilter) -> list[Divergence]:
        sql, params = _divergence_query(_Q["divergences"], where)
        found = self._conn().execute(sql, params).fetchall()
        return [rows.divergence_record(row, utc_from_epoch) for row in found]

    @translated
    def divergence_counts(self, where: DivergenceFilter, *, newest: int | None = None
                          ) -> dict[tuple[str, str], int]:
        query = "divergence_counts" if newest is None else "recent_divergence_counts"
        sql, params = _divergence_query(_Q[query], where)
        found = self._conn().execute(sql, {**params, "newest": newest}).fetchall()
        return {(job_name, kind): count for job_name, kind, count in found}

    @translated
    def runs(self, job_name: str, since: datetime | None = None, *,
             limit: int | None = None) -> list[RunRecord]:
        params = {"job_name": job_name, "since": None if since is None else since.timestamp(),
                  "limit": limit}
        if limit is None:
            found = self._conn().execute(_Q["runs"], params).fetchall()
        else:
            found = self._conn().execute(_Q["recent_runs"], params).fetchall()
            found.reverse()
        return [rows.run_record(row, utc_from_epoch) for row in found]

    @translated
    def run_names(self, limit: int) -> list[tuple[str, datetime]]:
        found = self._conn().execute(_Q["run_names"], {"limit": limit}).fetchall()
        return [(name, utc_from_epoch(newest) or datetime.now(UTC)) for name, newest in found]

    @translated
    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        found: list[JobRecord] = []
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            for start in range(0, len(parent_ids), CHUNK):
                chunk = list(parent_ids[start:start + CHUNK])
                sql = _Q["children"].format(ids=", ".join("?" * len(chunk)))
                found.extend(rows.job_record(row, utc_from_epoch)
                             for row in conn.execute(sql, [job_name, *chunk]))
        finally:
            conn.row_factory = None
        return found

    @translated
    def milestones(self, name: str, since: datetime | None = None, *,
                   within: int | None = None) -> list[Event]:
        params = {"needle": encode_basestring(name),
                  "since": None if since is None else since.timestamp(), "within": within}
        query = "milestones" if within is None else "recent_milestones"
        found = self._conn().execute(_Q[query], params).fetchall()
        return segments.milestones(found, name, utc_from_epoch, since)

    @translated
    def events_horizon(self, within: int) -> datetime | None:
        found = self._conn().execute(_Q["events_horizon"], {"within": within}).fetchone()
        return None if found is None else utc_from_epoch(found[0])

    @translated
    def counts(self) -> dict[tuple[str, Status], int]:
        found = self._conn().execute(_Q["counts"]).fetchall()
        return {(queue, Status(status)): count for queue, status, count in found}

    @translated
    def attempt_usage(self, since: float, limit: int) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = self._conn().execute(
            _Q["attempt_usage"], {"since": since, "limit": limit}).fetchall()
        return found

    @translated
    def retry_stats(self, since: float, newest: int | None = None
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        conn = self._conn()
        params = {"since": since, "newest": -1 if newest is None else newest}
        return (conn.execute(_RETRY_STATS["outcomes"], params).fetchall(),
                conn.execute(_RETRY_STATS["retries"], params).fetchall())

    @translated
    def capacity_stats(self, since: float) -> list[tuple[Any, ...]]:
        return list(self._conn().execute(_Q["capacity_stats"], {"since": since}).fetchall())

    @translated
    def job_links(self) -> list[tuple[str, str, int]]:
        found = self._conn().execute(_Q["job_links"]).fetchall()
        return [(parent, child, count) for parent, child, count in found]

    @translated
    def workers(self) -> list[WorkerRecord]:
        found = self._conn().execute(_Q["list_workers"]).fetchall()
        return [
            WorkerRecord(
                wid, host, pid, tuple(served.split(",")) if served else None, conc,
                utc_from_epoch(started) or datetime.now(UTC),
                utc_from_epoch(seen) or datetime.now(UTC), cpu, rss,
            )
            for wid, host, pid, served, conc, started, seen, cpu, rss in found
        ]

    @translated
    def gauges(self) -> StoreGauges:
        if self.check_identity():  # a file deleted or replaced is not read on, unchanged
            raise StoreLost(self._lost or "the SQLite database was lost")
        now = self.clock.now()
        conn = self._conn()
        jobs = conn.execute(_GAUGES["jobs"], {"now": now}).fetchall()
        effects = conn.execute(_GAUGES["effects"]).fetchall()
        workers = conn.execute(_Q["list_workers"]).fetchall()
        at = utc_from_epoch(now) or datetime.now(UTC)
        return store_gauges.gauges(at, jobs, effects, [
            WorkerRecord(wid, host, pid, None, conc, at, utc_from_epoch(seen) or at)
            for wid, host, pid, _, conc, _, seen, *_ in workers
        ])

    def queue_stats(self, window: float) -> QueueReport:
        return self._queue_stats(queues.check_window(window))

    @translated
    def _queue_stats(self, window: float) -> QueueReport:
        # A watch polls this: a file deleted or replaced since it was opened is reported
        # (StoreLost) rather than read on, unchanged, for ever.
        if self.check_identity():
            raise StoreLost(self._lost or "the SQLite database was lost")
        now = self.clock.now()
        params = {"now": now, "since": now - window}
        conn = self._conn()
        counts = conn.execute(_QUEUE_STATS["counts"], params).fetchall()
        waits = conn.execute(_QUEUE_STATS["waits"], params).fetchall()
        return queues.report(utc_from_epoch(now) or datetime.now(UTC), window, counts, waits)


    @translated
    def job_id_by_key(self, key: str) -> int | None:
        conn = self._conn()
        row = conn.execute(_Q["job_by_key"], {"key": key}).fetchone() \
            or conn.execute(_Q["receipt_by_key"], {"key": key}).fetchone()
        return None if row is None else int(row[0])

    def queue_glance(self, window: float, sample: int = glance.SAMPLE) -> glance.Glance:
        return self._queue_glance(queues.check_window(window), glance.check_sample(sample))

    @translated
    def _queue_glance(self, window: float, sample: int) -> glance.Glance:
        if self.check_identity():
            raise StoreLost(self._lost or "the SQLite database was lost")
        now = self.clock.now()
        bucket = window / glance.WINDOW_BUCKETS
        params = {"now": now, "since": now - bucket * glance.HISTORY_BUCKETS,
                  "window_start": now - window, "bucket": bucket, "sample": sample,
                  "waits": min(sample, glance.WAIT_SAMPLE)}
        conn = self._conn()
        found = {step: conn.execute(sql, params).fetchall() for step, sql in _GLANCE.items()}
        return glance.glance(utc_from_epoch(now) or datetime.now(UTC), now, window, sample,
                             found["waiting"], found["held"], found["ended"], found["waits"])

#: The clauses of `list_jobs`' {filters}, by filter (statuses: `_INDEXED_STATUSES`).
_JOB_FILTERS = {"queue": "AND queue = :queue", "job_name": "AND job_name = :job_name",
                "parent_id": "AND parent_job_id = :parent_id", "from_id": "AND id >= :from_id",
                "before_id": "AND id < :before_id"}
#: The class a stored error begins with (see `policy.error_type_text`): the text after
#: :error_head and before the first :error_end.
_ERROR_TYPE = ("substr(substr(error, length(:error_head) + 1), 1, "
               "instr(substr(error, length(:error_head) + 1), :error_end) - 1)")
#: The clauses of the dead-letter queries' {filters}, by filter.
_DEAD_LETTER_FILTERS = {
    "queue": "AND queue = :queue", "job_name": "AND job_name = :job_name",
    "since": "AND finished_at >= :since", "before_id": "AND id < :before_id",
    "error_type": (
        "AND substr(error, 1, length(:error_head)) = :error_head "
        "AND instr(substr(error, length(:error_head) + 1), :error_end) > 0 "
        f"AND ({_ERROR_TYPE} = :error_type "
        f"OR substr({_ERROR_TYPE}, -length(:error_suffix)) = :error_suffix)"
    ),
}


def _job_query(template: str, where: JobFilter, *, paged: bool) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"queue": where.queue, "job_name": where.job_name,
                              "parent_id": where.parent_id, "from_id": where.from_id,
                              "before_id": where.before_id if paged else None,
                              "limit": where.limit}
    filters = [_JOB_FILTERS[name]
               for name in ("queue", "job_name", "parent_id", "from_id", "before_id")
               if params[name] is not None]
    indexed = ""
    if where.statuses:
        wanted = frozenset(where.statuses)
        filters.append(f"AND status IN ({', '.join(repr(s.value) for s in sorted(wanted))})")
        for held, index, clause in _INDEXED_STATUSES:
            if wanted <= held:
                indexed = f"INDEXED BY {index}"
                filters.append(clause)
                break
    return template.format(indexed=indexed, filters=" ".join(filters)), params


#: The partial indexes of the jobs, with the statuses each holds and its WHERE clause. A
#: list narrowed to statuses one of them holds reads that index: SQLite plans before it
#: sees bound values, uses a partial index only when the query repeats its clause, and,
#: asked for the newest, would rather walk down every id (succeeded jobs, the bulk of the
#: table, have no such index: that walk finds them soonest). The statuses are written out:
#: they are the enum's own words.
_INDEXED_STATUSES = (
    (frozenset({Status.RUNNING}), "jobtrail_jobs_leased", "AND status = 'running'"),
    (frozenset({Status.DEAD, Status.ORPHANED}), "jobtrail_jobs_dead",
     "AND status IN ('dead', 'orphaned')"),
    (frozenset({Status.CANCELLED}), "jobtrail_jobs_cancelled", "AND status = 'cancelled'"),
    (frozenset({Status.QUEUED, Status.RETRYING}), "jobtrail_jobs_ready",
     "AND status IN ('queued', 'retrying')"),
)


def _dead_letter_query(template: str, where: DeadLetterFilter,
                       *, paged: bool) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "queue": where.queue, "job_name": where.job_name,
        "since": None if where.since is None else where.since.timestamp(),
        "before_id": where.before_id if paged else None, "limit": where.limit,
        "error_type": None,
    }
    if where.error_type is not None:
        name = policy.error_type_text(where.error_type)
        params.update(error_type=name, error_suffix=f".{name}", error_head=policy.ERROR_TYPE_HEAD,
                      error_end=policy.ERROR_TYPE_END)
    filters = " ".join(clause for name, clause in _DEAD_LETTER_FILTERS.items()
                       if params[name] is not None)
    return template.format(filters=filters), params
#: The clauses of the divergence queries' {filters}, by filter.
_DIVERGENCE_FILTERS = {
    "job_name": "AND job_name = :job_name", "kind": "AND kind = :kind",
    "job_id": "AND job_id = :job_id", "since": "AND at >= :since",
    "before_id": "AND id < :before_id",
}


def _divergence_query(template: str, where: DivergenceFilter) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "job_name": where.job_name, "kind": where.kind, "job_id": where.job_id,
        "since": None if where.since is None else where.since.timestamp(),
        "before_id": where.before_id, "limit": where.limit,
    }
    filters = " ".join(clause for name, clause in _DIVERGENCE_FILTERS.items()
                       if params[name] is not None)
    return template.format(filters=filters), params
