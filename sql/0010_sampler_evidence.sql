-- How far into each partition a group's facts have been applied: {"revenue.v1:3": 1234, ...},
-- the next offset after the group's last applied record. A decision logs it as its evidence, so
-- a replay can rebuild exactly the state the decision saw, whatever the consumer lag was.
ALTER TABLE sampler_groups ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}'::jsonb;
