-- jobtrail schema, version 7: how a statement that ends jobs for good tells waiters.
-- Whether a waiters' connection is open on this database (named 'jobtrail-waiters', see
-- postgres/presence.py): only then do transitions notify 'jobtrail_finished', whose lock
-- would otherwise queue concurrent commits for nothing.
CREATE OR REPLACE FUNCTION jobtrail_waiters_listening() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_stat_activity
        WHERE application_name = 'jobtrail-waiters' AND datname = current_database())
$$;
-- One 'jobtrail_finished' notification for the jobs of one statement: their ids joined by
-- commas (string_agg), or '' when they would not fit in one notification (waiters then
-- look at every job they wait for). Nothing for no ids (NULL), nor when no waiters listen:
-- *listening* as the caller knows it, or looked up when NULL. Returns how many were sent.
CREATE OR REPLACE FUNCTION jobtrail_notify_finished(ids text, listening boolean DEFAULT NULL)
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT count(pg_notify('jobtrail_finished',
                           CASE WHEN length(ids) <= 7000 THEN ids ELSE '' END))
    WHERE ids IS NOT NULL AND coalesce(listening, jobtrail_waiters_listening())
$$;
