"""Claims that respect flow limits on PostgreSQL: the jobs of limited job types and queues,
under one advisory lock so that two limited claims never count the same free slot (the
policy is `jobtrail.store.flow`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from jobtrail.store import policy
from jobtrail.store.base import ClaimedJob, FlowLimits, LimitedClaim
from jobtrail.store.flow import CANDIDATES_PER_SLOT, Allowance
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.sqlfiles import steps

_LIMITED = steps("postgres", "claim_limited")


class LimitedClaims(Database):
    """`Store.claim_limited` on PostgreSQL."""

    @translated
    def claim_limited(self, worker_id: str, queues: Sequence[str] | None, limit: int,
                      lease: float, flow: FlowLimits) -> LimitedClaim:
        served = [q for q in queues if q not in flow.paused] if queues else None
        if limit <= 0 or not flow.limits or served == []:
            return LimitedClaim([])
        scope = {"jobs": flow.limited_jobs, "queues": flow.limited_queues}
        try:
            with self._tx() as conn:
                conn.execute(_LIMITED["lock"])
                running = conn.execute(_LIMITED["running"], scope).fetchall()
                now, buckets = 0.0, {}
                if rated := [lim.bucket for lim in flow.limits if lim.rate is not None]:
                    ((now, stored),) = conn.execute(_LIMITED["buckets"], {"buckets": rated})
                    buckets = {name: (tokens, updated) for name, tokens, updated in stored}
                allowance = Allowance(flow, running, buckets, now)
                left = allowance.exclusions()
                sql, params = ready_filter(_LIMITED["candidates"], served)
                candidates = conn.execute(sql, {
                    **scope, **params, "full_jobs": left.jobs, "full_queues": left.queues,
                    "key_jobs": left.key_jobs, "keys": left.keys, "paused": sorted(flow.paused),
                    "limit": min(1000, limit * CANDIDATES_PER_SLOT)}).fetchall()
                ids = [job_id for job_id, job_name, queue, key in candidates
                       if allowance.take(job_name, queue, key)][:limit]
                claimed: list[ClaimedJob] = []
                if ids:
                    found = conn.execute(_LIMITED["claim"], {
                        "ids": ids, "worker": worker_id, "lease": float(lease),
                        "token": policy.claim_token()}).fetchall()
                    claimed = [ClaimedJob(*row) for row in found]
                if allowance.spent:
                    names, tokens, updated = zip(*allowance.buckets(), strict=True)
                    conn.execute(_LIMITED["save_buckets"], {
                        "names": list(names), "tokens": list(tokens), "updated": list(updated)})
        except psycopg.Error:
            self._claims.failed(worker_id, lease)  # as for claim: the answer may be lost
            raise
        self._claims.handed(worker_id, [(job.id, job.claim) for job in claimed])
        return LimitedClaim(claimed, allowance.retry_after(), len(candidates))


def ready_filter(template: str, queues: Sequence[str] | None, limit: int = 0,
                 exclude: FlowLimits | None = None) -> tuple[str, dict[str, Any]]:
    """*template* (a query over waiting jobs) for the queues a worker serves, shaped to fit
    a partial index, and its parameters; with *exclude*, without the jobs of its limits
    and paused queues (the claims of `claim_limited` take those)."""
    params: dict[str, Any] = {}
    if not queues:
        where = ""
    elif len(queues) == 1:
        where, params["queue"] = "AND queue = %(queue)s", queues[0]
    else:
        where, params["queues"] = "AND queue = ANY(%(queues)b)", list(queues)
    if exclude is not None and (exclude.limits or exclude.paused):
        where += (" AND NOT job_name = ANY(%(flow_jobs)s::text[])"
                  " AND NOT queue = ANY(%(flow_queues)s::text[])")
        params["flow_jobs"] = exclude.limited_jobs
        params["flow_queues"] = sorted({*exclude.limited_queues, *exclude.paused})
    return template.format(queue_filter=where, limit=int(limit)), params
