-- jobtrail schema, version 4: every claim of a job has an identity that is never used again.
-- "attempts" counts the attempts of a run: it goes back to 0 on replay and down by one when a
-- stopping worker releases a job. "claims" only ever grows, so (job, claim) names one attempt
-- for good. Effects, checkpoints and outcomes are owned by a claim, not by an attempt number.
ALTER TABLE jobtrail_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
UPDATE jobtrail_jobs SET claims = attempts;
-- The claim that began an effect. Effects begun before this version have none: a 'started'
-- one is owned by no attempt, so the next attempt finds it uncertain instead of redoing it.
ALTER TABLE jobtrail_effects ADD COLUMN claim INTEGER;
