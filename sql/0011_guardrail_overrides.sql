-- Guardrail overrides per tenant and per campaign, one table for both (issue 15 "One house").
-- A row with campaign_id '' overrides the settings for the whole tenant; a row with a campaign id
-- overrides the tenant's for that campaign. NULL leaves a limit to the layer beneath.
-- streams/core/controls/limits.py reads them (effective_limits), streams/core/controls/limit_overrides.py
-- writes them. The CHECKs repeat GuardrailSettings' bounds. version counts writes: a writer that read
-- version n and passes it back fails if someone wrote in between (optimistic concurrency).
CREATE TABLE guardrail_overrides (
    tenant_id                     text    NOT NULL,
    campaign_id                   text    NOT NULL DEFAULT '',
    max_changes_per_entity_hour   integer CHECK (max_changes_per_entity_hour >= 0),
    max_actions_per_campaign_hour integer CHECK (max_actions_per_campaign_hour >= 0),
    max_change_fraction           numeric CHECK (max_change_fraction >= 0 AND max_change_fraction <= 10),
    change_window_hours           numeric CHECK (change_window_hours > 0 AND change_window_hours <= 168),
    policy                        text    CHECK (policy IN ('clamp', 'block')),
    platform_min_budget_minor     bigint  CHECK (platform_min_budget_minor >= 0),
    version                       integer NOT NULL DEFAULT 1,
    updated_by                    text,
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id)
);

-- The old table allowed any fraction >= 0; above 10 (a 1000% move within the window) it is capped
-- at 10, the most a setting may say, rather than failing the migration.
INSERT INTO guardrail_overrides (tenant_id, campaign_id, max_changes_per_entity_hour, max_actions_per_campaign_hour,
                                 max_change_fraction, policy, platform_min_budget_minor, updated_at)
SELECT tenant_id, '', max_changes_per_entity_hour, max_actions_per_campaign_hour, LEAST(max_change_fraction, 10),
       policy, platform_min_budget_minor, updated_at
FROM executor_tenant_limits;

DROP TABLE executor_tenant_limits;

-- Entity floors and caps get the same write discipline. The floor <= cap rule holds for rows written
-- from now on (NOT VALID: an old row breaking it keeps blocking every change, as it did).
ALTER TABLE executor_entity_limits
    ADD COLUMN version    integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_by text,
    ADD CONSTRAINT executor_entity_limits_floor_not_above_cap
        CHECK (floor_minor IS NULL OR cap_minor IS NULL OR floor_minor <= cap_minor) NOT VALID;
