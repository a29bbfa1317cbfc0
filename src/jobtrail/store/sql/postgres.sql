-- Named queries of the PostgreSQL backend. Each starts with "-- name: NAME", and
-- sqlite.sql defines the same names (a test checks it), so an operation reads side by side
-- in both dialects; a query of several statements has steps, each starting with
-- "-- step: STEP".
-- {queue_filter} is filled in by the backend for the queues a worker serves: nothing,
-- "AND queue = %(queue)s" or "AND queue = ANY(%(queues)b)", so each form can use the
-- matching partial index. The claim's {limit} is a literal: with a parameter there, the
-- generic plan of the prepared statement looks dearer than a custom one, and the server
-- would plan the claim again on every call.
-- Batches travel as arrays and are expanded with unnest; lifecycle events are written by
-- data-modifying CTEs of the same statement, so every batch costs one round-trip. Arrays
-- are sent in binary (%(name)b): no quoting and escaping of every element on either side.
-- A CTE that is only SELECTed runs only when the final query reads it: the "woken" CTEs
-- are joined in for their pg_notify side effect. PostgreSQL folds identical notifications
-- of one transaction into one.
-- A transition that ends jobs for good (finish, lost leases, an operator's cancel) also
-- notifies 'jobtrail_finished', once per statement, with the ids of those jobs joined by
-- commas (or '' when they would not fit in one notification): waiters hear of them
-- (jobtrail_notify_finished, migration 7). Only while a waiters' connection is open
-- (jobtrail_waiters_listening; see watch_finished and postgres/presence.py): a
-- notifying transaction holds a lock that queues every other one until it has committed,
-- flush to disk included, which would cost concurrent finishes their shared flushes.
-- Times are the server's (leases hold across machines whose clocks differ), read through
-- jobtrail_now(): now() plus the store's clock offset (see configure and migration 5).

-- name: configure
-- Settings of every pooled connection, session-local: they never touch the caller's
-- connections. Bitmap scans are off: they lose the ready index's order, and when the
-- planner's statistics lag behind a fresh queue (a new table, a bulk enqueue autovacuum
-- has not analysed yet) it picks one for the claim and sorts every queued job on each
-- claim, ten times slower; jobtrail's own statements are all served by plain index scans.
-- jobtrail.clock_offset is what jobtrail_now() adds to the server's clock: the store's
-- clock's offset (0 but in tests), set again on a connection whenever it changed.
SELECT set_config('enable_bitmapscan', 'off', false),
       set_config('jobtrail.clock_offset', %(clock_offset)s, false)

-- name: begin_write
-- The start of a transaction of several statements. psycopg sends it itself
-- (Connection.transaction(), which nests as savepoints, then COMMIT or ROLLBACK): nothing
-- runs this text. It is named because SQLite's write transactions start with a statement
-- of their own (BEGIN IMMEDIATE, which takes its write lock), and both files name the
-- same operations.
BEGIN

-- name: watch
-- On the watcher's own connection: every pg_notify('jobtrail', queue) reaches it.
LISTEN jobtrail

-- name: watch_finished
-- On the connection this process's waiters share, named (application_name) 'jobtrail-waiters'
-- so that transitions notify while it is open: every pg_notify('jobtrail_finished', ids).
-- step: listen
LISTEN jobtrail_finished
-- step: announce
-- Workers hear it on their channel (a queue's name is never empty): their finishes notify
-- from now on, without waiting for their next look at the server's connections.
SELECT pg_notify('jobtrail', '')

-- name: waiters_listening
-- Whether a waiters' connection is open on this database (see watch_finished).
SELECT jobtrail_waiters_listening()

-- name: enqueue
-- step: many
WITH input AS (
    SELECT * FROM unnest(
        %(job_name)b::text[], %(queue)b::text[], %(priority)b::integer[], %(payload)b::text[],
        %(max_attempts)b::integer[], %(run_at)b::timestamptz[], %(delay)b::float8[],
        %(parent_job_id)b::bigint[], %(trace_id)b::text[], %(trace_context)b::text[],
        %(redact)b::text[], %(concurrency_key)b::text[]
    ) WITH ORDINALITY AS t(job_name, queue, priority, payload, max_attempts, run_at, delay,
                          parent_job_id, trace_id, trace_context, redact, concurrency_key, ord)
), inserted AS (
    -- Ids are drawn in the order rows reach the insert, so ordering the result by id
    -- gives the caller's order back.
    INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                               created_at, parent_job_id, trace_id, trace_context, redact,
                               concurrency_key)
    SELECT job_name, queue, 'queued', priority, payload, max_attempts,
           coalesce(run_at, jobtrail_now() + make_interval(secs => coalesce(delay, 0))), jobtrail_now(),
           parent_job_id, trace_id, trace_context, redact, concurrency_key
    FROM input ORDER BY ord
    RETURNING id, payload
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
    SELECT id, 0, 'lifecycle', 'enqueued', jobtrail_now(),
           jobtrail_submitted(payload, %(actor)s::text) FROM inserted ORDER BY id
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues
    FROM (SELECT DISTINCT queue FROM input) AS q
)
SELECT id FROM inserted, woken ORDER BY id

-- step: one
-- One job without a key (the usual call): the same, with plain parameters rather than
-- arrays of one.
WITH inserted AS (
    INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                               created_at, parent_job_id, trace_id, trace_context, redact,
                               concurrency_key)
    VALUES (%(job_name)s::text, %(queue)s::text, 'queued', %(priority)s::integer,
            %(payload)s::text, %(max_attempts)s::integer,
            coalesce(%(run_at)s::timestamptz,
                     jobtrail_now() + make_interval(secs => coalesce(%(delay)s::float8, 0))),
            jobtrail_now(), %(parent_job_id)s::bigint, %(trace_id)s::text,
            %(trace_context)s::text, %(redact)s::text, %(concurrency_key)s::text)
    RETURNING id, queue, payload
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
    SELECT id, 0, 'lifecycle', 'enqueued', jobtrail_now(),
           jobtrail_submitted(payload, %(actor)s::text) FROM inserted
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues FROM inserted
)
SELECT id FROM inserted, woken

-- name: enqueue_keyed
-- One job with an idempotency key. Stores nothing (no row comes back) when a job holds
-- the key (waiting for the transaction inserting it, if it has not committed yet) or a
-- receipt does: the backend then decides from the holder.
WITH inserted AS (
    INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts, run_at,
                               created_at, parent_job_id, trace_id, trace_context, redact,
                               idempotency_key, payload_hash, concurrency_key)
    SELECT %(job_name)s::text, %(queue)s::text, 'queued', %(priority)s::integer,
           %(payload)s::text, %(max_attempts)s::integer,
           coalesce(%(run_at)s::timestamptz,
                    jobtrail_now() + make_interval(secs => coalesce(%(delay)s::float8, 0))),
           jobtrail_now(), %(parent_job_id)s::bigint, %(trace_id)s::text, %(trace_context)s::text,
           %(redact)s::text, %(key)s::text, %(payload_hash)s::text, %(concurrency_key)s::text
    WHERE NOT EXISTS (SELECT 1 FROM jobtrail_receipts WHERE idempotency_key = %(key)s::text)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, queue, payload
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
    SELECT id, 0, 'lifecycle', 'enqueued', jobtrail_now(),
           jobtrail_submitted(payload, %(actor)s::text) FROM inserted
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues FROM inserted
)
SELECT id FROM inserted, woken

-- name: job_by_key
SELECT id, payload_hash, status, finished_at, extract(epoch FROM finished_at)::float8,
       extract(epoch FROM jobtrail_now())::float8
FROM jobtrail_jobs WHERE idempotency_key = %(key)s

-- name: receipt_by_key
SELECT job_id, payload_hash, finished_at, extract(epoch FROM finished_at)::float8,
       extract(epoch FROM jobtrail_now())::float8
FROM jobtrail_receipts WHERE idempotency_key = %(key)s

-- name: free_key
-- Only from the finished job the decision was made on: a concurrent enqueue may have
-- freed it already and stored a new holder, whose key must stay.
UPDATE jobtrail_jobs SET idempotency_key = NULL
WHERE idempotency_key = %(key)s AND id = %(id)s AND finished_at = %(finished_at)s

