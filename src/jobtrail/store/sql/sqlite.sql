-- Named queries of the SQLite backend: every statement it runs. Each starts with
-- "-- name: NAME", and postgres.sql defines the same names (a test checks it), so an
-- operation reads side by side in both dialects.
-- SQLite cannot write from a CTE: where PostgreSQL does an operation in one statement (its
-- lifecycle events written by a data-modifying CTE), the query here has steps, each
-- starting with "-- step: STEP", run in order in one write transaction.
-- Braces are filled in by the backend from fixed text, never from values: {ready_index}
-- and {queue_filter} for the queues a worker serves, {ids} with one "?" per id, {filters}
-- with the clauses of the filters given (each query says which).
-- Times are epoch seconds from the store's clock, passed as :now.

-- name: configure
-- Settings of every connection the store opens.
-- step: journal_mode
PRAGMA journal_mode = WAL
-- step: synchronous
PRAGMA synchronous = NORMAL

-- name: begin_write
-- A write transaction takes the database's single write lock at once: what it reads stays
-- true until it commits, and this process's writers queue on their own lock first.
BEGIN IMMEDIATE

-- name: watch
-- Changes whenever another connection commits: idle workers poll it (a read of shared
-- memory, no disk I/O) to notice new work.
PRAGMA data_version

-- name: watch_finished
-- The same poll for waiters: any commit may have ended the jobs they wait for.
PRAGMA data_version

-- name: waiters_listening
-- Not run: SQLite has no notifications (PostgreSQL asks this before notifying waiters).
SELECT 0

-- name: migration_lock
-- Migrations run in one write transaction, holding the write lock from its start: a
-- concurrent migrator waits, then finds nothing left to do.
BEGIN IMMEDIATE

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS jobtrail_schema (
    version     INTEGER PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  REAL    NOT NULL
)

-- name: schema_table_exists
SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobtrail_schema')

-- name: schema_version
SELECT coalesce(max(version), 0) FROM jobtrail_schema

-- name: record_migration
INSERT INTO jobtrail_schema (version, description, applied_at)
VALUES (:version, :description, :now)

-- name: audit_migrated
-- The migrations just applied, as an event of no job (job 0) that the audit trail seals.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'migrated', :now, :attrs)

-- name: enqueue
-- step: job
INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                           created_at, parent_job_id, trace_id, trace_context, redact,
                           concurrency_key)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (?, 0, 'lifecycle', 'enqueued', ?, ?)

-- name: enqueue_keyed
-- One job with an idempotency key, once the backend found no job or receipt holding it;
-- its event is the enqueue's.
INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                           created_at, parent_job_id, trace_id, trace_context, redact,
                           concurrency_key, idempotency_key, payload_hash)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: job_by_key
SELECT id, payload_hash, status, finished_at FROM jobtrail_jobs WHERE idempotency_key = :key

-- name: receipt_by_key
SELECT job_id, payload_hash, finished_at FROM jobtrail_receipts WHERE idempotency_key = :key

-- name: free_key
-- Only from the finished job the decision was made on.
UPDATE jobtrail_jobs SET idempotency_key = NULL
WHERE idempotency_key = :key AND id = :id AND finished_at = :finished_at

-- name: delete_receipt
DELETE FROM jobtrail_receipts WHERE idempotency_key = :key

-- name: delete_expired_receipt
DELETE FROM jobtrail_receipts
WHERE idempotency_key = :key AND job_id = :id AND finished_at = :finished_at

-- name: claim
-- step: probe
-- Read before the write lock is taken: the poll of an idle worker ends here, without
-- queueing behind writers.
SELECT 1 FROM jobtrail_jobs INDEXED BY {ready_index}
WHERE status IN ('queued', 'retrying') AND run_at <= :now {queue_filter}
LIMIT 1
-- step: claim
UPDATE jobtrail_jobs
SET status = 'running', attempts = attempts + 1, claim = :token, worker_id = :worker,
    lease_expires_at = :lease_until, started_at = :now
WHERE id IN (
    SELECT id FROM jobtrail_jobs INDEXED BY {ready_index}
    WHERE status IN ('queued', 'retrying') AND run_at <= :now {queue_filter}
    ORDER BY priority DESC, run_at, id
    LIMIT :limit)
RETURNING id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
          claim, group_id, trace_context
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
VALUES (?, ?, 'lifecycle', 'claimed', ?, ?)

-- name: claim_job
-- One job by id, whatever its run_at (brought forward to now), if it waits to run: the
-- lease as claim gives it.
-- step: claim
UPDATE jobtrail_jobs
SET status = 'running', attempts = attempts + 1, claim = :token, worker_id = :worker,
    lease_expires_at = :lease_until, started_at = :now, run_at = min(run_at, :now)
WHERE id = :id AND status IN ('queued', 'retrying')
RETURNING id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
          claim, group_id, trace_context
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
VALUES (?, ?, 'lifecycle', 'claimed', ?, ?)

-- name: next_run_at
SELECT min(run_at) FROM jobtrail_jobs INDEXED BY {ready_index}
WHERE status IN ('queued', 'retrying') {queue_filter}

-- name: heartbeat
-- step: worker
INSERT INTO jobtrail_workers (id, hostname, pid, queues, concurrency, started_at, last_seen,
                              cpu_seconds, max_rss)
VALUES (:id, :hostname, :pid, :queues, :concurrency, :now, :now, :cpu_seconds, :max_rss)
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,
                               cpu_seconds = excluded.cpu_seconds, max_rss = excluded.max_rss
