-- jobtrail schema, version 10: workflows (groups and chains).
-- A group's members carry its id and their place in it; the group row holds what runs
-- after it (then_calls: the calls to enqueue, in order, as JSON) and on a member's
-- failure (on_failure: a call, as JSON), and its state, decided once ('waiting' → 'done'
-- or 'failed') in the transaction that enqueues what follows.
ALTER TABLE jobtrail_jobs ADD COLUMN group_id INTEGER;
ALTER TABLE jobtrail_jobs ADD COLUMN group_index INTEGER;
CREATE INDEX jobtrail_jobs_group ON jobtrail_jobs (group_id, group_index) WHERE group_id IS NOT NULL;
CREATE TABLE jobtrail_groups (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('group', 'chain')),
    total       INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('waiting', 'done', 'failed')),
    then_calls  TEXT    NOT NULL,
    on_failure  TEXT,
    trace_id    TEXT,
    created_at  REAL    NOT NULL,
    decided_at  REAL,
    next_job_id INTEGER
);
CREATE INDEX jobtrail_groups_waiting ON jobtrail_groups (id) WHERE state = 'waiting';