-- name: delete_receipt
DELETE FROM jobtrail_receipts WHERE idempotency_key = %(key)s

-- name: delete_expired_receipt
DELETE FROM jobtrail_receipts
WHERE idempotency_key = %(key)s AND job_id = %(id)s AND finished_at = %(finished_at)s

-- name: claim
-- step: reclaim
-- Run only after a claim failed: jobs leased to this worker that it does not know it
-- holds (a claim committed, its answer lost with the connection), handed over again under
-- the same claim with a fresh lease.
WITH orphaned AS (
    SELECT id FROM jobtrail_jobs
    WHERE status = 'running' AND worker_id = %(worker)s
      AND (id, claim) NOT IN (SELECT * FROM unnest(%(held_ids)b::bigint[],
                                                   %(held_claims)b::bigint[]))
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobtrail_jobs SET lease_expires_at = jobtrail_now() + make_interval(secs => %(lease)s)
WHERE id IN (SELECT id FROM orphaned)
RETURNING id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
          claim, group_id, trace_context
-- step: claim
WITH picked AS (
    SELECT id FROM jobtrail_jobs
    WHERE status IN ('queued', 'retrying') AND run_at <= jobtrail_now() {queue_filter}
    ORDER BY priority DESC, run_at, id
    LIMIT {limit}
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobtrail_jobs AS j
    SET status = 'running', attempts = j.attempts + 1, claim = %(token)s,
        worker_id = %(worker)s, lease_expires_at = jobtrail_now() + make_interval(secs => %(lease)s),
        started_at = jobtrail_now()
    WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.job_name, j.queue, j.payload, j.attempts, j.max_attempts, j.parent_job_id,
              j.trace_id, j.backoff, j.claim, j.priority, j.run_at, j.group_id, j.trace_context
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
    SELECT id, attempts, 'lifecycle', 'claimed', jobtrail_now(), claim FROM claimed
    ORDER BY priority DESC, run_at, id
), relaxed AS (
    -- This commit need not wait for the WAL flush: a claim lost in a server crash only
    -- puts the jobs back in the queue (they run again, as after any lost lease), and the
    -- wait would sit between enqueue and pick-up. Outcomes and enqueues stay durable.
    SELECT set_config('synchronous_commit', 'off', true)
)
SELECT id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
       claim, group_id, trace_context
FROM claimed, relaxed ORDER BY priority DESC, run_at, id

-- name: claim_job
-- One job by id, whatever its run_at (brought forward to now), if it waits to run: the
-- lease as claim gives it.
WITH claimed AS (
    UPDATE jobtrail_jobs AS j
    SET status = 'running', attempts = j.attempts + 1, claim = %(token)s,
        worker_id = %(worker)s, lease_expires_at = jobtrail_now() + make_interval(secs => %(lease)s),
        started_at = jobtrail_now(), run_at = least(j.run_at, jobtrail_now())
    WHERE j.id = %(id)s AND j.status IN ('queued', 'retrying')
    RETURNING j.id, j.job_name, j.queue, j.payload, j.attempts, j.max_attempts, j.parent_job_id,
              j.trace_id, j.backoff, j.claim, j.group_id, j.trace_context
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
    SELECT id, attempts, 'lifecycle', 'claimed', jobtrail_now(), claim FROM claimed
)
SELECT id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
       claim, group_id, trace_context
FROM claimed

-- name: next_run_at
SELECT min(run_at) FROM jobtrail_jobs
WHERE status IN ('queued', 'retrying') {queue_filter}

-- name: heartbeat
WITH seen AS (
    INSERT INTO jobtrail_workers (id, hostname, pid, queues, concurrency, started_at, last_seen,
                                  cpu_seconds, max_rss)
    VALUES (%(worker)s, %(hostname)s, %(pid)s, %(queues)s, %(concurrency)s, jobtrail_now(),
            jobtrail_now(), %(cpu_seconds)s, %(max_rss)s)
    ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,
                                   cpu_seconds = excluded.cpu_seconds, max_rss = excluded.max_rss
), extended AS (
    UPDATE jobtrail_jobs SET lease_expires_at = jobtrail_now() + make_interval(secs => %(lease)s)
    WHERE id = ANY(%(ids)b::bigint[]) AND status = 'running' AND worker_id = %(worker)s
    RETURNING id
)
SELECT id FROM extended

-- name: withdraw_intents
-- The intents of effects a claim began, whose call it never made (the intent's write
-- failed as far as the attempt knew): withdrawn with the attempt's outcome, in its
-- transaction, while the claim still holds the job, so the next attempt calls them once.
DELETE FROM jobtrail_effects AS e USING jobtrail_jobs AS j
WHERE e.key = ANY(%(keys)s::text[]) AND e.job_id = %(id)s AND e.claim = %(claim)s
  AND e.status = 'started'
  AND j.id = e.job_id AND j.claim = e.claim AND j.status = 'running'

-- name: finish
WITH outcome AS (
    SELECT * FROM unnest(
        %(id)b::bigint[], %(attempt)b::integer[], %(status)b::text[], %(result)b::text[],
        %(error)b::text[], %(outcome)b::text[], %(delay)b::float8[], %(final)b::boolean[],
        %(variant)b::text[], %(code_version)b::text[], %(milestones)b::text[],
        %(claim)b::bigint[], %(uncounted)b::integer[]
    ) AS o(id, attempt, status, result, error, outcome, delay, final, variant, code_version,
           milestones, claim, uncounted)
), finished AS (
    -- An uncounted attempt (deferred: a breaker was open) gives its number back.
    UPDATE jobtrail_jobs AS j
    SET status = o.status, result = o.result, error = o.error, outcome = o.outcome,
        attempts = j.attempts - o.uncounted,
        variant = o.variant, code_version = o.code_version, milestones = o.milestones,
        run_at = CASE WHEN o.delay IS NULL THEN j.run_at
                      ELSE jobtrail_now() + make_interval(secs => o.delay) END,
        backoff = coalesce(o.delay, j.backoff),
        finished_at = CASE WHEN o.final THEN jobtrail_now() END,
        lease_expires_at = NULL
    FROM outcome AS o
    -- The id list steers the planner to primary-key lookups, not a scan of running jobs.
    WHERE j.id = ANY(%(id)b::bigint[]) AND j.id = o.id AND j.status = 'running'
      AND j.worker_id = %(worker)s AND j.claim = o.claim
    RETURNING j.id, j.attempts + o.uncounted AS attempts, j.claim, o.final, j.idempotency_key,
              j.job_name, j.payload_hash, j.status, j.result, j.error, j.finished_at
), events AS (
    -- Each transition carries the path its attempt recorded since the last write, and its
    -- claim.
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path, claim)
    SELECT e.job_id, e.attempt, 'lifecycle', e.name, jobtrail_now(), e.duration, e.attrs, e.path,
           f.claim
    FROM unnest(
        %(ev_job)b::bigint[], %(ev_attempt)b::integer[], %(ev_name)b::text[],
        %(ev_duration)b::float8[], %(ev_attrs)b::text[], %(ev_path)b::text[]
    ) WITH ORDINALITY AS e(job_id, attempt, name, duration, attrs, path, ord)
    JOIN finished AS f ON f.id = e.job_id AND f.attempts = e.attempt
    ORDER BY e.ord
), divergences AS (
    INSERT INTO jobtrail_divergences
        (job_id, job_name, attempt, kind, position, found, expected, message, at)
    SELECT d.job_id, d.job_name, d.attempt, d.kind, d.position, d.found, d.expected, d.message,
           jobtrail_now()
    FROM unnest(
        %(dv_job)b::bigint[], %(dv_job_name)b::text[], %(dv_attempt)b::integer[],
        %(dv_kind)b::text[], %(dv_position)b::integer[], %(dv_found)b::text[],
        %(dv_expected)b::text[], %(dv_message)b::text[]
    ) AS d(job_id, job_name, attempt, kind, position, found, expected, message)
    JOIN finished AS f ON f.id = d.job_id AND f.attempts = d.attempt
), receipts AS (
    -- A keyed job that reached a final status leaves a receipt of its outcome.
    INSERT INTO jobtrail_receipts
        (idempotency_key, job_id, job_name, payload_hash, status, result, error, finished_at)
    SELECT idempotency_key, id, job_name, payload_hash, status, result, error, finished_at
    FROM finished WHERE final AND idempotency_key IS NOT NULL
    ON CONFLICT (idempotency_key) DO UPDATE SET
        job_id = excluded.job_id, job_name = excluded.job_name,
        payload_hash = excluded.payload_hash, status = excluded.status,
        result = excluded.result, error = excluded.error, finished_at = excluded.finished_at,
        expires_at = NULL
), ended AS (
    -- %(notify)s: whether a waiters' connection is open, as the store last knew (waiters_listening).
    SELECT jobtrail_notify_finished(string_agg(id::text, ','), %(notify)s) AS sent
    FROM finished WHERE final
)
SELECT id FROM finished, ended

