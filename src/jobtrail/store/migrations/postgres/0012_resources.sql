-- jobtrail schema, version 12: what workers use.
-- Each heartbeat writes the worker process's CPU time so far (user and system, seconds)
-- and its peak resident memory (bytes). What each attempt used rides on the attempt's
-- lifecycle event (its attributes ``cpu`` and ``max_rss``): no column for that.
ALTER TABLE jobtrail_workers ADD COLUMN cpu_seconds double precision;
ALTER TABLE jobtrail_workers ADD COLUMN max_rss bigint;
