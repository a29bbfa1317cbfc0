-- jobtrail schema, version 16: reads that stay fast at millions of jobs.
-- The jobs that ended, by when: the dashboard's overview and the health checks read the
-- newest of them, never the whole table. Partial, so that enqueuing pays nothing for it.
CREATE INDEX jobtrail_jobs_finished ON jobtrail_jobs (finished_at) WHERE finished_at IS NOT NULL;
-- The cancelled jobs, by id: the jobs list filtered to them walks these alone (every other
-- status but succeeded, the bulk of the table, has its partial index already).
CREATE INDEX jobtrail_jobs_cancelled ON jobtrail_jobs (id) WHERE status = 'cancelled';
-- The retries scheduled, by when: the retries check reads those of its window only.
CREATE INDEX jobtrail_events_retries ON jobtrail_events (at)
    WHERE kind = 'lifecycle' AND name = 'retry_scheduled';
-- Unused since version 15's view jobtrail_event_digests, which writes out its expression.
DROP FUNCTION jobtrail_event_digest(jobtrail_events);
