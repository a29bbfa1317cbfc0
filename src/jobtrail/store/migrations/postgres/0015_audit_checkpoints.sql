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

-- The events with their digests, as jobtrail_event_digest makes them, written out in a view
-- the planner expands into each query: a function call with the whole row cost the sealer
-- a fifth more of the database's time per event.
CREATE VIEW jobtrail_event_digests AS
SELECT e.id, left(encode(sha256(convert_to(
    '["' || e.id || '","' || e.job_id || '",' || e.attempt || ','
    || to_json(e.kind)::text || ',' || to_json(e.name)::text || ','
    || (extract(epoch FROM e.at) * 1000000)::bigint || ','
    || coalesce(floor(e.duration * 1000000 + 0.5)::bigint::text, 'null') || ','
    || coalesce(to_json(e.attrs)::text, 'null') || ','
    || coalesce(to_json(e.path)::text, 'null') || ','
    || coalesce('"' || e.claim || '"', 'null') || ']', 'UTF8')), 'hex'), 32) AS digest
FROM jobtrail_events AS e;
