"""Workflows on SQLite: groups and chains stored, and decided, each in one write
transaction (the policy is `jobtrail.store.workflows`'s)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from jobtrail.errors import JobNotFound
from jobtrail.store import workflows
from jobtrail.store.base import Enqueued, NewJob
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import translated
from jobtrail.store.sqlite.producing import Producing

_WORKFLOW = steps("sqlite", "workflow")
_SETTLE = steps("sqlite", "settle_groups")
_STATE = queries("sqlite")["workflow_state"]


class Workflows(Producing):
    """`Store.enqueue_workflow`, `Store.settle_groups` and `Store.workflow` on SQLite."""

    @translated
    def enqueue_workflow(self, kind: str, members: Sequence[NewJob],
                         then_calls: Sequence[NewJob], on_failure: NewJob | None,
                         trace_id: str | None) -> tuple[int, list[Enqueued]]:
        with self._write() as conn:
            now = self.clock.now()
            made = workflows.create(self._runner(conn, _WORKFLOW), self._inserter(conn, now),
                                    kind, members, then_calls, on_failure, trace_id, now)
        self._wake()
        return made

    @translated
    def settle_groups(self, group_ids: Sequence[int] | None = None
                      ) -> list[tuple[int, workflows.State]]:
        with self._write() as conn:
            now = self.clock.now()
            statements = {**_WORKFLOW, **_SETTLE}
            decided = workflows.settle(self._runner(conn, statements),
                                       self._inserter(conn, now), json.dumps, group_ids, now)
        if decided:
            self._wake()
        return decided

    @translated
    def workflow(self, workflow_id: int) -> workflows.WorkflowRecord:
        row = self._conn().execute(_STATE, {"id": workflow_id}).fetchone()
        if row is None:
            raise JobNotFound(f"no workflow with id {workflow_id}")
        return workflows.WorkflowRecord(*row[:5])

    @staticmethod
    def _runner(conn: sqlite3.Connection, statements: dict[str, str]) -> workflows.Run:
        def run(step: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            return conn.execute(statements[step], params).fetchall()
        return run

    def _inserter(self, conn: sqlite3.Connection, now: float) -> workflows.Insert:
        return lambda jobs: self._insert_jobs(conn, jobs, now)
