-- jobtrail schema, version 9: flow control.
-- concurrency_key: the key a job type's concurrency_key= function gave the job at enqueue
-- (its limit counts running jobs per key). jobtrail_buckets: the token bucket of each rate
-- limit ('job:NAME' or 'queue:NAME'), as the last limited claim left it (epoch seconds of
-- the store's clock).
ALTER TABLE jobtrail_jobs ADD COLUMN concurrency_key text;
CREATE TABLE jobtrail_buckets (
    name    text             PRIMARY KEY,
    tokens  double precision NOT NULL,
    updated double precision NOT NULL
);
