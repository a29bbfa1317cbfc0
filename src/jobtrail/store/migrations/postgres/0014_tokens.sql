-- jobtrail schema, version 14: access tokens (see jobtrail.tokens and jobtrail.access).
-- A token is stored as the SHA-256 of its text (hash, hex), never the text itself; its
-- name is unique among the live ones (revoked_at NULL), so a revoked name can be given
-- again. Creating and revoking one write an event of no job (job 0, kind 'access') in the
-- same transaction, which the audit trail seals.
CREATE TABLE jobtrail_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash         text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    created_by   text,
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX jobtrail_tokens_live_name ON jobtrail_tokens (name) WHERE revoked_at IS NULL;
