-- jobtrail schema, version 3: execution paths.
-- An attempt's recorded path rides on its outcome's event row (column "path"); checkpoints
-- keep rows of their own. A finished run remembers its path variant and the code version
-- that ran it; a run that departs from its job's expected path leaves divergences.
ALTER TABLE jobtrail_events ADD COLUMN path text;
UPDATE jobtrail_events SET path = attrs, attrs = NULL WHERE kind = 'path';

ALTER TABLE jobtrail_jobs ADD COLUMN variant text;
ALTER TABLE jobtrail_jobs ADD COLUMN code_version text;

CREATE TABLE jobtrail_divergences (
    id        bigserial   PRIMARY KEY,
    job_id    bigint      NOT NULL,
    job_name  text        NOT NULL,
    attempt   integer     NOT NULL,
    kind      text        NOT NULL,
    position  integer,
    found     text,
    expected  text,
    message   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobtrail_divergences_by_job_name ON jobtrail_divergences (job_name, id);
CREATE INDEX jobtrail_divergences_by_job ON jobtrail_divergences (job_id);
