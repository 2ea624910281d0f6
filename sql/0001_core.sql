-- Core tables shared by every stage.

-- Exactly-once effects: one row per (consumer, event) handled, written in the effect's transaction.
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);

-- Tenants and their settings that several stages read.
CREATE TABLE tenants (
    tenant_id              text PRIMARY KEY,
    currency               char(3) NOT NULL DEFAULT 'USD',
    attribution_window_days integer NOT NULL DEFAULT 7 CHECK (attribution_window_days IN (1, 7, 28)),
    landing_hosts          text[]  NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- The kill switch: a row pauses automation for a whole tenant (campaign_id = '') or one campaign.
-- The sampler still logs decisions for a paused scope but requests nothing; the executor blocks.
CREATE TABLE automation_pauses (
    tenant_id   text NOT NULL,
    campaign_id text NOT NULL DEFAULT '',
    paused_by   text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    paused_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id)
);

-- Every operator write, with the token subject that made it.
CREATE TABLE operator_audit (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_audit_tenant_at ON operator_audit (tenant_id, at DESC);
