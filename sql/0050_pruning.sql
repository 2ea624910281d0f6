-- Pruning (streams/core/pruning.py) deletes by age; these make "older than" a range scan.
CREATE INDEX IF NOT EXISTS operator_audit_at ON operator_audit (at);
CREATE INDEX IF NOT EXISTS sampler_decisions_decided_at ON sampler_decisions (decided_at);