-- step: lease
UPDATE jobtrail_jobs SET lease_expires_at = :lease_until
WHERE id = :id AND status = 'running' AND worker_id = :worker

-- name: withdraw_intents
-- The intents of effects a claim began, whose call it never made (the intent's write
-- failed as far as the attempt knew): withdrawn with the attempt's outcome, in its
-- transaction, for the claims that still hold their jobs, so the next attempt calls them
-- once.
DELETE FROM jobtrail_effects
WHERE key = ? AND job_id = ? AND claim = ? AND status = 'started'

-- name: finish
-- step: held
-- The (job, claim) pairs the worker still holds, of those it is about to finish: the
-- other steps run only for the outcomes of these.
SELECT id, claim FROM jobtrail_jobs
WHERE status = 'running' AND worker_id = ? AND id IN ({ids})
-- step: job
UPDATE jobtrail_jobs
SET status = :status, result = :result, error = :error, outcome = :outcome,
    attempts = attempts - :uncounted,
    run_at = CASE WHEN :delay IS NULL THEN run_at ELSE :now + :delay END,
    backoff = coalesce(:delay, backoff),
    finished_at = CASE WHEN :final THEN :now END,
    lease_expires_at = NULL, variant = :variant, code_version = :code_version,
    milestones = :milestones
WHERE id = :id
-- step: event
-- The transition carries the path its attempt recorded since the last write, and its claim.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path, claim)
VALUES (?, ?, 'lifecycle', ?, ?, ?, ?, ?, ?)
-- step: divergence
INSERT INTO jobtrail_divergences
    (job_id, job_name, attempt, kind, position, found, expected, message, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
-- step: receipts
-- A keyed job that reached a final status leaves a receipt of its outcome.
INSERT OR REPLACE INTO jobtrail_receipts
    (idempotency_key, job_id, job_name, payload_hash, status, result, error, finished_at)
SELECT idempotency_key, id, job_name, payload_hash, status, result, error, finished_at
FROM jobtrail_jobs WHERE id IN ({ids}) AND idempotency_key IS NOT NULL

-- name: record_run
-- The summary of a run that ended for good without one (its worker died): only for a
-- final job whose variant is still unset.
-- step: job
UPDATE jobtrail_jobs
SET variant = :variant, code_version = :code_version, milestones = :milestones
WHERE id = :id AND variant IS NULL
  AND status IN ('succeeded', 'dead', 'orphaned', 'cancelled')
-- step: divergence
INSERT INTO jobtrail_divergences
    (job_id, job_name, attempt, kind, position, found, expected, message, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: path_segments
-- Every stored segment of the jobs, with the claim and attempt that wrote it, in the order
-- written. A worker of schema version 2 still running beside this one keeps a segment in
-- attrs.
SELECT job_id, claim, attempt, coalesce(path, attrs) FROM jobtrail_events
WHERE job_id IN ({ids}) AND (path IS NOT NULL OR kind = 'path') ORDER BY job_id, id

-- name: saved_path
-- The segments the job's claims saved (checkpoints, with effects, outcomes), in order, each
-- with its row's time (the base of a segment that has none) and its claim.
SELECT e.at, e.path, e.claim FROM jobtrail_events AS e
WHERE e.job_id = :id AND e.path IS NOT NULL
ORDER BY e.id

-- name: insert_segments_if_held
-- A checkpoint, only while the job is running, leased to this worker, under that claim.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path, claim)
SELECT :job_id, :attempt, :kind, :name, :at, :duration, :attrs, :path, :claim
WHERE EXISTS (SELECT 1 FROM jobtrail_jobs WHERE id = :job_id AND status = 'running'
              AND worker_id = :worker AND claim = :claim)

-- name: release
-- step: release
UPDATE jobtrail_jobs
SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,
    attempts = attempts - 1, lease_expires_at = NULL, run_at = :now
WHERE id = :id AND status = 'running' AND worker_id = :worker
RETURNING attempts + 1, claim
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
VALUES (?, ?, 'lifecycle', 'released', ?, ?)

-- name: expired_leases
SELECT id, attempts, max_attempts, worker_id, claim FROM jobtrail_jobs
INDEXED BY jobtrail_jobs_leased
WHERE status = 'running' AND lease_expires_at < :now
LIMIT :limit

-- name: expire_leases
-- step: expire
UPDATE jobtrail_jobs
SET status = :status, error = :error, lease_expires_at = NULL, run_at = :now,
    finished_at = CASE WHEN :status = 'dead' THEN :now END
WHERE id = :id AND status = 'running' AND lease_expires_at < :now
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs, claim)
VALUES (?, ?, 'lifecycle', 'lease_expired', ?, ?, ?)

-- name: worker_leases
SELECT id, attempts, max_attempts, worker_id, claim FROM jobtrail_jobs
INDEXED BY jobtrail_jobs_leased
WHERE status = 'running' AND worker_id = :worker

-- name: expire_worker_leases
-- The leases of a worker known to be dead, ended before they run out.
-- step: expire
UPDATE jobtrail_jobs
SET status = :status, error = :error, lease_expires_at = NULL, run_at = :now,
    finished_at = CASE WHEN :status = 'dead' THEN :now END
WHERE id = :id AND status = 'running' AND worker_id = :worker
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs, claim)
VALUES (?, ?, 'lifecycle', 'lease_expired', ?, ?, ?)

-- name: delete_worker
DELETE FROM jobtrail_workers WHERE id = :id

-- name: list_workers
SELECT id, hostname, pid, queues, concurrency, started_at, last_seen, cpu_seconds, max_rss
FROM jobtrail_workers ORDER BY started_at

