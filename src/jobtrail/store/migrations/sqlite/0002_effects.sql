-- jobtrail schema, version 2: at-most-once effects.
-- (Step checkpoints live in the job's path: segments of kind 'path' in jobtrail_events.)

-- One row per effect key: 'started' is written before the call, 'done' or 'failed' after.
-- A 'started' row that no running attempt owns means nobody knows whether it happened.
CREATE TABLE jobtrail_effects (
    key         TEXT    PRIMARY KEY,
    job_id      INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('started', 'done', 'failed')),
    repeat_safe INTEGER NOT NULL DEFAULT 0,
    result      TEXT,
    error       TEXT,
    started_at  REAL    NOT NULL,
    finished_at REAL
);
CREATE INDEX jobtrail_effects_job ON jobtrail_effects (job_id);
