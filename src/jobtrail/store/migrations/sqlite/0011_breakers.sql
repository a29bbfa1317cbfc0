-- jobtrail schema, version 11: circuit breakers.
-- One row per breaker that ever changed: its state, the epoch times of its recent failures
-- (a JSON array), when it last opened, until when its probe holds it half-open, and when
-- its state last changed (epoch seconds of the store's clock). A deferred attempt (a
-- breaker was open) is written back with its attempt uncounted.
CREATE TABLE jobtrail_breakers (
    name        TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures    TEXT NOT NULL,
    opened_at   REAL,
    probe_until REAL,
    changed_at  REAL
);
