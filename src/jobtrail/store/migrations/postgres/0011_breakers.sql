-- jobtrail schema, version 11: circuit breakers.
-- One row per breaker that ever changed: its state, the epoch times of its recent failures
-- (a JSON array), when it last opened, until when its probe holds it half-open, and when
-- its state last changed (epoch seconds of the store's clock). A deferred attempt (a
-- breaker was open) is written back with its attempt uncounted.
CREATE TABLE jobtrail_breakers (
    name        text PRIMARY KEY,
    state       text NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures    text NOT NULL,
    opened_at   double precision,
    probe_until double precision,
    changed_at  double precision
);
