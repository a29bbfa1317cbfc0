-- jobtrail schema, version 8: periodic jobs.
-- One row per periodic job that ever fired: the latest tick fired (epoch seconds, as the
-- schedule names it), the job it enqueued, and when. A scheduler fires a tick only by
-- moving last_tick forward, in the transaction that enqueues the job: each tick once.
CREATE TABLE jobtrail_schedules (
    job_name  TEXT    PRIMARY KEY,
    last_tick REAL    NOT NULL,
    job_id    INTEGER,
    fired_at  REAL    NOT NULL
);
