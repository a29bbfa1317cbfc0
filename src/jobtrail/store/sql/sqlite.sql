-- Named queries of the SQLite backend. Each starts with "-- name: NAME".
-- {ready_index} and {queue_filter} are filled in by the backend for the queues a worker serves.

-- name: enqueue
INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                           created_at, parent_job_id, trace_id, trace_context)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: insert_event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: claim
UPDATE jobtrail_jobs
SET status = 'running', attempts = attempts + 1, claim = :token, worker_id = :worker,
    lease_expires_at = :lease_until, started_at = :now
WHERE id IN (
    SELECT id FROM jobtrail_jobs INDEXED BY {ready_index}
    WHERE status IN ('queued', 'retrying') AND run_at <= :now {queue_filter}
    ORDER BY priority DESC, run_at, id
    LIMIT :limit)
RETURNING id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
          claim

-- name: any_runnable
SELECT 1 FROM jobtrail_jobs INDEXED BY {ready_index}
WHERE status IN ('queued', 'retrying') AND run_at <= :now {queue_filter}
LIMIT 1

-- name: next_run_at
SELECT min(run_at) FROM jobtrail_jobs INDEXED BY {ready_index}
WHERE status IN ('queued', 'retrying') {queue_filter}

-- name: held_claims
-- The (job, claim) pairs a worker still holds, of those it is about to finish.
SELECT id, claim FROM jobtrail_jobs
WHERE status = 'running' AND worker_id = ? AND id IN ({ids})

-- name: finish
-- Only for claims held_claims found, in the same write transaction.
UPDATE jobtrail_jobs
SET status = :status, result = :result, error = :error, outcome = :outcome,
    run_at = CASE WHEN :delay IS NULL THEN run_at ELSE :now + :delay END,
    backoff = coalesce(:delay, backoff),
    finished_at = CASE WHEN :final THEN :now END,
    lease_expires_at = NULL, variant = :variant, code_version = :code_version
WHERE id = :id

-- name: insert_outcome_event
-- The transition of an attempt's outcome, carrying the path it recorded since the last write.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path)
VALUES (?, ?, 'lifecycle', ?, ?, ?, ?, ?)

-- name: insert_divergence
INSERT INTO jobtrail_divergences
    (job_id, job_name, attempt, kind, position, found, expected, message, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: extend_lease
UPDATE jobtrail_jobs SET lease_expires_at = :lease_until
WHERE id = :id AND status = 'running' AND worker_id = :worker

-- name: release
UPDATE jobtrail_jobs
SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,
    attempts = attempts - 1, lease_expires_at = NULL, run_at = :now
WHERE id = :id AND status = 'running' AND worker_id = :worker
RETURNING attempts + 1

-- name: expired_leases
SELECT id, attempts, max_attempts, worker_id FROM jobtrail_jobs INDEXED BY jobtrail_jobs_leased
WHERE status = 'running' AND lease_expires_at < :now
LIMIT :limit

-- name: expire_lease
UPDATE jobtrail_jobs
SET status = :status, error = :error, lease_expires_at = NULL, run_at = :now,
    finished_at = CASE WHEN :status = 'dead' THEN :now END
WHERE id = :id AND status = 'running' AND lease_expires_at < :now

-- name: worker_leases
SELECT id, attempts, max_attempts, worker_id FROM jobtrail_jobs INDEXED BY jobtrail_jobs_leased
WHERE status = 'running' AND worker_id = :worker

-- name: expire_worker_lease
-- A lease of a worker known to be dead, ended before it runs out.
UPDATE jobtrail_jobs
SET status = :status, error = :error, lease_expires_at = NULL, run_at = :now,
    finished_at = CASE WHEN :status = 'dead' THEN :now END
WHERE id = :id AND status = 'running' AND worker_id = :worker

-- name: upsert_worker
INSERT INTO jobtrail_workers (id, hostname, pid, queues, concurrency, started_at, last_seen)
VALUES (:id, :hostname, :pid, :queues, :concurrency, :now, :now)
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen

-- name: delete_worker
DELETE FROM jobtrail_workers WHERE id = ?

-- name: list_workers
SELECT id, hostname, pid, queues, concurrency, started_at, last_seen
FROM jobtrail_workers ORDER BY started_at

-- name: get_job
SELECT * FROM jobtrail_jobs WHERE id = ?

-- name: job_events
SELECT job_id, attempt, kind, name, at, duration, attrs, path FROM jobtrail_events
WHERE job_id = ? ORDER BY id

-- name: counts
SELECT queue, status, count(*) FROM jobtrail_jobs GROUP BY queue, status

-- name: set_status
UPDATE jobtrail_jobs
SET status = :to_status, outcome = :outcome, finished_at = :finished_at, run_at = :now,
    attempts = CASE WHEN :reset THEN 0 ELSE attempts END,
    error = CASE WHEN :reset THEN NULL ELSE error END,
    result = CASE WHEN :reset THEN NULL ELSE result END,
    backoff = CASE WHEN :reset THEN NULL ELSE backoff END,
    variant = CASE WHEN :reset THEN NULL ELSE variant END,
    code_version = CASE WHEN :reset THEN NULL ELSE code_version END
WHERE id = :id AND status = :from_status

-- name: job_by_key
SELECT id, payload_hash, status, finished_at FROM jobtrail_jobs WHERE idempotency_key = ?

-- name: receipt_by_key
SELECT job_id, payload_hash, finished_at FROM jobtrail_receipts WHERE idempotency_key = ?

-- name: free_key
UPDATE jobtrail_jobs SET idempotency_key = NULL WHERE idempotency_key = ?

-- name: delete_receipt
DELETE FROM jobtrail_receipts WHERE idempotency_key = ?

-- name: enqueue_keyed
INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                           created_at, parent_job_id, trace_id, trace_context,
                           idempotency_key, payload_hash)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: write_receipts