-- name: get_job
SELECT * FROM jobtrail_jobs WHERE id = :id

-- name: statuses
-- {ids}: one "?" per id.
SELECT id, status FROM jobtrail_jobs WHERE id IN ({ids})

-- name: lock_job
-- SQLite has no row locks: the write transaction this runs in holds the whole database.
SELECT * FROM jobtrail_jobs WHERE id = :id

-- name: list_jobs
-- {filters}: "AND status IN ('queued', ...)", "AND queue = :queue", "AND job_name =
-- :job_name", "AND parent_job_id = :parent_id", "AND id < :before_id", for the filters
-- given. Written out, they keep the plans that "(:x IS NULL OR ...)" would cost SQLite,
-- which plans before it sees the values: paging stays a range of the rowid. {indexed}:
-- "INDEXED BY" the partial index that holds every status asked for, if one does (its
-- clause then among the filters).
SELECT * FROM jobtrail_jobs {indexed} WHERE 1 {filters} ORDER BY id DESC LIMIT :limit

-- name: count_jobs
-- {filters}, {indexed}: those of list_jobs but "AND id < :before_id": the whole of what
-- matches.
SELECT count(*) FROM jobtrail_jobs {indexed} WHERE 1 {filters}

-- name: dead_letters
-- The statuses are written out, so that the partial index jobtrail_jobs_dead serves the
-- listing. {filters}: "AND queue = :queue", "AND job_name = :job_name", "AND finished_at >=
-- :since", "AND id < :before_id", and for an error class the clause that compares the class
-- its stored error begins with (between :error_head and :error_end) with :error_type, or
-- its end with :error_suffix (".NAME").
SELECT * FROM jobtrail_jobs WHERE status IN ('dead', 'orphaned') {filters}
ORDER BY id DESC LIMIT :limit

-- name: count_dead_letters
-- {filters}: those of dead_letters but "AND id < :before_id".
SELECT count(*) FROM jobtrail_jobs WHERE status IN ('dead', 'orphaned') {filters}

-- name: job_events
SELECT job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE job_id = :id ORDER BY id

-- name: counts
SELECT queue, status, count(*) FROM jobtrail_jobs GROUP BY queue, status

-- name: queue_stats
-- What `jobtrail queues` shows, as of :now, over the window since :since.
-- step: counts
-- Per queue and status: jobs, those waiting for their run_at, how long the earliest of
-- those that may run has waited, and jobs finished in the window.
SELECT queue, status, count(*),
       count(*) FILTER (WHERE run_at > :now),
       :now - min(run_at) FILTER (WHERE run_at <= :now),
       count(*) FILTER (WHERE finished_at >= :since)
FROM jobtrail_jobs GROUP BY queue, status
-- step: waits
-- Per queue, the wait (run_at to claim) at the 95th percentile (nearest rank) of the claims
-- of the window, and how many there were. A claim's run_at is still the one it waited for
-- unless a retry, an expired lease or an operator moved it later than the claim since.
SELECT queue, wait, total FROM (
    SELECT queue, started_at - run_at AS wait,
           row_number() OVER (PARTITION BY queue ORDER BY started_at - run_at) AS rank,
           count(*) OVER (PARTITION BY queue) AS total
    FROM jobtrail_jobs
    WHERE started_at >= :since AND started_at >= run_at
)
WHERE rank = max(1, (95 * total + 99) / 100)

-- name: queue_glance
-- What the dashboard's overview and the health checks read, as of :now, from indexes only:
-- their cost follows the jobs that wait, run or are dead letters, and at most :sample of
-- those that ended, never the whole table (see Store.queue_glance).
-- step: waiting
-- Per queue, the waiting jobs (the claim index jobtrail_jobs_ready_by_queue holds them all):
-- how many, those waiting for their run_at, how long the earliest runnable has waited.
SELECT queue, count(*), count(*) FILTER (WHERE run_at > :now),
       :now - min(run_at) FILTER (WHERE run_at <= :now)
FROM jobtrail_jobs WHERE status IN ('queued', 'retrying') GROUP BY queue
-- step: held
-- Per queue and status, the running jobs and the dead letters (their partial indexes).
SELECT queue, status, count(*) FROM jobtrail_jobs WHERE status = 'running' GROUP BY queue, status
UNION ALL
SELECT queue, status, count(*) FROM jobtrail_jobs WHERE status IN ('dead', 'orphaned')
GROUP BY queue, status
-- step: ended
-- The newest :sample jobs workers ended since :since (jobtrail_jobs_finished, newest
-- first), by queue, status and bucket (0 ends within :bucket seconds of :now, 1 the
-- bucket before...): how many, and the earliest end.
SELECT queue, status, CAST((:now - finished_at) / :bucket AS INTEGER), count(*),
       min(finished_at)
FROM (SELECT queue, status, finished_at FROM jobtrail_jobs
      WHERE finished_at >= :since AND status IN ('succeeded', 'dead', 'orphaned')
      ORDER BY finished_at DESC LIMIT :sample)
GROUP BY 1, 2, 3
-- step: waits
-- Per queue, of the newest :waits jobs ended since :window_start, the wait (run_at to
-- their last claim) at the 95th percentile (nearest rank), and how many were measured.
SELECT queue, wait, total FROM (
    SELECT queue, started_at - run_at AS wait,
           row_number() OVER (PARTITION BY queue ORDER BY started_at - run_at) AS rank,
           count(*) OVER (PARTITION BY queue) AS total
    FROM (SELECT queue, started_at, run_at FROM jobtrail_jobs
          WHERE finished_at >= :window_start AND status IN ('succeeded', 'dead', 'orphaned')
          ORDER BY finished_at DESC LIMIT :waits)
    WHERE started_at >= run_at
)
WHERE rank = max(1, (95 * total + 99) / 100)

