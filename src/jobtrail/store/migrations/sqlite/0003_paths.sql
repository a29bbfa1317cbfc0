-- jobtrail schema, version 3: execution paths.
-- An attempt's recorded path rides on its outcome's event row (column "path"); checkpoints
-- keep rows of their own. A finished run remembers its path variant and the code version
-- that ran it; a run that departs from its job's expected path leaves divergences.
ALTER TABLE jobtrail_events ADD COLUMN path TEXT;
UPDATE jobtrail_events SET path = attrs, attrs = NULL WHERE kind = 'path';

ALTER TABLE jobtrail_jobs ADD COLUMN variant TEXT;
ALTER TABLE jobtrail_jobs ADD COLUMN code_version TEXT;

CREATE TABLE jobtrail_divergences (
    id        INTEGER PRIMARY KEY,
    job_id    INTEGER NOT NULL,
    job_name  TEXT    NOT NULL,
    attempt   INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    position  INTEGER,
    found     TEXT,
    expected  TEXT,
    message   TEXT    NOT NULL,
    at        REAL    NOT NULL
);
CREATE INDEX jobtrail_divergences_by_job_name ON jobtrail_divergences (job_name, id);
CREATE INDEX jobtrail_divergences_by_job ON jobtrail_divergences (job_id);