INSERT OR REPLACE INTO jobtrail_receipts
    (idempotency_key, job_id, job_name, payload_hash, status, result, error, finished_at)
SELECT idempotency_key, id, job_name, payload_hash, status, result, error, finished_at
FROM jobtrail_jobs WHERE id IN ({ids}) AND idempotency_key IS NOT NULL

-- name: insert_segment_if_held
-- A checkpoint, only while the job is running, leased to this worker, under that claim.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path)
SELECT :job_id, :attempt, :kind, :name, :at, :duration, :attrs, :path
WHERE EXISTS (SELECT 1 FROM jobtrail_jobs WHERE id = :job_id AND status = 'running'
              AND worker_id = :worker AND claim = :claim)

-- name: path_segments
-- A worker of schema version 2 still running beside this one keeps a segment in attrs.
SELECT job_id, coalesce(path, attrs) FROM jobtrail_events
WHERE job_id IN ({ids}) AND (path IS NOT NULL OR kind = 'path') ORDER BY job_id, id

-- name: holds_claim
-- Whether an attempt still holds its job: running under the claim it was given.
SELECT 1 FROM jobtrail_jobs WHERE id = ? AND status = 'running' AND claim = ?

-- name: effect_by_key
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim
FROM jobtrail_effects WHERE key = ?

-- name: begin_effect
INSERT INTO jobtrail_effects (key, job_id, name, attempt, claim, status, repeat_safe, started_at)
VALUES (:key, :job_id, :name, :attempt, :claim, 'started', :repeat_safe, :now)
ON CONFLICT (key) DO UPDATE SET
    job_id = excluded.job_id, name = excluded.name, attempt = excluded.attempt,
    claim = excluded.claim, status = 'started', repeat_safe = excluded.repeat_safe,
    result = NULL, error = NULL, started_at = excluded.started_at, finished_at = NULL

-- name: end_effect
UPDATE jobtrail_effects
SET status = CASE WHEN :error IS NULL THEN 'done' ELSE 'failed' END,
    result = :result, error = :error, finished_at = :now
WHERE key = :key AND job_id = :job_id AND claim = :claim

-- name: job_effects
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim
FROM jobtrail_effects WHERE job_id = ? ORDER BY started_at, key

-- name: resolve_effect
UPDATE jobtrail_effects
SET status = :status, result = :result, finished_at = :now
WHERE key = :key

-- name: divergences
SELECT id, job_id, job_name, attempt, kind, position, found, expected, message, at
FROM jobtrail_divergences

-- name: divergence_counts
SELECT job_name, kind, count(*) FROM jobtrail_divergences WHERE {where}
GROUP BY job_name, kind ORDER BY job_name, kind

-- name: runs
-- Runs that ended for good, oldest first.
SELECT id, job_name, status, outcome, variant, code_version, created_at, started_at,
       finished_at, parent_job_id
FROM jobtrail_jobs
WHERE job_name = ? AND variant IS NOT NULL AND finished_at IS NOT NULL
  AND (? IS NULL OR finished_at >= ?)
ORDER BY finished_at, id

-- name: children
SELECT * FROM jobtrail_jobs WHERE job_name = ? AND parent_job_id IN ({ids})

-- name: milestones
-- Rows whose path may hold the event: its JSON-quoted name appears in the text.
SELECT job_id, attempt, kind, name, at, duration, attrs, path FROM jobtrail_events
WHERE path IS NOT NULL AND instr(path, ?) > 0 AND (? IS NULL OR at >= ? - 86400)
ORDER BY id
