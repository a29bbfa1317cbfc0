-- jobtrail schema, version 17: reads of paths that stay fast on millions of runs.
-- The runs of one job type that ended for good, by the time they ended: a job type's newest
-- runs (its path variants and funnel, the triggers of a rule) are read without passing over
-- other job types' runs, and the job types with runs are found by stepping from one name to
-- the next. A job enters it once, when it ends.
CREATE INDEX jobtrail_jobs_runs ON jobtrail_jobs (job_name, finished_at, id)
    WHERE variant IS NOT NULL AND finished_at IS NOT NULL;
-- The divergences of one kind, newest first (the dashboard's filter by kind).
CREATE INDEX jobtrail_divergences_by_kind ON jobtrail_divergences (kind, id);
