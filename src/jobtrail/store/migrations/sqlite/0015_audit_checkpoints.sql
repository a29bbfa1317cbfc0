-- jobtrail schema, version 15: the audit trail's signed checkpoints.
-- A checkpoint is a seal's number and hash signed with the app's Ed25519 key, in the C2SP
-- signed-note format (see jobtrail.audit.checkpoints); one per seal at most. They are
-- kept here so that a trail pruned before one can still be verified from it on, and so
-- that `jobtrail audit export` can carry them to whoever checks the trail elsewhere.
CREATE TABLE jobtrail_audit_checkpoints (
    seq     INTEGER PRIMARY KEY,
    note    TEXT    NOT NULL,
    made_at REAL    NOT NULL
);