-- name: record_run
-- The summary of a run that ended for good without one (its worker died), with its
-- divergences: only for a final job whose variant is still unset. Returns the job's id
-- when it was written.
WITH summarised AS (
    UPDATE jobtrail_jobs
    SET variant = %(variant)s, code_version = %(code_version)s, milestones = %(milestones)s
    WHERE id = %(id)s AND variant IS NULL
      AND status IN ('succeeded', 'dead', 'orphaned', 'cancelled')
    RETURNING id
), divergences AS (
    INSERT INTO jobtrail_divergences
        (job_id, job_name, attempt, kind, position, found, expected, message, at)
    SELECT d.job_id, d.job_name, d.attempt, d.kind, d.position, d.found, d.expected, d.message,
           jobtrail_now()
    FROM unnest(
        %(dv_job)b::bigint[], %(dv_job_name)b::text[], %(dv_attempt)b::integer[],
        %(dv_kind)b::text[], %(dv_position)b::integer[], %(dv_found)b::text[],
        %(dv_expected)b::text[], %(dv_message)b::text[]
    ) AS d(job_id, job_name, attempt, kind, position, found, expected, message)
    JOIN summarised AS s ON s.id = d.job_id
)
SELECT id FROM summarised

-- name: release
WITH released AS (
    UPDATE jobtrail_jobs
    SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,
        attempts = attempts - 1, lease_expires_at = NULL, run_at = jobtrail_now()
    WHERE id = ANY(%(ids)b::bigint[]) AND status = 'running' AND worker_id = %(worker)s
    RETURNING id, queue, attempts + 1 AS attempt, claim
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
    SELECT id, attempt, 'lifecycle', 'released', jobtrail_now(), claim FROM released ORDER BY id
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues
    FROM (SELECT DISTINCT queue FROM released) AS q
)
SELECT (SELECT count(*) FROM released), (SELECT queues FROM woken)

-- name: expired_leases
-- SKIP LOCKED: a lease its worker is finishing right now is not expired any more, and
-- concurrent reapers split the work instead of queueing behind each other.
SELECT id, attempts, max_attempts, worker_id FROM jobtrail_jobs
WHERE status = 'running' AND lease_expires_at < jobtrail_now()
ORDER BY lease_expires_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: expire_leases
WITH expired AS (
    SELECT * FROM unnest(%(id)b::bigint[], %(status)b::text[], %(error)b::text[],
                         %(attrs)b::text[]) AS x(id, status, error, attrs)
), reaped AS (
    UPDATE jobtrail_jobs AS j
    SET status = x.status, error = x.error, lease_expires_at = NULL, run_at = jobtrail_now(),
        finished_at = CASE WHEN x.status = 'dead' THEN jobtrail_now() END
    FROM expired AS x
    WHERE j.id = x.id AND j.status = 'running' AND j.lease_expires_at < jobtrail_now()
    RETURNING j.id, j.queue, j.attempts, j.status, j.claim, x.attrs
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs, claim)
    SELECT id, attempts, 'lifecycle', 'lease_expired', jobtrail_now(), attrs, claim
    FROM reaped ORDER BY id
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues
    FROM (SELECT DISTINCT queue FROM reaped WHERE status = 'retrying') AS q
), ended AS (
    SELECT jobtrail_notify_finished(string_agg(id::text, ',')) AS sent
    FROM reaped WHERE status = 'dead'
)
SELECT id FROM reaped, woken, ended ORDER BY id

-- name: worker_leases
SELECT id, attempts, max_attempts, worker_id FROM jobtrail_jobs
WHERE status = 'running' AND worker_id = %(worker)s
ORDER BY id
FOR UPDATE

-- name: expire_worker_leases
-- The leases of a worker known to be dead, ended before they run out.
WITH expired AS (
    SELECT * FROM unnest(%(id)b::bigint[], %(status)b::text[], %(error)b::text[],
                         %(attrs)b::text[]) AS x(id, status, error, attrs)
), reaped AS (
    UPDATE jobtrail_jobs AS j
    SET status = x.status, error = x.error, lease_expires_at = NULL, run_at = jobtrail_now(),
        finished_at = CASE WHEN x.status = 'dead' THEN jobtrail_now() END
    FROM expired AS x
    WHERE j.id = x.id AND j.status = 'running' AND j.worker_id = %(worker)s
    RETURNING j.id, j.queue, j.attempts, j.status, j.claim, x.attrs
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs, claim)
    SELECT id, attempts, 'lifecycle', 'lease_expired', jobtrail_now(), attrs, claim
    FROM reaped ORDER BY id
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues
    FROM (SELECT DISTINCT queue FROM reaped WHERE status = 'retrying') AS q
), ended AS (
    SELECT jobtrail_notify_finished(string_agg(id::text, ',')) AS sent
    FROM reaped WHERE status = 'dead'
)
SELECT id FROM reaped, woken, ended ORDER BY id

-- name: delete_worker
DELETE FROM jobtrail_workers WHERE id = %(id)s

-- name: list_workers
SELECT id, hostname, pid, queues, concurrency, started_at, last_seen, cpu_seconds, max_rss
FROM jobtrail_workers ORDER BY started_at

-- Job records name their columns: a prepared "SELECT *" fails once a migration adds one.

-- name: get_job
SELECT id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at, created_at,
       started_at, finished_at, worker_id, result, error, outcome, parent_job_id, trace_id,
       variant, code_version, redact
FROM jobtrail_jobs WHERE id = %(id)s

-- name: statuses
SELECT id, status FROM jobtrail_jobs WHERE id = ANY(%(ids)b::bigint[])

-- name: lock_job
SELECT id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at, created_at,
       started_at, finished_at, worker_id, result, error, outcome, parent_job_id, trace_id,
       variant, code_version, redact
FROM jobtrail_jobs WHERE id = %(id)s FOR UPDATE

-- name: list_jobs
SELECT id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at, created_at,
       started_at, finished_at, worker_id, result, error, outcome, parent_job_id, trace_id,
       variant, code_version, redact
FROM jobtrail_jobs
WHERE (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(parent_id)s::bigint IS NULL OR parent_job_id = %(parent_id)s::bigint)
  AND (%(from_id)s::bigint IS NULL OR id >= %(from_id)s::bigint)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
ORDER BY id DESC LIMIT %(limit)s

-- name: count_jobs
-- The filters of list_jobs but its page: the whole of what matches.
SELECT count(*) FROM jobtrail_jobs
WHERE (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(parent_id)s::bigint IS NULL OR parent_job_id = %(parent_id)s::bigint)
  AND (%(from_id)s::bigint IS NULL OR id >= %(from_id)s::bigint)

-- name: dead_letters
-- The statuses are written out, so that the partial index jobtrail_jobs_dead serves the
-- listing. An error class is compared with the text the stored error begins with
-- ({"type": "NAME", "message": ...): the whole NAME with :error_type, or its end with
-- :error_suffix (".NAME"); split_part, unlike substr, never fails on a damaged value.
SELECT id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at, created_at,
       started_at, finished_at, worker_id, result, error, outcome, parent_job_id, trace_id,
       variant, code_version, redact
FROM jobtrail_jobs
WHERE status IN ('dead', 'orphaned')
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(since)s::timestamptz IS NULL OR finished_at >= %(since)s::timestamptz)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
  AND (%(error_type)s::text IS NULL OR (
      left(error, length(%(error_head)s::text)) = %(error_head)s::text
      AND strpos(error, %(error_end)s::text) > 0
      AND (split_part(substr(error, length(%(error_head)s::text) + 1), %(error_end)s::text, 1)
               = %(error_type)s::text
           OR right(split_part(substr(error, length(%(error_head)s::text) + 1),
                               %(error_end)s::text, 1), length(%(error_suffix)s::text))
               = %(error_suffix)s::text)))
