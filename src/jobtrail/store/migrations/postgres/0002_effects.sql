-- jobtrail schema, version 2: at-most-once effects.
-- (Step checkpoints live in the job's path: segments of kind 'path' in jobtrail_events.)

-- One row per effect key: 'started' is written before the call, 'done' or 'failed' after.
-- A 'started' row that no running attempt owns means nobody knows whether it happened.
CREATE TABLE jobtrail_effects (
    key         text        PRIMARY KEY,
    job_id      bigint      NOT NULL,
    name        text        NOT NULL,
    attempt     integer     NOT NULL,
    status      text        NOT NULL CHECK (status IN ('started', 'done', 'failed')),
    repeat_safe boolean     NOT NULL DEFAULT false,
    result      text,
    error       text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX jobtrail_effects_job ON jobtrail_effects (job_id);
