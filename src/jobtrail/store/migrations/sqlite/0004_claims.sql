-- jobtrail schema, version 4: every claim of a job has an identity that is never used again.
-- "attempts" counts the attempts of a run: it goes back to 0 on replay and down by one when a
-- stopping worker releases a job, and on PostgreSQL a claim lost in a crash before its commit
-- reached the disk is counted again. "claim" is a random token drawn for each claim, so
-- (job, claim) names one attempt for good: effects, checkpoints and outcomes are owned by it.
ALTER TABLE jobtrail_jobs ADD COLUMN claim INTEGER;
-- The claim that began an effect. Effects begun before this version have none: a 'started'
-- one is owned by no attempt, so the next attempt finds it uncertain instead of redoing it.
ALTER TABLE jobtrail_effects ADD COLUMN claim INTEGER;
