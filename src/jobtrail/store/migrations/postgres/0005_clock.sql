-- jobtrail schema, version 5: the store's clock.
-- Every statement reads the time through jobtrail_now(): the server's clock (leases hold
-- across machines whose clocks differ) plus the offset of the store's clock, which the
-- store sets on its connections as jobtrail.clock_offset (seconds; unset or empty is 0).
-- Only tests move it. A single SELECT of STABLE functions, declared STABLE: the planner
-- inlines it, so a statement's plan and cost are those of now().
CREATE OR REPLACE FUNCTION jobtrail_now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT now() + make_interval(
        secs => coalesce(nullif(current_setting('jobtrail.clock_offset', true), '')::float8, 0))
$$;