-- name: gauges
-- What the metrics read at each scrape (`jobtrail.metrics`), as of :now.
-- step: jobs
-- Per queue, job type and status: jobs, and how long the earliest of those that may run
-- now has waited since its run_at (only waiting statuses have one).
SELECT queue, job_name, status, count(*),
       :now - min(run_at) FILTER (WHERE run_at <= :now AND status IN ('queued', 'retrying'))
FROM jobtrail_jobs GROUP BY queue, job_name, status
-- step: effects
-- Per job type and state, effects: 'done' or 'failed' as recorded; of those 'started', the
-- ones whose claim still runs the job are in progress ('started'), the others 'uncertain'.
SELECT j.job_name,
       CASE WHEN e.status <> 'started' THEN e.status
            WHEN j.status = 'running' AND j.claim = e.claim THEN 'started'
            ELSE 'uncertain' END,
       count(*)
FROM jobtrail_effects AS e JOIN jobtrail_jobs AS j ON j.id = e.job_id
GROUP BY 1, 2

-- name: set_status
-- step: status
UPDATE jobtrail_jobs
SET status = :to_status, outcome = :outcome, finished_at = :finished_at, run_at = :now,
    attempts = CASE WHEN :reset THEN 0 ELSE attempts END,
    error = CASE WHEN :reset THEN NULL ELSE error END,
    result = CASE WHEN :reset THEN NULL ELSE result END,
    backoff = CASE WHEN :reset THEN NULL ELSE backoff END,
    variant = CASE WHEN :reset THEN NULL ELSE variant END,
    code_version = CASE WHEN :reset THEN NULL ELSE code_version END,
    milestones = CASE WHEN :reset THEN NULL ELSE milestones END
WHERE id = :id AND status = :from_status
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (:id, :attempt, 'lifecycle', :event, :now, :attrs)

-- name: hold_claim
-- Whether an attempt still holds its job: running under the claim it was given.
SELECT 1 FROM jobtrail_jobs WHERE id = :job_id AND status = 'running' AND claim = :claim

-- name: lock_effect
-- Read in the write transaction, which holds the whole database.
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim, repeated
FROM jobtrail_effects WHERE key = :key

-- name: insert_effect
-- A new key, begun by a claim that still holds its running job (hold_claim found it).
INSERT INTO jobtrail_effects (key, job_id, name, attempt, claim, status, repeat_safe, started_at)
VALUES (:key, :job_id, :name, :attempt, :claim, 'started', :repeat_safe, :now)

-- name: restart_effect
-- :repeated when a repeat_safe effect is begun again over the 'started' record of another
-- claim: it may happen twice, and that stays known whatever its end.
UPDATE jobtrail_effects
SET job_id = :job_id, name = :name, attempt = :attempt, claim = :claim, status = 'started',
    repeat_safe = :repeat_safe, result = NULL, error = NULL, started_at = :now,
    finished_at = NULL, repeated = CASE WHEN :repeated THEN 1 ELSE repeated END
WHERE key = :key

-- name: insert_segment
-- The path an attempt recorded before an effect, written with the effect's intent, by a
-- claim that still holds its running job (hold_claim found it).
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path, claim)
VALUES (:job_id, :attempt, :kind, :name, :at, :duration, :attrs, :path, :claim)

-- name: end_effect
-- Only an end not recorded yet: a retry whose first answer was lost changes nothing. The
-- attempt that began it is returned, for the segment written with the end.
UPDATE jobtrail_effects
SET status = CASE WHEN :error IS NULL THEN 'done' ELSE 'failed' END,
    result = :result, error = :error, finished_at = :now
WHERE key = :key AND job_id = :job_id AND claim = :claim AND status = 'started'
RETURNING attempt

-- name: job_effects
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim, repeated
FROM jobtrail_effects WHERE job_id = :id ORDER BY started_at, key

-- name: resolve_effect
-- step: effect
UPDATE jobtrail_effects SET status = :status, result = :result, finished_at = :now
WHERE key = :key
RETURNING key, job_id, name, attempt, status, repeat_safe, result, error, started_at,
          finished_at, claim, repeated
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (:job_id, :attempt, 'lifecycle', 'effect_resolved', :now, :attrs)

-- name: divergences
-- {filters}: "AND job_name = :job_name", "AND kind = :kind", "AND job_id = :job_id",
-- "AND at >= :since", "AND id < :before_id", for the filters given (written out, they
-- keep the indexes on job_name and job_id in use).
SELECT id, job_id, job_name, attempt, kind, position, found, expected, message, at
FROM jobtrail_divergences WHERE 1 {filters}
ORDER BY id DESC LIMIT :limit

-- name: divergence_counts
-- {filters}: as for divergences.
SELECT job_name, kind, count(*) FROM jobtrail_divergences WHERE 1 {filters}
GROUP BY job_name, kind ORDER BY job_name, kind

-- name: recent_divergence_counts
-- {filters}: as for divergences. Only the newest :newest that match are counted.
SELECT job_name, kind, count(*) FROM (
    SELECT job_name, kind FROM jobtrail_divergences WHERE 1 {filters}
    ORDER BY id DESC LIMIT :newest
) GROUP BY job_name, kind ORDER BY job_name, kind