ORDER BY id DESC LIMIT %(limit)s

-- name: count_dead_letters
-- The filters of dead_letters but its page.
SELECT count(*) FROM jobtrail_jobs
WHERE status IN ('dead', 'orphaned')
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(since)s::timestamptz IS NULL OR finished_at >= %(since)s::timestamptz)
  AND (%(error_type)s::text IS NULL OR (
      left(error, length(%(error_head)s::text)) = %(error_head)s::text
      AND strpos(error, %(error_end)s::text) > 0
      AND (split_part(substr(error, length(%(error_head)s::text) + 1), %(error_end)s::text, 1)
               = %(error_type)s::text
           OR right(split_part(substr(error, length(%(error_head)s::text) + 1),
                               %(error_end)s::text, 1), length(%(error_suffix)s::text))
               = %(error_suffix)s::text)))

-- name: job_events
SELECT job_id, attempt, kind, name, at, duration, attrs, path, claim FROM jobtrail_events
WHERE job_id = %(id)s ORDER BY id

-- name: counts
SELECT queue, status, count(*) FROM jobtrail_jobs GROUP BY queue, status

-- name: queue_stats
-- What `jobtrail queues` shows, as of the store's clock (read once: %(now)s), over the window
-- since %(since)s.
-- step: clock
SELECT jobtrail_now()
-- step: counts
-- Per queue and status: jobs, those waiting for their run_at, how long the earliest of
-- those that may run has waited, and jobs finished in the window.
SELECT queue, status, count(*),
       count(*) FILTER (WHERE run_at > %(now)s),
       extract(epoch FROM %(now)s - min(run_at) FILTER (WHERE run_at <= %(now)s))::float8,
       count(*) FILTER (WHERE finished_at >= %(since)s)
FROM jobtrail_jobs GROUP BY queue, status
-- step: waits
-- Per queue, the wait (run_at to claim) at the 95th percentile (nearest rank) of the claims
-- of the window, and how many there were. A claim's run_at is still the one it waited for
-- unless a retry, an expired lease or an operator moved it later than the claim since.
SELECT queue, extract(epoch FROM wait)::float8, total FROM (
    SELECT queue, started_at - run_at AS wait,
           row_number() OVER (PARTITION BY queue ORDER BY started_at - run_at) AS rank,
           count(*) OVER (PARTITION BY queue) AS total
    FROM jobtrail_jobs
    WHERE started_at >= %(since)s AND started_at >= run_at
) AS ranked
WHERE rank = greatest(1, (95 * total + 99) / 100)

-- name: queue_glance
-- What the dashboard's overview and the health checks read, as of the store's clock (read
-- once: %(now)s), from indexes only: their cost follows the jobs that wait, run or are dead
-- letters, and at most %(sample)s of those that ended, never the whole table (see
-- Store.queue_glance).
-- step: clock
SELECT jobtrail_now()
-- step: waiting
-- Per queue, the waiting jobs (the claim index jobtrail_jobs_ready_by_queue holds them all):
-- how many, those waiting for their run_at, how long the earliest runnable has waited.
SELECT queue, count(*), count(*) FILTER (WHERE run_at > %(now)s),
       extract(epoch FROM %(now)s - min(run_at) FILTER (WHERE run_at <= %(now)s))::float8
FROM jobtrail_jobs WHERE status IN ('queued', 'retrying') GROUP BY queue
-- step: held
-- Per queue and status, the running jobs and the dead letters (their partial indexes).
SELECT queue, status, count(*) FROM jobtrail_jobs WHERE status = 'running' GROUP BY queue, status
UNION ALL
SELECT queue, status, count(*) FROM jobtrail_jobs WHERE status IN ('dead', 'orphaned')
GROUP BY queue, status
-- step: ended
-- The newest %(sample)s jobs workers ended since %(since)s (jobtrail_jobs_finished, newest
-- first), by queue, status and bucket (0 ends within %(bucket)s seconds of the clock, 1 the
-- bucket before...): how many, and the earliest end (epoch seconds).
SELECT queue, status, floor(extract(epoch FROM %(now)s - finished_at) / %(bucket)s)::int,
       count(*), extract(epoch FROM min(finished_at))::float8
FROM (SELECT queue, status, finished_at FROM jobtrail_jobs
      WHERE finished_at >= %(since)s AND status IN ('succeeded', 'dead', 'orphaned')
      ORDER BY finished_at DESC LIMIT %(sample)s) AS ended
GROUP BY 1, 2, 3
-- step: waits
-- Per queue, of the newest %(waits)s jobs ended since %(window_start)s, the wait (run_at to
-- their last claim) at the 95th percentile (nearest rank), and how many were measured.
SELECT queue, extract(epoch FROM wait)::float8, total FROM (
    SELECT queue, started_at - run_at AS wait,
           row_number() OVER (PARTITION BY queue ORDER BY started_at - run_at) AS rank,
           count(*) OVER (PARTITION BY queue) AS total
    FROM (SELECT queue, started_at, run_at FROM jobtrail_jobs
          WHERE finished_at >= %(window_start)s
            AND status IN ('succeeded', 'dead', 'orphaned')
          ORDER BY finished_at DESC LIMIT %(waits)s) AS ended
    WHERE started_at >= run_at
) AS ranked
WHERE rank = greatest(1, (95 * total + 99) / 100)

-- name: gauges
-- What the metrics read at each scrape (`jobtrail.metrics`), in one read-only transaction
-- that gives up after %(timeout)s (a scrape must answer), as of the store's clock.
-- step: limit
SELECT set_config('statement_timeout', %(timeout)s, true)
-- step: clock
SELECT jobtrail_now()
-- step: jobs
-- Per queue, job type and status: jobs, and how long the earliest of those that may run
-- now has waited since its run_at (only waiting statuses have one).
SELECT queue, job_name, status, count(*),
       extract(epoch FROM %(now)s - min(run_at)
           FILTER (WHERE run_at <= %(now)s AND status IN ('queued', 'retrying')))::float8
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
WITH changed AS (
    UPDATE jobtrail_jobs
    SET status = %(to_status)s, outcome = %(outcome)s, run_at = jobtrail_now(),
        finished_at = CASE WHEN %(final)s THEN jobtrail_now() END,
        attempts = CASE WHEN %(reset)s THEN 0 ELSE attempts END,
        error = CASE WHEN %(reset)s THEN NULL ELSE error END,
        result = CASE WHEN %(reset)s THEN NULL ELSE result END,
        backoff = CASE WHEN %(reset)s THEN NULL ELSE backoff END,
        variant = CASE WHEN %(reset)s THEN NULL ELSE variant END,
        code_version = CASE WHEN %(reset)s THEN NULL ELSE code_version END,
        milestones = CASE WHEN %(reset)s THEN NULL ELSE milestones END
    WHERE id = %(id)s AND status = %(from_status)s
    RETURNING id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at,
              created_at, started_at, finished_at, worker_id, result, error, outcome,
              parent_job_id, trace_id, variant, code_version, redact
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
    SELECT id, %(attempt)s, 'lifecycle', %(event)s, jobtrail_now(), %(attrs)s FROM changed
), woken AS (
    SELECT count(pg_notify('jobtrail', queue)) AS queues FROM changed
    WHERE status IN ('queued', 'retrying')
), ended AS (
    SELECT jobtrail_notify_finished(string_agg(id::text, ',')) AS sent FROM changed
    WHERE %(final)s
)
SELECT changed.* FROM changed, woken, ended

-- name: migration_lock
SELECT pg_advisory_xact_lock(%(key)s)

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS jobtrail_schema (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)

-- name: schema_table_exists
SELECT to_regclass('jobtrail_schema') IS NOT NULL

-- name: schema_version
SELECT coalesce(max(version), 0) FROM jobtrail_schema

-- name: record_migration
-- Applied at the server's own time (the column's default): jobtrail_now() comes with
-- migration 5, in the same transaction as the earlier ones on a new database.
INSERT INTO jobtrail_schema (version, description) VALUES (%(version)s, %(description)s)

-- name: audit_migrated
-- The migrations just applied, as an event of no job (job 0) that the audit trail seals.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'migrated', jobtrail_now(), %(attrs)s)

