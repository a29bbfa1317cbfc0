-- jobtrail schema, version 10: workflows (groups and chains).
-- A group's members carry its id and their place in it; the group row holds what runs
-- after it (then_calls: the calls to enqueue, in order, as JSON) and on a member's
-- failure (on_failure: a call, as JSON), and its state, decided once ('waiting' → 'done'
-- or 'failed') in the transaction that enqueues what follows.
ALTER TABLE jobtrail_jobs ADD COLUMN group_id bigint;
ALTER TABLE jobtrail_jobs ADD COLUMN group_index integer;
CREATE INDEX jobtrail_jobs_group ON jobtrail_jobs (group_id, group_index) WHERE group_id IS NOT NULL;
CREATE TABLE jobtrail_groups (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('group', 'chain')),
    total       integer     NOT NULL,
    state       text        NOT NULL CHECK (state IN ('waiting', 'done', 'failed')),
    then_calls  text        NOT NULL,
    on_failure  text,
    trace_id    text,
    created_at  timestamptz NOT NULL,
    decided_at  timestamptz,
    next_job_id bigint
);
CREATE INDEX jobtrail_groups_waiting ON jobtrail_groups (id) WHERE state = 'waiting';
