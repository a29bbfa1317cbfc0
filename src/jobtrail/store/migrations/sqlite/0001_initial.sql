-- jobtrail schema, version 1: jobs, their paths, workers, receipts and the audit log.
-- Times are Unix epoch seconds (REAL).

CREATE TABLE jobtrail_jobs (
    id               INTEGER PRIMARY KEY,
    job_name         TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN
                       ('queued', 'running', 'retrying', 'succeeded', 'dead', 'orphaned', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    payload          TEXT    NOT NULL,
    payload_hash     TEXT,
    idempotency_key  TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           REAL    NOT NULL,
    created_at       REAL    NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    lease_expires_at REAL,
    worker_id        TEXT,
    backoff          REAL,
    result           TEXT,
    error            TEXT,
    outcome          TEXT,
    parent_job_id    INTEGER,
    trace_id         TEXT,
    trace_context    TEXT,
    actor            TEXT
);

-- Claiming reads only waiting rows, in claim order: flat cost however many jobs finished.
CREATE INDEX jobtrail_jobs_ready_by_queue ON jobtrail_jobs (queue, priority DESC, run_at, id)
    WHERE status IN ('queued', 'retrying');
CREATE INDEX jobtrail_jobs_ready ON jobtrail_jobs (priority DESC, run_at, id)
    WHERE status IN ('queued', 'retrying');
CREATE INDEX jobtrail_jobs_leased ON jobtrail_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobtrail_jobs_dead ON jobtrail_jobs (id) WHERE status IN ('dead', 'orphaned');
CREATE INDEX jobtrail_jobs_parent ON jobtrail_jobs (parent_job_id) WHERE parent_job_id IS NOT NULL;
CREATE UNIQUE INDEX jobtrail_jobs_idempotency ON jobtrail_jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE jobtrail_events (
    id       INTEGER PRIMARY KEY,
    job_id   INTEGER NOT NULL,
    attempt  INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    at       REAL    NOT NULL,
    duration REAL,
    attrs    TEXT
);
CREATE INDEX jobtrail_events_job ON jobtrail_events (job_id, id);

CREATE TABLE jobtrail_workers (
    id          TEXT    PRIMARY KEY,
    hostname    TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    queues      TEXT,
    concurrency INTEGER NOT NULL,
    started_at  REAL    NOT NULL,
    last_seen   REAL    NOT NULL,
    stats       TEXT
);

CREATE TABLE jobtrail_receipts (
    idempotency_key TEXT PRIMARY KEY,
    job_id          INTEGER NOT NULL,
    job_name        TEXT    NOT NULL,
    payload_hash    TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    result          TEXT,
    error           TEXT,
    finished_at     REAL    NOT NULL,
    expires_at      REAL
);

CREATE TABLE jobtrail_audit (
    seq       INTEGER PRIMARY KEY,
    at        REAL NOT NULL,
    actor     TEXT,
    action    TEXT NOT NULL,
    job_id    INTEGER,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