-- name: path_segments
-- Every stored segment of the jobs, with the claim and attempt that wrote it, in the order
-- written. A worker of schema version 2 still running beside this one keeps a segment in
-- attrs.
SELECT job_id, claim, attempt, coalesce(path, attrs) FROM jobtrail_events
WHERE job_id = ANY(%(ids)b::bigint[]) AND (path IS NOT NULL OR kind = 'path')
ORDER BY job_id, id

-- name: saved_path
-- The segments the job's claims saved (checkpoints, with effects, outcomes), in order, each
-- with its row's time (the base of a segment that has none) and its claim.
SELECT extract(epoch FROM e.at)::float8, e.path, e.claim
FROM jobtrail_events AS e
WHERE e.job_id = %(id)s AND e.path IS NOT NULL
ORDER BY e.id

-- name: insert_segments_if_held
-- Only for jobs still running, leased to this worker, under the claim that recorded the
-- segment: the rows are locked so that the lease cannot move on while they are written.
WITH held AS (
    SELECT id, claim FROM jobtrail_jobs
    WHERE id = ANY(%(ev_job)b::bigint[]) AND status = 'running' AND worker_id = %(worker)s
    FOR SHARE
)
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, attrs, path, claim)
SELECT e.job_id, e.attempt, e.kind, e.name, to_timestamp(e.at), e.duration, e.attrs, e.path,
       e.claim
FROM unnest(
    %(ev_job)b::bigint[], %(ev_attempt)b::integer[], %(ev_kind)b::text[],
    %(ev_name)b::text[], %(ev_at)b::float8[], %(ev_duration)b::float8[], %(ev_attrs)b::text[],
    %(ev_path)b::text[], %(ev_claim)b::bigint[]
) WITH ORDINALITY AS e(job_id, attempt, kind, name, at, duration, attrs, path, claim, ord)
JOIN held AS h ON h.id = e.job_id AND h.claim = e.claim
ORDER BY e.ord

-- name: insert_effect
-- A new key, begun by a claim that still holds its running job (locked, so that the lease
-- cannot move on meanwhile): the caller may perform the effect. The first column says
-- whether the claim holds the job, the second whether the intent was written: an existing
-- key (or one another transaction is inserting: this waits for it) inserts nothing, and
-- the backend decides (and writes the segment with its decision, insert_segment).
-- With the intent, the path the attempt recorded since its last write (%(seg_path)s, NULL
-- for none) is written as a checkpoint of its claim: one round trip for both.
WITH held AS (
    SELECT id FROM jobtrail_jobs
    WHERE id = %(job_id)s AND status = 'running' AND claim = %(claim)s
    FOR SHARE
), inserted AS (
    INSERT INTO jobtrail_effects (key, job_id, name, attempt, claim, status, repeat_safe,
                                  started_at)
    SELECT %(key)s, %(job_id)s, %(name)s, %(attempt)s, %(claim)s, 'started', %(repeat_safe)s,
           jobtrail_now()
    FROM held
    ON CONFLICT (key) DO NOTHING
    RETURNING key
), segment AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, path, claim)
    SELECT %(job_id)s, %(attempt)s, 'path', 'segment', to_timestamp(%(seg_at)s::float8),
           %(seg_path)s::text, %(claim)s
    FROM inserted WHERE %(seg_path)s::text IS NOT NULL
)
SELECT EXISTS (SELECT 1 FROM held), EXISTS (SELECT 1 FROM inserted)

-- name: hold_claim
SELECT id FROM jobtrail_jobs
WHERE id = %(job_id)s AND status = 'running' AND claim = %(claim)s
FOR SHARE

-- name: lock_effect
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim, repeated
FROM jobtrail_effects WHERE key = %(key)s FOR UPDATE

-- name: restart_effect
-- %(repeated)s when a repeat_safe effect is begun again over the 'started' record of another
-- claim: it may happen twice, and that stays known whatever its end.
UPDATE jobtrail_effects
SET job_id = %(job_id)s, name = %(name)s, attempt = %(attempt)s, claim = %(claim)s,
    status = 'started', repeat_safe = %(repeat_safe)s, result = NULL, error = NULL,
    started_at = jobtrail_now(), finished_at = NULL, repeated = repeated OR %(repeated)s
WHERE key = %(key)s

-- name: insert_segment
-- The path an attempt recorded before an effect, written in the transaction that decides on
-- an existing key, by a claim that still holds its running job (hold_claim locked it).
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, path, claim)
VALUES (%(job_id)s, %(attempt)s, 'path', 'segment', to_timestamp(%(seg_at)s::float8),
        %(seg_path)s::text, %(claim)s)

-- name: end_effect
-- Only an end not recorded yet: a retry whose first answer was lost changes nothing. With
-- the end, the path the attempt recorded since the intent (%(seg_path)s, NULL for none, the
-- effect's own entry last), as a checkpoint of its claim: one round trip for both.
WITH ended AS (
    UPDATE jobtrail_effects
    SET status = CASE WHEN %(error)s::text IS NULL THEN 'done' ELSE 'failed' END,
        result = %(result)s::text, error = %(error)s::text, finished_at = jobtrail_now()
    WHERE key = %(key)s AND job_id = %(job_id)s AND claim = %(claim)s AND status = 'started'
    RETURNING attempt
)
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, path, claim)
SELECT %(job_id)s, ended.attempt, 'path', 'segment', to_timestamp(%(seg_at)s::float8),
       %(seg_path)s::text, %(claim)s
FROM ended WHERE %(seg_path)s::text IS NOT NULL

-- name: job_effects
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim, repeated
FROM jobtrail_effects WHERE job_id = %(id)s ORDER BY started_at, key

-- name: resolve_effect
WITH resolved AS (
    UPDATE jobtrail_effects SET status = %(status)s, result = %(result)s, finished_at = jobtrail_now()
    WHERE key = %(key)s
    RETURNING key, job_id, name, attempt, status, repeat_safe, result, error, started_at,
              finished_at, claim, repeated
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
    SELECT %(job_id)s, %(attempt)s, 'lifecycle', 'effect_resolved', jobtrail_now(), %(attrs)s
    FROM resolved
)
SELECT key, job_id, name, attempt, status, repeat_safe, result, error, started_at, finished_at,
       claim, repeated
FROM resolved

-- name: divergences
SELECT id, job_id, job_name, attempt, kind, position, found, expected, message, at
FROM jobtrail_divergences
WHERE (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
  AND (%(job_id)s::bigint IS NULL OR job_id = %(job_id)s::bigint)
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
ORDER BY id DESC LIMIT %(limit)s

-- name: divergence_counts
SELECT job_name, kind, count(*) FROM jobtrail_divergences
WHERE (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
  AND (%(job_id)s::bigint IS NULL OR job_id = %(job_id)s::bigint)
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
GROUP BY job_name, kind ORDER BY job_name, kind

-- name: recent_divergence_counts
-- Only the newest %(newest)s that match are counted.
SELECT job_name, kind, count(*) FROM (
    SELECT job_name, kind FROM jobtrail_divergences
    WHERE (%(job_name)s::text IS NULL OR job_name = %(job_name)s::text)
      AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
      AND (%(job_id)s::bigint IS NULL OR job_id = %(job_id)s::bigint)
      AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz)
      AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
    ORDER BY id DESC LIMIT %(newest)s
) AS newest GROUP BY job_name, kind ORDER BY job_name, kind

-- name: runs
-- Runs that ended for good, oldest first. Times as epoch seconds: a report reads thousands
-- of runs, and a float is read far faster than a timestamptz.
SELECT id, job_name, status, outcome, variant, code_version,
       extract(epoch FROM created_at)::float8, extract(epoch FROM started_at)::float8,
       extract(epoch FROM finished_at)::float8, parent_job_id, milestones
FROM jobtrail_jobs
WHERE job_name = %(job_name)s AND variant IS NOT NULL AND finished_at IS NOT NULL
  AND (%(since)s::timestamptz IS NULL OR finished_at >= %(since)s::timestamptz)
ORDER BY finished_at, id

-- name: recent_runs
-- The newest runs that ended for good, newest first, through jobtrail_jobs_runs: the read
-- stops after %(limit)s rows, however many runs the job has. Times as for runs.
SELECT id, job_name, status, outcome, variant, code_version,
       extract(epoch FROM created_at)::float8, extract(epoch FROM started_at)::float8,
       extract(epoch FROM finished_at)::float8, parent_job_id, milestones
FROM jobtrail_jobs
WHERE job_name = %(job_name)s AND variant IS NOT NULL AND finished_at IS NOT NULL
  AND finished_at >= coalesce(%(since)s::timestamptz, '-infinity')
ORDER BY finished_at DESC, id DESC LIMIT %(limit)s

-- name: run_names
-- The job names with runs that ended for good, by name, each with the end of its newest
-- run: one step through jobtrail_jobs_runs from a name to the next, however many runs
-- each has, for at most %(limit)s names.
WITH RECURSIVE names (job_name, n) AS (
    SELECT min(job_name), 1 FROM jobtrail_jobs
    WHERE variant IS NOT NULL AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT min(j.job_name) FROM jobtrail_jobs AS j
            WHERE j.job_name > names.job_name AND j.variant IS NOT NULL
              AND j.finished_at IS NOT NULL), n + 1
    FROM names WHERE names.job_name IS NOT NULL AND n < %(limit)s
)
SELECT job_name, (SELECT max(j.finished_at) FROM jobtrail_jobs AS j
                  WHERE j.job_name = names.job_name AND j.variant IS NOT NULL
                    AND j.finished_at IS NOT NULL)