-- name: runs
-- Runs that ended for good, oldest first.
SELECT id, job_name, status, outcome, variant, code_version, created_at, started_at,
       finished_at, parent_job_id, milestones
FROM jobtrail_jobs
WHERE job_name = :job_name AND variant IS NOT NULL AND finished_at IS NOT NULL
  AND (:since IS NULL OR finished_at >= :since)
ORDER BY finished_at, id

-- name: recent_runs
-- The newest runs that ended for good, newest first, through jobtrail_jobs_runs: the read
-- stops after :limit rows, however many runs the job has.
SELECT id, job_name, status, outcome, variant, code_version, created_at, started_at,
       finished_at, parent_job_id, milestones
FROM jobtrail_jobs
WHERE job_name = :job_name AND variant IS NOT NULL AND finished_at IS NOT NULL
  AND finished_at >= coalesce(:since, -9e999)
ORDER BY finished_at DESC, id DESC LIMIT :limit

-- name: run_names
-- The job names with runs that ended for good, by name, each with the end of its newest
-- run: one step through jobtrail_jobs_runs from a name to the next, however many runs
-- each has, for at most :limit names.
WITH RECURSIVE names (job_name, n) AS (
    SELECT min(job_name), 1 FROM jobtrail_jobs
    WHERE variant IS NOT NULL AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT min(j.job_name) FROM jobtrail_jobs AS j
            WHERE j.job_name > names.job_name AND j.variant IS NOT NULL
              AND j.finished_at IS NOT NULL), n + 1
    FROM names WHERE names.job_name IS NOT NULL AND n < :limit
)
SELECT job_name, (SELECT max(j.finished_at) FROM jobtrail_jobs AS j
                  WHERE j.job_name = names.job_name AND j.variant IS NOT NULL
                    AND j.finished_at IS NOT NULL)
FROM names WHERE job_name IS NOT NULL ORDER BY job_name

-- name: children
SELECT * FROM jobtrail_jobs WHERE job_name = ? AND parent_job_id IN ({ids})

-- name: milestones
-- Rows whose path may hold the event: its JSON-quoted name appears in the text.
SELECT job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE path IS NOT NULL AND instr(path, :needle) > 0
  AND (:since IS NULL OR at >= :since - 86400)
ORDER BY id

-- name: recent_milestones
-- As milestones, among only the newest :within rows of events (by id, through the primary
-- key): a read bounded however many events the store holds.
SELECT job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE id > (SELECT coalesce(max(id), 0) FROM jobtrail_events) - :within
  AND path IS NOT NULL AND instr(path, :needle) > 0
  AND (:since IS NULL OR at >= :since - 86400)
ORDER BY id

-- name: events_horizon
-- The time of the oldest of the newest :within rows of events; no row when the store holds
-- no more than those.
SELECT at FROM jobtrail_events
WHERE id > (SELECT max(id) FROM jobtrail_events) - :within
  AND (SELECT min(id) FROM jobtrail_events) <= (SELECT max(id) FROM jobtrail_events) - :within
ORDER BY id LIMIT 1

-- name: fire_tick
-- A scheduler fires a periodic job's tick: the row moves forward only to a later tick, so
-- of the schedulers asking for one tick, one gets a row back (the write lock orders them).
-- step: claim
INSERT INTO jobtrail_schedules (job_name, last_tick, job_id, fired_at)
VALUES (:name, :tick, NULL, :now)
ON CONFLICT (job_name) DO UPDATE SET last_tick = excluded.last_tick, job_id = NULL,
                                     fired_at = excluded.fired_at
WHERE jobtrail_schedules.last_tick < excluded.last_tick
RETURNING job_name
-- step: fired
UPDATE jobtrail_schedules SET job_id = :job_id WHERE job_name = :name
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (:job_id, 0, 'lifecycle', 'scheduled', :now, :attrs)

-- name: schedules
-- The periodic jobs that fired, with their last tick.
SELECT job_name, last_tick, job_id, fired_at FROM jobtrail_schedules ORDER BY job_name

