-- Automation modes per tenant and campaign, and the approval states of budget changes (issue 16).
-- A row with campaign_id '' is the tenant's mode; a campaign row overrides it for that campaign.
-- streams/core/controls/automation.py reads and writes them; the executor obeys them.
CREATE TABLE automation_modes (
    tenant_id              text        NOT NULL,
    campaign_id            text        NOT NULL DEFAULT '',
    mode                   text        NOT NULL CHECK (mode IN ('autopilot', 'approval', 'shadow')),
    approval_threshold_pct numeric     NOT NULL DEFAULT 10 CHECK (approval_threshold_pct >= 0
                                                                  AND approval_threshold_pct <= 1000),
    approval_ttl_hours     numeric     NOT NULL DEFAULT 24 CHECK (approval_ttl_hours > 0
                                                                  AND approval_ttl_hours <= 720),
    version                integer     NOT NULL DEFAULT 1,
    updated_by             text,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id)
);

-- shadow: recorded, never sent; awaiting_approval: waits for a person (the one state that is not
-- final); rejected / expired: a person said no, or nobody answered in time.
ALTER TABLE ad_change_history DROP CONSTRAINT ad_change_history_status_check;
ALTER TABLE ad_change_history ADD CONSTRAINT ad_change_history_status_check CHECK (status IN
    ('executing', 'completed', 'clamped', 'blocked', 'superseded', 'failed', 'dry_run', 'shadow',
     'awaiting_approval', 'rejected', 'expired'));
ALTER TABLE ad_change_history
    ADD COLUMN expires_at    timestamptz, -- executor clock: an awaiting change expires unanswered then
    ADD COLUMN reviewed_by   text,
    ADD COLUMN reviewed_at   timestamptz,
    ADD COLUMN review_reason text;
CREATE INDEX ad_change_history_awaiting ON ad_change_history (tenant_id, entity_id, expires_at)
    WHERE status = 'awaiting_approval';
CREATE INDEX ad_change_history_tenant_decided ON ad_change_history (tenant_id, decided_at DESC);