FROM names WHERE job_name IS NOT NULL ORDER BY job_name

-- name: children
SELECT id, job_name, queue, status, priority, payload, attempts, max_attempts, run_at, created_at,
       started_at, finished_at, worker_id, result, error, outcome, parent_job_id, trace_id,
       variant, code_version, redact
FROM jobtrail_jobs
WHERE job_name = %(job_name)s AND parent_job_id = ANY(%(ids)b::bigint[])

-- name: milestones
-- Rows whose path may hold the event: its JSON-quoted name appears in the text. Times as
-- epoch seconds, as for runs.
SELECT job_id, attempt, kind, name, extract(epoch FROM at)::float8, duration, attrs, path,
       claim
FROM jobtrail_events
WHERE path IS NOT NULL AND strpos(path, %(needle)s) > 0
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz - interval '1 day')
ORDER BY id

-- name: recent_milestones
-- As milestones, among only the newest %(within)s rows of events (by id, through the
-- primary key): a read bounded however many events the store holds.
SELECT job_id, attempt, kind, name, extract(epoch FROM at)::float8, duration, attrs, path,
       claim
FROM jobtrail_events
WHERE id > (SELECT coalesce(max(id), 0) FROM jobtrail_events) - %(within)s
  AND path IS NOT NULL AND strpos(path, %(needle)s) > 0
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz - interval '1 day')
ORDER BY id

-- name: events_horizon
-- The time of the oldest of the newest %(within)s rows of events; no row when the store
-- holds no more than those.
SELECT at FROM jobtrail_events
WHERE id > (SELECT max(id) FROM jobtrail_events) - %(within)s
  AND (SELECT min(id) FROM jobtrail_events) <= (SELECT max(id) FROM jobtrail_events) - %(within)s
ORDER BY id LIMIT 1

-- name: fire_tick
-- A scheduler fires a periodic job's tick: the row moves forward only to a later tick. Of
-- the schedulers asking for one tick, the first gets a row back; the others wait for it to
-- commit, then find last_tick no longer earlier and get none.
-- step: claim
INSERT INTO jobtrail_schedules (job_name, last_tick, job_id, fired_at)
VALUES (%(name)s::text, %(tick)s::float8, NULL, jobtrail_now())
ON CONFLICT (job_name) DO UPDATE SET last_tick = excluded.last_tick, job_id = NULL,
                                     fired_at = excluded.fired_at
WHERE jobtrail_schedules.last_tick < excluded.last_tick
RETURNING job_name
-- step: fired
-- The job the tick enqueued, and its scheduled event (after its enqueued one).
WITH fired AS (
    UPDATE jobtrail_schedules SET job_id = %(job_id)s::bigint WHERE job_name = %(name)s::text
)
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (%(job_id)s::bigint, 0, 'lifecycle', 'scheduled', jobtrail_now(), %(attrs)s::text)

-- name: schedules
-- The periodic jobs that fired, with their last tick.
SELECT job_name, last_tick, job_id, fired_at FROM jobtrail_schedules ORDER BY job_name

-- name: claim_limited
-- Jobs a flow limit applies to, in one transaction that no other limited claim runs beside
-- (the policy is jobtrail.store.flow's).
-- step: lock
-- Like a claim's, this commit need not wait for the WAL flush (a claim lost in a crash
-- only puts its jobs back), and here it would hold every other limited claim back.
SELECT pg_advisory_xact_lock(hashtext('jobtrail.flow')),
       set_config('synchronous_commit', 'off', true)
-- step: running
-- The slots held: running jobs whose lease has not run out, by job, queue and key.
SELECT job_name, queue, concurrency_key, count(*)::integer FROM jobtrail_jobs
WHERE status = 'running' AND lease_expires_at > jobtrail_now()
  AND (job_name = ANY(%(jobs)s::text[]) OR queue = ANY(%(queues)s::text[]))
GROUP BY job_name, queue, concurrency_key
-- step: buckets
-- The store's time, and the buckets of the rate limits as last written.
SELECT extract(epoch FROM jobtrail_now())::float8,
       coalesce((SELECT json_agg(json_build_array(name, tokens, updated)) FROM jobtrail_buckets
                 WHERE name = ANY(%(buckets)s::text[])), '[]'::json)
-- step: candidates
-- Ready jobs of the limited job types and queues, but those of limits already full. Not
-- locked: no other claim takes them (the usual one leaves them out, limited ones wait for
-- the lock), and the claim below takes only those still waiting.
SELECT id, job_name, queue, concurrency_key FROM jobtrail_jobs
WHERE status IN ('queued', 'retrying') AND run_at <= jobtrail_now() {queue_filter}
  AND (job_name = ANY(%(jobs)s::text[]) OR queue = ANY(%(queues)s::text[]))
  AND NOT job_name = ANY(%(full_jobs)s::text[]) AND NOT queue = ANY(%(full_queues)s::text[])
  AND NOT queue = ANY(%(paused)s::text[])
  AND (job_name, coalesce(concurrency_key, '')) NOT IN (
      SELECT * FROM unnest(%(key_jobs)s::text[], %(keys)s::text[]))
ORDER BY priority DESC, run_at, id
LIMIT %(limit)s
-- step: claim
WITH claimed AS (
    UPDATE jobtrail_jobs AS j
    SET status = 'running', attempts = j.attempts + 1, claim = %(token)s,
        worker_id = %(worker)s, lease_expires_at = jobtrail_now() + make_interval(secs => %(lease)s),
        started_at = jobtrail_now()
    WHERE j.id = ANY(%(ids)s::bigint[]) AND j.status IN ('queued', 'retrying')
    RETURNING j.id, j.job_name, j.queue, j.payload, j.attempts, j.max_attempts, j.parent_job_id,
              j.trace_id, j.backoff, j.claim, j.priority, j.run_at, j.group_id, j.trace_context
), events AS (
    INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, claim)
    SELECT id, attempts, 'lifecycle', 'claimed', jobtrail_now(), claim FROM claimed
    ORDER BY priority DESC, run_at, id
)
SELECT id, job_name, queue, payload, attempts, max_attempts, parent_job_id, trace_id, backoff,
       claim, group_id, trace_context
FROM claimed ORDER BY priority DESC, run_at, id
-- step: save_buckets
INSERT INTO jobtrail_buckets (name, tokens, updated)
SELECT * FROM unnest(%(names)s::text[], %(tokens)s::float8[], %(updated)s::float8[])
ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated = excluded.updated

-- name: queue_depth
-- How many jobs wait to run in a queue, counted up to %(limit)s (for its max_depth), once
-- no other enqueue into it holds its lock (taken by the enqueue, released at its commit).
-- step: lock
SELECT pg_advisory_xact_lock(hashtext('jobtrail.depth:' || %(queue)s::text))
-- step: count
SELECT count(*) FROM (
    SELECT 1 FROM jobtrail_jobs
    WHERE queue = %(queue)s::text AND status IN ('queued', 'retrying') LIMIT %(limit)s) AS waiting