-- name: claim_limited
-- Jobs a flow limit applies to, in one write transaction (the write lock keeps other
-- limited claims out; the policy is jobtrail.store.flow's). Lists come as JSON arrays.
-- step: running
-- The slots held: running jobs whose lease has not run out, by job, queue and key.
SELECT job_name, queue, concurrency_key, count(*) FROM jobtrail_jobs
WHERE status = 'running' AND lease_expires_at > :now
  AND (job_name IN (SELECT value FROM json_each(:jobs))
       OR queue IN (SELECT value FROM json_each(:queues)))
GROUP BY job_name, queue, concurrency_key
-- step: buckets
SELECT name, tokens, updated FROM jobtrail_buckets
WHERE name IN (SELECT value FROM json_each(:buckets))
-- step: candidates
-- Ready jobs of the limited job types and queues, but those of limits already full.
SELECT id, job_name, queue, concurrency_key FROM jobtrail_jobs INDEXED BY {ready_index}
WHERE status IN ('queued', 'retrying') AND run_at <= :now {queue_filter}
  AND (job_name IN (SELECT value FROM json_each(:jobs))
       OR queue IN (SELECT value FROM json_each(:queues)))
  AND job_name NOT IN (SELECT value FROM json_each(:full_jobs))
  AND queue NOT IN (SELECT value FROM json_each(:full_queues))
  AND queue NOT IN (SELECT value FROM json_each(:paused))
  AND job_name || char(0) || coalesce(concurrency_key, '')
      NOT IN (SELECT value FROM json_each(:full_keys))
ORDER BY priority DESC, run_at, id
LIMIT :limit
-- step: claim
UPDATE jobtrail_jobs
SET status = 'running', attempts = attempts + 1, claim = :token, worker_id = :worker,
    lease_expires_at = :lease_until, started_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN ('queued', 'retrying')
RETURNING id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
          claim, group_id, trace_context
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
VALUES (?, ?, 'lifecycle', 'claimed', ?, ?)
-- step: save_buckets
INSERT INTO jobtrail_buckets (name, tokens, updated) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated = excluded.updated

-- name: queue_depth
-- How many jobs wait to run in a queue, counted up to :limit (for its max_depth).
SELECT count(*) FROM (
    SELECT 1 FROM jobtrail_jobs INDEXED BY jobtrail_jobs_ready_by_queue
    WHERE queue = :queue AND status IN ('queued', 'retrying') LIMIT :limit)

-- name: enqueue_savepoint
-- An enqueue into the caller's transaction that may find a queue full: undone alone.
-- step: open
SAVEPOINT jobtrail_enqueue
-- step: undo
ROLLBACK TO jobtrail_enqueue
-- step: release
RELEASE jobtrail_enqueue

-- name: workflow
-- A workflow's row, then each of its members given its place (a member whose idempotency
-- key another job holds is that job, unless it belongs to a workflow already).
-- step: group
INSERT INTO jobtrail_groups (kind, total, state, then_calls, on_failure, trace_id, created_at)
VALUES (:kind, :total, 'waiting', :then_calls, :on_failure, :trace_id, :now)
RETURNING id
-- step: member
UPDATE jobtrail_jobs SET group_id = :group_id, group_index = :group_index
WHERE id = :id AND group_id IS NULL
RETURNING id

-- name: settle_groups
-- step: due
-- Waiting workflows with a failed member, or whose members all succeeded.
SELECT g.id FROM jobtrail_groups AS g
WHERE g.state = 'waiting' AND (
    EXISTS (SELECT 1 FROM jobtrail_jobs AS j
            WHERE j.group_id = g.id AND j.status IN ('dead', 'orphaned', 'cancelled'))
    OR NOT EXISTS (SELECT 1 FROM jobtrail_jobs AS j
                   WHERE j.group_id = g.id AND j.status <> 'succeeded'))
ORDER BY g.id LIMIT :limit
-- step: groups
SELECT id, kind, total, then_calls, on_failure FROM jobtrail_groups
WHERE state = 'waiting' AND id IN (SELECT value FROM json_each(:ids))
ORDER BY id
-- step: members
SELECT group_id, id, status, result FROM jobtrail_jobs
WHERE group_id IN (SELECT value FROM json_each(:ids))
ORDER BY group_id, group_index
-- step: decide
UPDATE jobtrail_groups SET state = :state, decided_at = :now, next_job_id = :next_job_id
WHERE id = :id AND state = 'waiting'

-- name: workflow_state
SELECT id, kind, total, state, next_job_id, created_at, decided_at FROM jobtrail_groups
WHERE id = :id

-- name: job_links
-- Which job types enqueued which: parent and child job names of recorded runs, and how
-- many children.
SELECT p.job_name, c.job_name, count(*) FROM jobtrail_jobs AS c
JOIN jobtrail_jobs AS p ON p.id = c.parent_job_id
WHERE c.parent_job_id IS NOT NULL
GROUP BY p.job_name, c.job_name
ORDER BY p.job_name, c.job_name

-- name: breakers
-- The circuit breakers named (a JSON array), as last written.
SELECT name, state, failures, opened_at, probe_until, changed_at FROM jobtrail_breakers
WHERE name IN (SELECT value FROM json_each(:names))

-- name: breaker_apply
-- One change of a breaker, read and written in one write transaction.
-- step: read
SELECT name, state, failures, opened_at, probe_until, changed_at FROM jobtrail_breakers
WHERE name = :name
-- step: write
INSERT INTO jobtrail_breakers (name, state, failures, opened_at, probe_until, changed_at)
VALUES (:name, :state, :failures, :opened_at, :probe_until, :changed_at)
ON CONFLICT (name) DO UPDATE SET state = excluded.state, failures = excluded.failures,
    opened_at = excluded.opened_at, probe_until = excluded.probe_until,
    changed_at = excluded.changed_at
-- step: event
-- A change of state (or an operator's forcing it), as an event of no job (job 0).
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'breaker', :name, :now, :attrs)

-- name: retry_stats
-- step: outcomes
-- Jobs ended since the time given (epoch seconds), the newest :newest at most (all: -1),
-- by job type and status: how many, their attempts, and how many took more than one.
SELECT job_name, status, count(*), sum(attempts),
       sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)
FROM (SELECT job_name, status, attempts FROM jobtrail_jobs
      WHERE finished_at >= :since AND status IN ('succeeded', 'dead', 'orphaned')
      ORDER BY finished_at DESC LIMIT :newest)
GROUP BY job_name, status
-- step: retries
-- The retries scheduled since then (the newest :newest at most), with their attributes
-- (error class, delay).
SELECT j.job_name, e.attrs FROM jobtrail_events AS e
JOIN jobtrail_jobs AS j ON j.id = e.job_id
WHERE e.kind = 'lifecycle' AND e.name = 'retry_scheduled' AND e.at >= :since
ORDER BY e.at DESC LIMIT :newest

