-- jobtrail schema, version 1: jobs, their paths, workers, receipts and the audit log.

CREATE TABLE jobtrail_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name         text        NOT NULL,
    queue            text        NOT NULL,
    status           text        NOT NULL CHECK (status IN
                       ('queued', 'running', 'retrying', 'succeeded', 'dead', 'orphaned', 'cancelled')),
    priority         integer     NOT NULL DEFAULT 0,
    payload          text        NOT NULL,
    payload_hash     text,
    idempotency_key  text,
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    lease_expires_at timestamptz,
    worker_id        text,
    backoff          double precision,
    result           text,
    error            text,
    outcome          text,
    parent_job_id    bigint,
    trace_id         text,
    trace_context    text,
    actor            text
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
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   bigint      NOT NULL,
    attempt  integer     NOT NULL,
    kind     text        NOT NULL,
    name     text        NOT NULL,
    at       timestamptz NOT NULL,
    duration double precision,
    attrs    text
);
CREATE INDEX jobtrail_events_job ON jobtrail_events (job_id, id);

CREATE TABLE jobtrail_workers (
    id          text        PRIMARY KEY,
    hostname    text        NOT NULL,
    pid         integer     NOT NULL,
    queues      text,
    concurrency integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    stats       text
);

CREATE TABLE jobtrail_receipts (
    idempotency_key text        PRIMARY KEY,
    job_id          bigint      NOT NULL,
    job_name        text        NOT NULL,
    payload_hash    text        NOT NULL,
    status          text        NOT NULL,
    result          text,
    error           text,
    finished_at     timestamptz NOT NULL,
    expires_at      timestamptz
);

CREATE TABLE jobtrail_audit (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text,
    action    text        NOT NULL,
    job_id    bigint,
    detail    text,
    prev_hash text        NOT NULL,
    hash      text        NOT NULL
);
