-- jobtrail schema, version 8: periodic jobs.
-- One row per periodic job that ever fired: the latest tick fired (epoch seconds, as the
-- schedule names it: the same number on every machine), the job it enqueued, and when. A
-- scheduler fires a tick only by moving last_tick forward, in the transaction that
-- enqueues the job: each tick once.
CREATE TABLE jobtrail_schedules (
    job_name  text             PRIMARY KEY,
    last_tick double precision NOT NULL,
    job_id    bigint,
    fired_at  timestamptz      NOT NULL
);