-- name: capacity_stats
-- What `jobtrail capacity` models, per queue, since :since (epoch seconds): jobs created
-- (arrivals), jobs ended for good, the claims with the seconds they waited (from the later
-- of run_at and creation to the claim), and the attempts that ended with the sum and the
-- sum of squares of their durations (an attempt's outcome event carries how long it ran; a
-- deferred attempt did not run). The jobs' times have no index: one pass over the jobs
-- table picks those active in the window, and only their events are read, through the
-- (job_id, id) index.
WITH active AS (
    SELECT id, queue, created_at, run_at, started_at, finished_at FROM jobtrail_jobs
    WHERE created_at >= :since OR started_at >= :since OR finished_at >= :since
       OR run_at >= :since
), jobs AS (
    SELECT queue,
           count(*) FILTER (WHERE created_at >= :since) AS arrivals,
           count(*) FILTER (WHERE finished_at >= :since) AS finished,
           count(*) FILTER (WHERE started_at >= :since AND started_at >= run_at) AS claims,
           sum(started_at - max(run_at, created_at))
               FILTER (WHERE started_at >= :since AND started_at >= run_at) AS waited
    FROM active GROUP BY queue
), attempts AS (
    SELECT a.queue, count(*) AS attempts, sum(e.duration) AS busy,
           sum(e.duration * e.duration) AS busy_squared
    FROM active AS a JOIN jobtrail_events AS e ON e.job_id = a.id
    WHERE e.kind = 'lifecycle' AND e.duration IS NOT NULL AND e.name <> 'deferred'
      AND e.at >= :since
    GROUP BY a.queue
)
SELECT j.queue, j.arrivals, j.finished, j.claims, coalesce(j.waited, 0),
       coalesce(t.attempts, 0), coalesce(t.busy, 0), coalesce(t.busy_squared, 0)
FROM jobs AS j LEFT JOIN attempts AS t ON t.queue = j.queue
ORDER BY j.queue

-- name: attempt_usage
-- The attempts that ended since the time given (epoch seconds), newest first, at most
-- the limit given: job name, duration and the lifecycle event's attributes (which carry
-- the attempt's CPU time and peak memory). Events are not indexed by time: a scan.
SELECT j.job_name, e.duration, e.attrs FROM jobtrail_events AS e
JOIN jobtrail_jobs AS j ON j.id = e.job_id
WHERE e.kind = 'lifecycle' AND e.name IN ('succeeded', 'retry_scheduled', 'dead')
  AND e.at >= :since
ORDER BY e.id DESC LIMIT :limit

-- name: audit_head
-- The last seal of the audit trail.
SELECT seq, sealed_at, through, covered, waiting, digests, prev_hash, hash FROM jobtrail_audit
ORDER BY seq DESC LIMIT 1

-- name: audit_seals
-- Seals from a sequence number on, in order.
SELECT seq, sealed_at, through, covered, waiting, digests, prev_hash, hash FROM jobtrail_audit
WHERE seq >= :since ORDER BY seq LIMIT :limit

-- name: audit_append
-- The next seal, unless another sealer appended that number first.
INSERT INTO jobtrail_audit (seq, sealed_at, through, covered, waiting, digests, prev_hash, hash)
VALUES (:seq, :sealed_at, :through, :covered, :waiting, :digests, :prev_hash, :hash)
ON CONFLICT (seq) DO NOTHING
RETURNING seq

-- name: audit_now
-- Not run: the store's clock is the process's (or a test's), not the file's.
SELECT 0

-- name: audit_digests_after
-- The event rows after an id, in order, and those of the ids waited for (a JSON array)
-- that are there now (time in epoch seconds): their digests are made in Python.
-- step: after
SELECT id, job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE id > :after ORDER BY id LIMIT :limit
-- step: waited
SELECT id, job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: audit_digests_between
-- The event rows with ids in a range, in order, for their digests (made in Python).
SELECT id, job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE id BETWEEN :first AND :last ORDER BY id

-- name: audit_between
-- Event rows with ids in a range, in order, as the trail hashes them.
SELECT id, job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE id BETWEEN :first AND :last ORDER BY id

-- name: audit_checkpoint_add
-- A signed checkpoint of a seal, unless one was stored for that seal already.
INSERT INTO jobtrail_audit_checkpoints (seq, note, made_at) VALUES (:seq, :note, :made_at)
ON CONFLICT (seq) DO NOTHING
RETURNING seq

-- name: audit_checkpoints
-- The signed checkpoints from a seal number on, in order.
SELECT seq, note FROM jobtrail_audit_checkpoints WHERE seq >= :since ORDER BY seq LIMIT :limit

-- name: audit_prune
-- The seals (and checkpoints) before a checkpointed seal removed, and the removal recorded
-- in the trail as an event of no job (job 0).
-- step: seals
DELETE FROM jobtrail_audit WHERE seq < :before
-- step: checkpoints
DELETE FROM jobtrail_audit_checkpoints WHERE seq < :before
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'seals_pruned', :now, :attrs)

-- name: prune_history
-- Finished jobs (succeeded or cancelled: dead letters stay until replayed or discarded)
-- that finished before a time, with their events, effects and divergences, a batch at a
-- time; none whose children are still to finish, nor one of a group still waiting, nor
-- the newest job (on SQLite a new row takes the highest id + 1: an id must never be used
-- twice, a receipt or an export names jobs by id). The removal is recorded in the trail
-- as an event of no job (job 0), naming the event ids; the record is written first.
-- step: jobs
SELECT j.id FROM jobtrail_jobs AS j
WHERE j.status IN ('succeeded', 'cancelled') AND j.finished_at < :before
  AND NOT EXISTS (SELECT 1 FROM jobtrail_jobs AS c WHERE c.parent_job_id = j.id
                  AND c.status NOT IN ('succeeded', 'dead', 'orphaned', 'cancelled'))
  AND (j.group_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobtrail_groups AS g
                                         WHERE g.id = j.group_id AND g.state = 'waiting'))
  AND j.id < (SELECT max(id) FROM jobtrail_jobs)
