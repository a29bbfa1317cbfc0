-- jobtrail schema, version 13: the audit trail's seals.
-- Every change to a job is already a row of jobtrail_events, written in the change's own
-- transaction; the trail seals those rows after the fact, in order, into a hash chain (see
-- jobtrail.audit). A seal lists the event ids it covers (ranges), a digest of each, the
-- highest id it looked through, and the ids it found missing and still waits for (rows of
-- transactions not yet committed); its
-- hash is SHA-256 of the previous seal's hash and its own canonical JSON (RFC 8785). The
-- unused table of version 1 is replaced.
DROP TABLE jobtrail_audit;
CREATE TABLE jobtrail_audit (
    seq       bigint           PRIMARY KEY,
    sealed_at double precision NOT NULL,
    through   bigint           NOT NULL,
    covered   text             NOT NULL,
    waiting   text             NOT NULL,
    digests   text             NOT NULL,
    prev_hash text             NOT NULL,
    hash      text             NOT NULL
);

-- An event row's digest as the trail keeps it (jobtrail.audit.encoding): the first 32 hex
-- digits of the SHA-256 of its canonical JSON, made here so that sealing and verifying
-- read 40 bytes per row instead of the row.
CREATE FUNCTION jobtrail_event_digest(e jobtrail_events) RETURNS text
LANGUAGE sql STABLE AS $$
SELECT left(encode(sha256(convert_to(
    '["' || e.id || '","' || e.job_id || '",' || e.attempt || ','
    || to_json(e.kind)::text || ',' || to_json(e.name)::text || ','
    || (extract(epoch FROM e.at) * 1000000)::bigint || ','
    || coalesce(floor(e.duration * 1000000 + 0.5)::bigint::text, 'null') || ','
    || coalesce(to_json(e.attrs)::text, 'null') || ','
    || coalesce(to_json(e.path)::text, 'null') || ','
    || coalesce('"' || e.claim || '"', 'null') || ']', 'UTF8')), 'hex'), 32)
$$;
