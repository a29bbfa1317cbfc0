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
    seq       INTEGER PRIMARY KEY,
    sealed_at REAL    NOT NULL,
    through   INTEGER NOT NULL,
    covered   TEXT    NOT NULL,
    waiting   TEXT    NOT NULL,
    digests   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