ORDER BY j.id LIMIT :limit
-- step: events
SELECT id FROM jobtrail_events WHERE job_id IN (SELECT value FROM json_each(:ids)) ORDER BY id
-- step: delete_events
DELETE FROM jobtrail_events WHERE job_id IN (SELECT value FROM json_each(:ids))
-- step: delete_effects
DELETE FROM jobtrail_effects WHERE job_id IN (SELECT value FROM json_each(:ids))
-- step: delete_divergences
DELETE FROM jobtrail_divergences WHERE job_id IN (SELECT value FROM json_each(:ids))
-- step: delete_jobs
DELETE FROM jobtrail_jobs WHERE id IN (SELECT value FROM json_each(:ids))
-- step: record
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'history_pruned', :now, :attrs)

-- name: audit_pruned
-- The records of what was pruned: history (the event ids each batch removed) and seals
-- (the seal the trail starts at since), in their attributes.
SELECT id, attrs FROM jobtrail_events
WHERE job_id = 0 AND kind = 'audit' AND name IN ('history_pruned', 'seals_pruned') ORDER BY id

-- name: token_create
-- A new live token and the event recording it (job 0), in one write transaction. The
-- insert returns no row when a live token holds the name already: then nothing is written.
-- step: token
INSERT INTO jobtrail_tokens (name, role, hash, created_at, created_by)
VALUES (:name, :role, :hash, :now, :actor)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
RETURNING id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'access', 'token_created', :now, :attrs)

-- name: token_revoke
-- The live token of a name revoked and the event recording it (job 0), in one write
-- transaction; when there is none, the last one of that name revoked, for the message.
-- step: revoke
UPDATE jobtrail_tokens SET revoked_at = :now, revoked_by = :actor
WHERE name = :name AND revoked_at IS NULL
RETURNING id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'access', 'token_revoked', :now, :attrs)
-- step: revoked
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM jobtrail_tokens WHERE name = :name ORDER BY revoked_at DESC LIMIT 1

-- name: tokens
-- Every token, live and revoked, oldest first; never its hash.
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM jobtrail_tokens ORDER BY id

-- name: token_find
-- The live token of a hash; its last use moved to now when it was before :stale_before
-- (the write is skipped altogether when the read finds it recent).
-- step: find
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM jobtrail_tokens WHERE hash = :hash AND revoked_at IS NULL
-- step: touch
UPDATE jobtrail_tokens SET last_used_at = :now
WHERE id = :id AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < :stale_before)

-- name: audit_record
-- An event of no job (job 0) for the trail: a worker's start, with what it runs.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', :name, :now, :attrs)

-- name: encrypted_jobs
-- Jobs that may hold values of an encryption key (`jobtrail.rotation`), after an id, in
-- order; those whose values are all under the current key are passed over in Python.
SELECT id, job_name, payload, idempotency_key, concurrency_key FROM jobtrail_jobs
WHERE id > :after
  AND (payload LIKE '%$jobtrail_encrypted%' OR idempotency_key LIKE 'jobtrail:sealed:%'
       OR concurrency_key LIKE 'jobtrail:sealed:%')
ORDER BY id LIMIT :limit

-- name: encrypted_effects
SELECT key, name, result FROM jobtrail_effects
WHERE key > :after
  AND (key LIKE 'jobtrail:sealed:%' OR result LIKE '%$jobtrail_encrypted%')
ORDER BY key LIMIT :limit

-- name: encrypted_groups
SELECT id, then_calls, on_failure FROM jobtrail_groups
WHERE id > :after
  AND (then_calls LIKE '%$jobtrail_encrypted%' OR then_calls LIKE '%jobtrail:sealed:%'
       OR on_failure LIKE '%$jobtrail_encrypted%' OR on_failure LIKE '%jobtrail:sealed:%')
ORDER BY id LIMIT :limit

-- name: encrypted_receipts
SELECT idempotency_key FROM jobtrail_receipts
WHERE idempotency_key > :after AND idempotency_key LIKE 'jobtrail:sealed:%'
ORDER BY idempotency_key LIMIT :limit

-- name: rewrite_encrypted
-- One row re-encrypted, only if it still holds what was read: a row changed meanwhile is
-- left for the next rotation.
-- step: jobs
UPDATE jobtrail_jobs SET payload = :new0, idempotency_key = :new1, concurrency_key = :new2
WHERE id = :ident AND payload = :old0 AND idempotency_key IS :old1 AND concurrency_key IS :old2
-- step: effects
UPDATE jobtrail_effects SET key = :new0, result = :new1
WHERE key = :ident AND result IS :old1
-- step: groups
UPDATE jobtrail_groups SET then_calls = :new0, on_failure = :new1
WHERE id = :ident AND then_calls = :old0 AND on_failure IS :old1
-- step: receipts
UPDATE jobtrail_receipts SET idempotency_key = :new0 WHERE idempotency_key = :ident

-- name: audit_keys_rotated
-- A rotation of the encryption keys (`jobtrail keys rotate`), as an event of no job (job
-- 0) that the audit trail seals, in the transaction of the rows it re-encrypted.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'keys', 'rotated', :now, :attrs)
