"""Reading a PostgreSQL store: jobs, their paths, runs, divergences, workers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from psycopg.rows import dict_row

from jobtrail.errors import JobNotFound
from jobtrail.records import Divergence, Event, JobRecord, RunRecord, Status
from jobtrail.store import rows, segments
from jobtrail.store.base import DivergenceFilter, JobFilter, WorkerRecord
from jobtrail.store.postgres.connection import Conn, Database, translated
from jobtrail.store.postgres.values import to_time
from jobtrail.store.sqlfiles import queries

_Q = queries("postgres")


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
        statuses = [s.value for s in where.statuses] if where.statuses else None
        params = {"statuses": statuses, "queue": where.queue, "job_name": where.job_name,
                  "before_id": where.before_id, "limit": where.limit}
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            # Never prepared: planned for the values at hand, the filters left unused fold
            # away and a status listing can use the partial index that matches it.
            found = cur.execute(_Q["list_jobs"], params, prepare=False).fetchall()
        return [rows.job_record(row, to_time) for row in found]

    @translated
    def events(self, job_id: int) -> list[Event]:
        return segments.expand(self._fetch(_Q["job_events"], {"id": job_id}), to_time)

    @translated
    def divergences(self, where: DivergenceFilter) -> list[Divergence]:
        found = self._fetch(_Q["divergences"], _divergence_params(where))
        return [rows.divergence_record(row, to_time) for row in found]

    @translated
    def divergence_counts(self, where: DivergenceFilter) -> dict[tuple[str, str], int]:
        found = self._fetch(_Q["divergence_counts"], _divergence_params(where))
        return {(job_name, kind): count for job_name, kind, count in found}

    @translated
    def runs(self, job_name: str, since: datetime | None = None) -> list[RunRecord]:
        found = self._fetch(_Q["runs"], {"job_name": job_name, "since": since})
        return [rows.run_record(row, to_time) for row in found]

    @translated
    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            found = cur.execute(_Q["children"], {"job_name": job_name, "ids": list(parent_ids)},
                                prepare=False).fetchall()
        return [rows.job_record(row, to_time) for row in found]

    @translated
    def milestones(self, name: str, since: datetime | None = None) -> list[Event]:
        found = self._fetch(_Q["milestones"], {"needle": encode_basestring(name), "since": since})
        return segments.milestones(found, name, to_time, since)

    @translated
    def counts(self) -> dict[tuple[str, Status], int]:
        return {(queue, Status(status)): n for queue, status, n in self._fetch(_Q["counts"])}

    @translated
    def workers(self) -> list[WorkerRecord]:
        return [
            WorkerRecord(wid, host, pid, tuple(queues.split(",")) if queues else None, conc,
                         started.astimezone(UTC), seen.astimezone(UTC))
            for wid, host, pid, queues, conc, started, seen in self._fetch(_Q["list_workers"])
        ]


def _divergence_params(where: DivergenceFilter) -> dict[str, Any]:
    return {"job_name": where.job_name, "kind": where.kind, "job_id": where.job_id,
            "since": where.since, "before_id": where.before_id, "limit": where.limit}
