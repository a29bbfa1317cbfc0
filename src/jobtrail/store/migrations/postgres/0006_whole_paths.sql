-- jobtrail schema, version 6: paths that tell the whole truth.
-- Path rows name the claim that wrote them (NULL for rows of no claim, such as "enqueued",
-- and for rows written before this version): an attempt's steps are counted, its start
-- placed and the path it saved before it died found by claim, which a release or a replay
-- never reuses, unlike the attempt number.
ALTER TABLE jobtrail_events ADD COLUMN claim bigint;
-- An effect begun again, repeat_safe, over a 'started' record of another claim: it may have
-- happened twice. Set for good, whatever the effect's later end. (A constant default: no
-- table rewrite.)
ALTER TABLE jobtrail_effects ADD COLUMN repeated boolean NOT NULL DEFAULT false;
-- The milestones a finished run reached, with their place in its path variant: JSON
-- [["name", position], ...], NULL for none.
ALTER TABLE jobtrail_jobs ADD COLUMN milestones text;
-- The payload fields the job declares sensitive, kept with the job so that every view masks
-- them, even one without the job's code: a JSON list of names, NULL for none.
ALTER TABLE jobtrail_jobs ADD COLUMN redact text;
