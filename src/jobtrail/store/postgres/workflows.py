"""Workflows on PostgreSQL: groups and chains stored, and decided, each in one transaction,
the workflow rows locked while they are decided (the policy is
`jobtrail.store.workflows`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobtrail.errors import JobNotFound
from jobtrail.store import workflows
from jobtrail.store.base import Enqueued, NewJob
from jobtrail.store.postgres.connection import Conn, translated
from jobtrail.store.postgres.producing import Producing
from jobtrail.store.sqlfiles import queries, steps

_WORKFLOW = steps("postgres", "workflow")
_SETTLE = steps("postgres", "settle_groups")
_STATE = queries("postgres")["workflow_state"]


class Workflows(Producing):
    """`Store.enqueue_workflow`, `Store.settle_groups` and `Store.workflow` on PostgreSQL."""

    @translated
    def enqueue_workflow(self, kind: str, members: Sequence[NewJob],
                         then_calls: Sequence[NewJob], on_failure: NewJob | None,
                         trace_id: str | None) -> tuple[int, list[Enqueued]]:
        with self._tx() as conn:
            made = workflows.create(self._runner(conn, _WORKFLOW), self._inserter(conn),
                                    kind, members, then_calls, on_failure, trace_id, None)
        self._notify_local()
        return made

    @translated
    def settle_groups(self, group_ids: Sequence[int] | None = None
                      ) -> list[tuple[int, workflows.State]]:
        with self._tx() as conn:
            decided = workflows.settle(self._runner(conn, {**_WORKFLOW, **_SETTLE}),
                                       self._inserter(conn), list, group_ids, None)
        if decided:
            self._notify_local()
        return decided

    @translated
    def workflow(self, workflow_id: int) -> workflows.WorkflowRecord:
        found = self._fetch(_STATE, {"id": workflow_id})
        if not found:
            raise JobNotFound(f"no workflow with id {workflow_id}")
        return workflows.WorkflowRecord(*found[0][:5])

    @staticmethod
    def _runner(conn: Conn, statements: dict[str, str]) -> workflows.Run:
        def run(step: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            cur = conn.execute(statements[step], params)
            return cur.fetchall() if cur.description else []
        return run

    def _inserter(self, conn: Conn) -> workflows.Insert:
        return lambda jobs: self._insert_jobs(conn, jobs)

    def _notify_local(self) -> None:
        """Workers of this process hear of the new jobs now (the others by NOTIFY)."""
        for watch in list(self._watches):
            watch.notify()
