-- jobtrail schema, version 15: the audit trail's signed checkpoints; what a submission records.
-- A checkpoint is a seal's number and hash signed with the app's Ed25519 key, in the C2SP
-- signed-note format (see jobtrail.audit.checkpoints); one per seal at most. They are
-- kept here so that a trail pruned before one can still be verified from it on, and so
-- that `jobtrail audit export` can carry them to whoever checks the trail elsewhere.
CREATE TABLE jobtrail_audit_checkpoints (
    seq     bigint           PRIMARY KEY,
    note    text             NOT NULL,
    made_at double precision NOT NULL
);

-- The attributes of a job's `enqueued` event, the trail's record of its submission: a
-- SHA-256 of the payload as stored (never the payload) and who submitted it, if known.
-- Python writes the same text on SQLite (jobtrail.store.rows.submitted_attrs).
CREATE FUNCTION jobtrail_submitted(payload text, actor text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT '{"payload_sha256":"' || encode(sha256(convert_to(payload, 'UTF8')), 'hex') || '"'
       || coalesce(',"actor":' || to_json(actor)::text, '') || '}'
$$;