-- name: enqueue_savepoint
-- Not run: psycopg opens the savepoint of an enqueue into the caller's transaction that
-- may find a queue full (connection.transaction()), as SQLite's file spells out.
SAVEPOINT jobtrail_enqueue

-- name: workflow
-- A workflow's row, then each of its members given its place (a member whose idempotency
-- key another job holds is that job, unless it belongs to a workflow already).
-- step: group
INSERT INTO jobtrail_groups (kind, total, state, then_calls, on_failure, trace_id, created_at)
VALUES (%(kind)s, %(total)s, 'waiting', %(then_calls)s, %(on_failure)s, %(trace_id)s,
        jobtrail_now())
RETURNING id
-- step: member
UPDATE jobtrail_jobs SET group_id = %(group_id)s, group_index = %(group_index)s
WHERE id = %(id)s AND group_id IS NULL
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
ORDER BY g.id LIMIT %(limit)s
-- step: groups
-- Locked: a second settler waits, then finds the row decided (no longer waiting).
SELECT id, kind, total, then_calls, on_failure FROM jobtrail_groups
WHERE state = 'waiting' AND id = ANY(%(ids)s::bigint[])
ORDER BY id
FOR UPDATE
-- step: members
SELECT group_id, id, status, result FROM jobtrail_jobs
WHERE group_id = ANY(%(ids)s::bigint[])
ORDER BY group_id, group_index
-- step: decide
UPDATE jobtrail_groups SET state = %(state)s, decided_at = jobtrail_now(),
                           next_job_id = %(next_job_id)s
WHERE id = %(id)s AND state = 'waiting'

-- name: workflow_state
SELECT id, kind, total, state, next_job_id, created_at, decided_at FROM jobtrail_groups
WHERE id = %(id)s

-- name: job_links
-- Which job types enqueued which: parent and child job names of recorded runs, and how
-- many children.
SELECT p.job_name, c.job_name, count(*) FROM jobtrail_jobs AS c
JOIN jobtrail_jobs AS p ON p.id = c.parent_job_id
WHERE c.parent_job_id IS NOT NULL
GROUP BY p.job_name, c.job_name
ORDER BY p.job_name, c.job_name

-- name: breakers
-- The circuit breakers named, as last written.
SELECT name, state, failures, opened_at, probe_until, changed_at FROM jobtrail_breakers
WHERE name = ANY(%(names)s::text[])

-- name: breaker_apply
-- One change of a breaker: its row locked (created first if it is new), read, written.
-- step: ensure
INSERT INTO jobtrail_breakers (name, state, failures) VALUES (%(name)s, 'closed', '[]')
ON CONFLICT (name) DO NOTHING
-- step: read
SELECT name, state, failures, opened_at, probe_until, changed_at,
       extract(epoch FROM jobtrail_now())::float8
FROM jobtrail_breakers WHERE name = %(name)s FOR UPDATE
-- step: write
UPDATE jobtrail_breakers
SET state = %(state)s, failures = %(failures)s, opened_at = %(opened_at)s,
    probe_until = %(probe_until)s, changed_at = %(changed_at)s
WHERE name = %(name)s
-- step: event
-- A change of state (or an operator's forcing it), as an event of no job (job 0).
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'breaker', %(name)s, jobtrail_now(), %(attrs)s)

-- name: retry_stats
-- step: outcomes
-- Jobs ended since the time given (epoch seconds), the newest %(newest)s at most (all: NULL),
-- by job type and status: how many, their attempts, and how many took more than one.
SELECT job_name, status, count(*), sum(attempts),
       sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)
FROM (SELECT job_name, status, attempts FROM jobtrail_jobs
      WHERE finished_at >= to_timestamp(%(since)s) AND status IN ('succeeded', 'dead', 'orphaned')
      ORDER BY finished_at DESC LIMIT %(newest)s) AS ended
GROUP BY job_name, status
-- step: retries
-- The retries scheduled since then (the newest %(newest)s at most), with their attributes
-- (error class, delay).
SELECT j.job_name, e.attrs FROM jobtrail_events AS e
JOIN jobtrail_jobs AS j ON j.id = e.job_id
WHERE e.kind = 'lifecycle' AND e.name = 'retry_scheduled' AND e.at >= to_timestamp(%(since)s)
ORDER BY e.at DESC LIMIT %(newest)s

-- name: capacity_stats
-- What `jobtrail capacity` models, per queue, since %(since)s (epoch seconds): jobs created
-- (arrivals), jobs ended for good, the claims with the seconds they waited (from the later
-- of run_at and creation to the claim), and the attempts that ended with the sum and the
-- sum of squares of their durations (an attempt's outcome event carries how long it ran; a
-- deferred attempt did not run). The jobs' times have no index: one pass over the jobs
-- table picks those active in the window; their events are read through the (job_id, id)
-- index while they are few, and the planner scans the events instead when most jobs are.
WITH active AS (
    SELECT id, queue, created_at, run_at, started_at, finished_at FROM jobtrail_jobs
    WHERE created_at >= to_timestamp(%(since)s) OR started_at >= to_timestamp(%(since)s)
       OR finished_at >= to_timestamp(%(since)s) OR run_at >= to_timestamp(%(since)s)
), jobs AS (
    SELECT queue,
           count(*) FILTER (WHERE created_at >= to_timestamp(%(since)s)) AS arrivals,
           count(*) FILTER (WHERE finished_at >= to_timestamp(%(since)s)) AS finished,
           count(*) FILTER (WHERE started_at >= to_timestamp(%(since)s)
                              AND started_at >= run_at) AS claims,
           sum(extract(epoch FROM started_at - greatest(run_at, created_at)))
               FILTER (WHERE started_at >= to_timestamp(%(since)s)
                         AND started_at >= run_at)::float8 AS waited
    FROM active GROUP BY queue
), attempts AS (
    SELECT a.queue, count(*) AS attempts, sum(e.duration) AS busy,
           sum(e.duration * e.duration) AS busy_squared
    FROM active AS a JOIN jobtrail_events AS e ON e.job_id = a.id
    WHERE e.kind = 'lifecycle' AND e.duration IS NOT NULL AND e.name <> 'deferred'
      AND e.at >= to_timestamp(%(since)s)
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
  AND e.at >= to_timestamp(%(since)s)
ORDER BY e.id DESC LIMIT %(limit)s

-- name: audit_head
-- The last seal of the audit trail.
SELECT seq, sealed_at, through, covered, waiting, digests, prev_hash, hash FROM jobtrail_audit
ORDER BY seq DESC LIMIT 1

-- name: audit_seals
-- Seals from a sequence number on, in order.
SELECT seq, sealed_at, through, covered, waiting, digests, prev_hash, hash FROM jobtrail_audit
WHERE seq >= %(since)s ORDER BY seq LIMIT %(limit)s

-- name: audit_append
-- The next seal, unless another sealer appended that number first.
INSERT INTO jobtrail_audit (seq, sealed_at, through, covered, waiting, digests, prev_hash, hash)
VALUES (%(seq)s, %(sealed_at)s, %(through)s, %(covered)s, %(waiting)s, %(digests)s,
        %(prev_hash)s, %(hash)s)
ON CONFLICT (seq) DO NOTHING
RETURNING seq

-- name: audit_between
-- Event rows with ids in a range, in order, as the trail hashes them (time in epoch
-- microseconds, exact: extract gives a numeric).
SELECT id, job_id, attempt, kind, name, (extract(epoch FROM at) * 1000000)::bigint, duration,
       attrs, path, claim
FROM jobtrail_events WHERE id BETWEEN %(first)s AND %(last)s ORDER BY id

-- name: audit_digests_after
-- The ids and digests of the event rows after an id, in order, and of those of the ids
-- waited for that are there now.
-- step: after
SELECT id, digest FROM jobtrail_event_digests
WHERE id > %(after)s ORDER BY id LIMIT %(limit)s
-- step: waited
SELECT id, digest FROM jobtrail_event_digests
WHERE id = ANY(%(ids)s::bigint[])

-- name: audit_digests_between
-- The ids and digests of the event rows with ids in a range, in order.
SELECT id, digest FROM jobtrail_event_digests
WHERE id BETWEEN %(first)s AND %(last)s ORDER BY id

-- name: audit_now
SELECT extract(epoch FROM jobtrail_now())::float8

-- name: audit_checkpoint_add
-- A signed checkpoint of a seal, unless one was stored for that seal already.
INSERT INTO jobtrail_audit_checkpoints (seq, note, made_at)
VALUES (%(seq)s, %(note)s, %(made_at)s)
ON CONFLICT (seq) DO NOTHING
RETURNING seq

-- name: audit_checkpoints
-- The signed checkpoints from a seal number on, in order.
SELECT seq, note FROM jobtrail_audit_checkpoints WHERE seq >= %(since)s ORDER BY seq
LIMIT %(limit)s

-- name: audit_prune
-- The seals (and checkpoints) before a checkpointed seal removed, and the removal recorded
-- in the trail as an event of no job (job 0).
-- step: seals
DELETE FROM jobtrail_audit WHERE seq < %(before)s
-- step: checkpoints
DELETE FROM jobtrail_audit_checkpoints WHERE seq < %(before)s
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'seals_pruned', jobtrail_now(), %(attrs)s)

