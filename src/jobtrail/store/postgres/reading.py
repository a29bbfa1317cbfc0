"""Reading a PostgreSQL store: jobs, their paths, runs, divergences, workers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring
from typing import Any

from psycopg.rows import dict_row

from jobtrail.errors import JobNotFound
from jobtrail.records import Divergence, Event, JobRecord, RunRecord, Status, utc_from_epoch
from jobtrail.store import gauges as store_gauges
from jobtrail.store import glance, policy, queues, rows, segments
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import DivergenceFilter, JobFilter, WorkerRecord
from jobtrail.store.gauges import StoreGauges
from jobtrail.store.postgres.connection import Conn, Database, translated
from jobtrail.store.postgres.values import to_time
from jobtrail.store.queues import QueueReport
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_RETRY_STATS = steps("postgres", "retry_stats")
_QUEUE_STATS = steps("postgres", "queue_stats")
_GLANCE = steps("postgres", "queue_glance")
_GAUGES = steps("postgres", "gauges")


def read_job(conn: Conn, sql: str, job_id: int) -> JobRecord:
    """The job *sql* (``get_job`` or ``lock_job``) reads; `JobNotFound` when there is none."""
    row = conn.cursor(row_factory=dict_row).execute(sql, {"id": job_id}).fetchone()
    if row is None:
        raise JobNotFound(f"no job with id {job_id}")
    return rows.job_record(row, to_time)


class Reading(Database):
    """The reading side of the `Store` contract."""

    @translated
    def get(self, job_id: int) -> JobRecord:
        with self._conn() as conn:
            return read_job(conn, _Q["get_job"], job_id)

    @translated
    def statuses(self, job_ids: Sequence[int]) -> dict[int, Status]:
        if not job_ids:
            return {}
        found = self._fetch(_Q["statuses"], {"ids": list(job_ids)})
        return {job_id: Status(status) for job_id, status in found}

    @translated
    def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        return self._records(_Q["list_jobs"], _job_params(where))

    @translated
    def count_jobs(self, where: JobFilter) -> int:
        return self._count(_Q["count_jobs"], _job_params(where))

    @translated
    def dead_letters(self, where: DeadLetterFilter) -> list[JobRecord]:
        return self._records(_Q["dead_letters"], _dead_letter_params(where))

    @translated
    def count_dead_letters(self, where: DeadLetterFilter) -> int:
        return self._count(_Q["count_dead_letters"], _dead_letter_params(where))

    def _records(self, sql: str, params: dict[str, Any]) -> list[JobRecord]:
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            # Never prepared: planned for the values at hand, the filters left unused fold
            # away and a status listing can use the partial index that matches it.
            found = cur.execute(sql, params, prepare=False).fetchall()
        return [rows.job_record(row, to_time) for row in found]

    def _count(self, sql: str, params: dict[str, Any]) -> int:
        with self._conn() as conn:
            row = conn.execute(sql, params, prepare=False).fetchone()
        assert row is not None  # an aggregate always has its row
        return int(row[0])

    def _planned(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of *sql*, never prepared: planned for the values at hand, so that a
        filter left unused folds away and a rare job name gets the index that suits it
        (a plan made for the usual one would walk every job's ends to find its runs)."""
        with self._conn() as conn:
            return conn.execute(sql, params, prepare=False).fetchall()

    @translated
    def events(self, job_id: int) -> list[Event]:
        return segments.expand(self._fetch(_Q["job_events"], {"id": job_id}), to_time)

    @translated
    def divergences(self, where: DivergenceFilter) -> list[Divergence]:
        found = self._planned(_Q["divergences"], _divergence_params(where))
        return [rows.divergence_record(row, to_time) for row in found]

    @translated
    def divergence_counts(self, where: DivergenceFilter, *, newest: int | None = None
                          ) -> dict[tuple[str, str], int]:
        query = "divergence_counts" if newest is None else "recent_divergence_counts"
        found = self._planned(_Q[query], {**_divergence_params(where), "newest": newest})
        return {(job_name, kind): count for job_name, kind, count in found}

    @translated
    def runs(self, job_name: str, since: datetime | None = None, *,
             limit: int | None = None) -> list[RunRecord]:
        params = {"job_name": job_name, "since": since, "limit": limit}
        if limit is None:
            found = self._planned(_Q["runs"], params)
        else:
            found = self._planned(_Q["recent_runs"], params)
            found.reverse()
        return [rows.run_record(row, utc_from_epoch) for row in found]

    @translated
    def run_names(self, limit: int) -> list[tuple[str, datetime]]:
        return [(name, newest.astimezone(UTC))
                for name, newest in self._fetch(_Q["run_names"], {"limit": limit})]

    @translated
    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            found = cur.execute(_Q["children"], {"job_name": job_name, "ids": list(parent_ids)},
                                prepare=False).fetchall()
        return [rows.job_record(row, to_time) for row in found]

    @translated
    def milestones(self, name: str, since: datetime | None = None, *,
                   within: int | None = None) -> list[Event]:
        query = "milestones" if within is None else "recent_milestones"
        found = self._fetch(_Q[query], {"needle": encode_basestring(name), "since": since,
                                        "within": within})
        return segments.milestones(found, name, utc_from_epoch, since)

    @translated
    def events_horizon(self, within: int) -> datetime | None:
        found = self._fetch(_Q["events_horizon"], {"within": within})
        return None if not found else to_time(found[0][0])

    @translated
    def counts(self) -> dict[tuple[str, Status], int]:
        return {(queue, Status(status)): n for queue, status, n in self._fetch(_Q["counts"])}

    @translated
    def attempt_usage(self, since: float, limit: int) -> list[tuple[Any, ...]]:
        return self._fetch(_Q["attempt_usage"], {"since": since, "limit": limit})

    @translated
    def retry_stats(self, since: float, newest: int | None = None
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        params = {"since": since, "newest": newest}
        return (self._fetch(_RETRY_STATS["outcomes"], params),
                self._fetch(_RETRY_STATS["retries"], params))

    @translated
    def capacity_stats(self, since: float) -> list[tuple[Any, ...]]:
        return self._fetch(_Q["capacity_stats"], {"since": since})

    @translated
    def job_links(self) -> list[tuple[str, str, int]]:
        return [(parent, child, count) for parent, child, count in self._fetch(_Q["job_links"])]

    @translated
    def workers(self) -> list[WorkerRecord]:
        return [
            WorkerRecord(wid, host, pid, tuple(served.split(",")) if served else None, conc,
                         started.astimezone(UTC), seen.astimezone(UTC), cpu, rss)
            for wid, host, pid, served, conc, started, seen, cpu, rss
            in self._fetch(_Q["list_workers"])
        ]

    @translated
    def gauges(self) -> StoreGauges:
        with self._tx() as conn:
            conn.execute(_GAUGES["limit"], {"timeout": f"{store_gauges.GAUGES_TIMEOUT:g}s"})
            row = conn.execute(_GAUGES["clock"]).fetchone()
            now = row[0] if row else datetime.now(UTC)
            jobs = conn.execute(_GAUGES["jobs"], {"now": now}).fetchall()
            effects = conn.execute(_GAUGES["effects"]).fetchall()
            workers = conn.execute(_Q["list_workers"]).fetchall()
        at = now.astimezone(UTC)
        return store_gauges.gauges(at, jobs, effects, [
            WorkerRecord(wid, host, pid, None, conc, at, seen.astimezone(UTC))
            for wid, host, pid, _, conc, _, seen, *_ in workers
        ])

    def queue_stats(self, window: float) -> QueueReport:
        return self._queue_stats(queues.check_window(window))

    @translated
    def _queue_stats(self, window: float) -> QueueReport:
        with self._tx() as conn:
            row = conn.execute(_QUEUE_STATS["clock"]).fetchone()
            now = row[0] if row else datetime.now(UTC)
            params = {"now": now, "since": now - timedelta(seconds=window)}
            counts = conn.execute(_QUEUE_STATS["counts"], params).fetchall()
            waits = conn.execute(_QUEUE_STATS["waits"], params).fetchall()
        return queues.report(now.astimezone(UTC), window, counts, waits)


    @translated
    def job_id_by_key(self, key: str) -> int | None:
        rows = self._fetch(_Q["job_by_key"], {"key": key}) \
            or self._fetch(_Q["receipt_by_key"], {"key": key})
        return None if not rows else int(rows[0][0])

    def queue_glance(self, window: float, sample: int = glance.SAMPLE) -> glance.Glance:
        return self._queue_glance(queues.check_window(window), glance.check_sample(sample))

    @translated
    def _queue_glance(self, window: float, sample: int) -> glance.Glance:
        steps_ = dict(_GLANCE)
        with self._tx() as conn:
            row = conn.execute(steps_.pop("clock")).fetchone()
            now = row[0] if row else datetime.now(UTC)
            bucket = window / glance.WINDOW_BUCKETS
            params = {"now": now, "since": now - timedelta(seconds=bucket * glance.HISTORY_BUCKETS),
                      "window_start": now - timedelta(seconds=window), "bucket": bucket,
                      "sample": sample, "waits": min(sample, glance.WAIT_SAMPLE)}
            found = {step: conn.execute(sql, params).fetchall() for step, sql in steps_.items()}
        return glance.glance(now.astimezone(UTC), now.timestamp(), window, sample,
                             found["waiting"], found["held"], found["ended"], found["waits"])

def _job_params(where: JobFilter) -> dict[str, Any]:
    statuses = [s.value for s in where.statuses] if where.statuses else None
    return {"statuses": statuses, "queue": where.queue, "job_name": where.job_name,
            "parent_id": where.parent_id, "from_id": where.from_id,
            "before_id": where.before_id, "limit": where.limit}


def _dead_letter_params(where: DeadLetterFilter) -> dict[str, Any]:
    name = None if where.error_type is None else policy.error_type_text(where.error_type)
    return {"queue": where.queue, "job_name": where.job_name, "since": where.since,
            "before_id": where.before_id, "limit": where.limit, "error_type": name,
            "error_suffix": None if name is None else f".{name}",
            "error_head": policy.ERROR_TYPE_HEAD, "error_end": policy.ERROR_TYPE_END}


def _divergence_params(where: DivergenceFilter) -> dict[str, Any]:
    return {"job_name": where.job_name, "kind": where.kind, "job_id": where.job_id,
            "since": where.since, "before_id": where.before_id, "limit": where.limit}
