-- jobtrail schema, version 2: step checkpoints and at-most-once effects.

-- A completed step's result, so a later attempt of the same job returns it unrun.
CREATE TABLE jobtrail_steps (
    job_id   INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    attempt  INTEGER NOT NULL,
    result   TEXT    NOT NULL,
    at       REAL    NOT NULL,
    duration REAL,
    PRIMARY KEY (job_id, name)
);

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