-- name: prune_history
-- Finished jobs (succeeded or cancelled: dead letters stay until replayed or discarded)
-- that finished before a time, with their events, effects and divergences, a batch at a
-- time; none whose children are still to finish, nor one of a group still waiting, nor
-- the newest job (on SQLite a new row takes the highest id + 1: an id must never be used
-- twice, a receipt or an export names jobs by id). The removal is recorded in the trail
-- as an event of no job (job 0), naming the event ids; the record is written first.
-- step: jobs
SELECT j.id FROM jobtrail_jobs AS j
WHERE j.status IN ('succeeded', 'cancelled')
  AND j.finished_at < to_timestamp(%(before)s)
  AND NOT EXISTS (SELECT 1 FROM jobtrail_jobs AS c WHERE c.parent_job_id = j.id
                  AND c.status NOT IN ('succeeded', 'dead', 'orphaned', 'cancelled'))
  AND (j.group_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobtrail_groups AS g
                                         WHERE g.id = j.group_id AND g.state = 'waiting'))
  AND j.id < (SELECT max(id) FROM jobtrail_jobs)
ORDER BY j.id LIMIT %(limit)s
FOR UPDATE OF j SKIP LOCKED
-- step: events
SELECT id FROM jobtrail_events WHERE job_id = ANY(%(ids)s) ORDER BY id
-- step: delete_events
DELETE FROM jobtrail_events WHERE job_id = ANY(%(ids)s)
-- step: delete_effects
DELETE FROM jobtrail_effects WHERE job_id = ANY(%(ids)s)
-- step: delete_divergences
DELETE FROM jobtrail_divergences WHERE job_id = ANY(%(ids)s)
-- step: delete_jobs
DELETE FROM jobtrail_jobs WHERE id = ANY(%(ids)s)
-- step: record
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', 'history_pruned', jobtrail_now(), %(attrs)s)

-- name: audit_pruned
-- The records of what was pruned: history (the event ids each batch removed) and seals
-- (the seal the trail starts at since), in their attributes.
SELECT id, attrs FROM jobtrail_events
WHERE job_id = 0 AND kind = 'audit' AND name IN ('history_pruned', 'seals_pruned') ORDER BY id

-- name: token_create
-- A new live token and the event recording it (job 0), in one transaction. The insert
-- returns no row when a live token holds the name already: then nothing is written.
-- step: token
INSERT INTO jobtrail_tokens (name, role, hash, created_at, created_by)
VALUES (%(name)s, %(role)s, %(hash)s, jobtrail_now(), %(actor)s)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
RETURNING id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'access', 'token_created', jobtrail_now(), %(attrs)s)

-- name: token_revoke
-- The live token of a name revoked and the event recording it (job 0), in one
-- transaction; when there is none, the last one of that name revoked, for the message.
-- step: revoke
UPDATE jobtrail_tokens SET revoked_at = jobtrail_now(), revoked_by = %(actor)s
WHERE name = %(name)s AND revoked_at IS NULL
RETURNING id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
-- step: event
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'access', 'token_revoked', jobtrail_now(), %(attrs)s)
-- step: revoked
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM jobtrail_tokens WHERE name = %(name)s ORDER BY revoked_at DESC LIMIT 1

-- name: tokens
-- Every token, live and revoked, oldest first; never its hash.
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM jobtrail_tokens ORDER BY id

-- name: token_find
-- The live token of a hash, as it was before this use; its last use moved to now when
-- more than :resolution seconds old (a statement that updates no row otherwise).
WITH found AS (
    SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at
    FROM jobtrail_tokens WHERE hash = %(hash)s AND revoked_at IS NULL
), touched AS (
    UPDATE jobtrail_tokens AS t SET last_used_at = jobtrail_now()
    FROM found
    WHERE t.id = found.id AND t.revoked_at IS NULL
      AND (found.last_used_at IS NULL
           OR found.last_used_at < jobtrail_now() - make_interval(secs => %(resolution)s))
)
SELECT id, name, role, created_at, created_by, revoked_at, revoked_by, last_used_at FROM found

-- name: audit_record
-- An event of no job (job 0) for the trail: a worker's start, with what it runs.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'audit', %(name)s, jobtrail_now(), %(attrs)s)

-- name: encrypted_jobs
-- Jobs that may hold values of an encryption key (`jobtrail.rotation`), after an id, in
-- order; those whose values are all under the current key are passed over in Python.
SELECT id, job_name, payload, idempotency_key, concurrency_key FROM jobtrail_jobs
WHERE id > %(after)s
  AND (strpos(payload, '"$jobtrail_encrypted"') > 0
       OR starts_with(idempotency_key, 'jobtrail:sealed:')
       OR starts_with(concurrency_key, 'jobtrail:sealed:'))
ORDER BY id LIMIT %(limit)s

-- name: encrypted_effects
SELECT key, name, result FROM jobtrail_effects
WHERE key COLLATE "C" > %(after)s
  AND (starts_with(key, 'jobtrail:sealed:') OR strpos(result, '"$jobtrail_encrypted"') > 0)
ORDER BY key COLLATE "C" LIMIT %(limit)s

-- name: encrypted_groups
SELECT id, then_calls, on_failure FROM jobtrail_groups
WHERE id > %(after)s
  AND (strpos(then_calls, '$jobtrail_encrypted') > 0 OR strpos(then_calls, 'jobtrail:sealed:') > 0
       OR strpos(on_failure, '$jobtrail_encrypted') > 0
       OR strpos(on_failure, 'jobtrail:sealed:') > 0)
ORDER BY id LIMIT %(limit)s

-- name: encrypted_receipts
SELECT idempotency_key FROM jobtrail_receipts
WHERE idempotency_key COLLATE "C" > %(after)s AND starts_with(idempotency_key, 'jobtrail:sealed:')
ORDER BY idempotency_key COLLATE "C" LIMIT %(limit)s

-- name: rewrite_encrypted
-- One row re-encrypted, only if it still holds what was read: a row changed meanwhile is
-- left for the next rotation.
-- step: jobs
UPDATE jobtrail_jobs SET payload = %(new0)s, idempotency_key = %(new1)s,
                         concurrency_key = %(new2)s
WHERE id = %(ident)s AND payload = %(old0)s
  AND idempotency_key IS NOT DISTINCT FROM %(old1)s
  AND concurrency_key IS NOT DISTINCT FROM %(old2)s
-- step: effects
UPDATE jobtrail_effects SET key = %(new0)s, result = %(new1)s
WHERE key = %(ident)s AND result IS NOT DISTINCT FROM %(old1)s
-- step: groups
UPDATE jobtrail_groups SET then_calls = %(new0)s, on_failure = %(new1)s
WHERE id = %(ident)s AND then_calls = %(old0)s
  AND on_failure IS NOT DISTINCT FROM %(old1)s
-- step: receipts
UPDATE jobtrail_receipts SET idempotency_key = %(new0)s WHERE idempotency_key = %(ident)s

-- name: audit_keys_rotated
-- A rotation of the encryption keys (`jobtrail keys rotate`), as an event of no job (job
-- 0) that the audit trail seals, in the transaction of the rows it re-encrypted.
INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs)
VALUES (0, 0, 'keys', 'rotated', jobtrail_now(), %(attrs)s)
