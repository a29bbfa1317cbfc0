-- jobtrail schema, version 9: flow control.
-- concurrency_key: the key a job type's concurrency_key= function gave the job at enqueue
-- (its limit counts running jobs per key). jobtrail_buckets: the token bucket of each rate
-- limit ('job:NAME' or 'queue:NAME'), as the last limited claim left it (epoch seconds).
ALTER TABLE jobtrail_jobs ADD COLUMN concurrency_key TEXT;
CREATE TABLE jobtrail_buckets (
    name    TEXT PRIMARY KEY,
    tokens  REAL NOT NULL,
    updated REAL NOT NULL
);
