"""Claims that respect flow limits on SQLite: the jobs of limited job types and queues, in
one write transaction, which keeps every other limited claim out (the policy is
`jobtrail.store.flow`'s)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from jobtrail.store import policy
from jobtrail.store.base import ClaimedJob, FlowLimits, LimitedClaim
from jobtrail.store.flow import CANDIDATES_PER_SLOT, Allowance
from jobtrail.store.sqlfiles import steps
from jobtrail.store.sqlite.connection import Database, translated

_LIMITED = steps("sqlite", "claim_limited")


class LimitedClaims(Database):
    """`Store.claim_limited` on SQLite."""

    @translated
    def claim_limited(self, worker_id: str, queues: Sequence[str] | None, limit: int,
                      lease: float, flow: FlowLimits) -> LimitedClaim:
        served = tuple(q for q in queues if q not in flow.paused) if queues else None
        if limit <= 0 or not flow.limits or served == ():
            return LimitedClaim([])
        scope = {"jobs": json.dumps(flow.limited_jobs), "queues": json.dumps(flow.limited_queues)}
        with self._write() as conn:
            now = self.clock.now()
            running = conn.execute(_LIMITED["running"], {**scope, "now": now}).fetchall()
            buckets = {}
            if rated := [lim.bucket for lim in flow.limits if lim.rate is not None]:
                buckets = {name: (tokens, updated) for name, tokens, updated in conn.execute(
                    _LIMITED["buckets"], {"buckets": json.dumps(rated)})}
            allowance = Allowance(flow, running, buckets, now)
            left = allowance.exclusions()
            sql, params = ready_filter(_LIMITED["candidates"], served)
            candidates = conn.execute(sql, {
                **scope, **params, "now": now, "full_jobs": json.dumps(left.jobs),
                "full_queues": json.dumps(left.queues), "paused": json.dumps(sorted(flow.paused)),
                "full_keys": json.dumps([f"{job}\0{key}" for job, key in
                                         zip(left.key_jobs, left.keys, strict=True)]),
                "limit": min(1000, limit * CANDIDATES_PER_SLOT)}).fetchall()
            order = {job_id: place for place, (job_id, job_name, queue, key) in
                     enumerate(candidates) if allowance.take(job_name, queue, key)}
            ids = sorted(order, key=order.__getitem__)[:limit]
            claimed: list[ClaimedJob] = []
            if ids:
                found = conn.execute(_LIMITED["claim"], {
                    "ids": json.dumps(ids), "worker": worker_id, "lease_until": now + lease,
                    "now": now, "token": policy.claim_token()}).fetchall()
                found.sort(key=lambda row: order[row[0]])
                conn.executemany(_LIMITED["event"], [(row[0], row[4], now, row[9])
                                                     for row in found])
                claimed = [ClaimedJob(*row) for row in found]
            if allowance.spent:
                conn.executemany(_LIMITED["save_buckets"], allowance.buckets())
        return LimitedClaim(claimed, allowance.retry_after(), len(candidates))


@functools.lru_cache(maxsize=256)
def ready_filter(template: str, queues: tuple[str, ...] | None,
                 exclude: FlowLimits | None = None) -> tuple[str, dict[str, str]]:
    """*template* (a query over waiting jobs) for the queues a worker serves, shaped to use
    the partial index that fits them, and its parameters (shared: never change them); with
    *exclude*, without the jobs of its limits and paused queues (`claim_limited` takes
    those)."""
    params: dict[str, str] = {}
    if not queues:
        index, where = "jobtrail_jobs_ready", ""
    elif len(queues) == 1:
        index, where = "jobtrail_jobs_ready_by_queue", "AND queue = :q0"
        params = {"q0": queues[0]}
    else:
        index = "jobtrail_jobs_ready"
        params = {f"q{i}": queue for i, queue in enumerate(queues)}
        where = f"AND queue IN ({', '.join(':' + p for p in params)})"
    if exclude is not None and (exclude.limits or exclude.paused):
        where += (" AND job_name NOT IN (SELECT value FROM json_each(:flow_jobs))"
                  " AND queue NOT IN (SELECT value FROM json_each(:flow_queues))")
        params["flow_jobs"] = json.dumps(exclude.limited_jobs)
        params["flow_queues"] = json.dumps(sorted({*exclude.limited_queues, *exclude.paused}))
    return template.format(ready_index=index, queue_filter=where), params
