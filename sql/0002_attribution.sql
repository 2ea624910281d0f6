-- Attribution: the click index, the ad catalog, decided attributions, deals waiting for a click.

-- One row per click, idempotent on (tenant, click id). Each partial index serves one matching layer.
CREATE TABLE clicks (
    tenant_id       text        NOT NULL,
    click_id        text        NOT NULL,
    ad_id           text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    fbclid          text,
    email_hash      text,
    device_id       text,
    ip_hash         text,
    user_agent_hash text,
    event_id        text        NOT NULL,
    PRIMARY KEY (tenant_id, click_id)
);
CREATE INDEX clicks_fbclid ON clicks (tenant_id, fbclid, occurred_at DESC) WHERE fbclid IS NOT NULL;
CREATE INDEX clicks_ad ON clicks (tenant_id, ad_id, occurred_at DESC);
CREATE INDEX clicks_email ON clicks (tenant_id, email_hash, occurred_at DESC) WHERE email_hash IS NOT NULL;
CREATE INDEX clicks_device ON clicks (tenant_id, device_id, occurred_at DESC) WHERE device_id IS NOT NULL;
CREATE INDEX clicks_ip_ua ON clicks (tenant_id, ip_hash, user_agent_hash, occurred_at DESC)
    WHERE ip_hash IS NOT NULL AND user_agent_hash IS NOT NULL;
CREATE INDEX clicks_occurred_at ON clicks (occurred_at);  -- retention

-- Where an ad sits: learned from clicks that carry the hierarchy (the redirect only knows the ad).
CREATE TABLE ad_catalog (
    tenant_id   text        NOT NULL,
    ad_id       text        NOT NULL,
    adset_id    text        NOT NULL,
    campaign_id text        NOT NULL,
    learned_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, ad_id)
);

-- The allocation group of an ad set or campaign, learned from spend.v1 (default: the campaign).
CREATE TABLE entity_groups (
    tenant_id   text NOT NULL,
    entity_id   text NOT NULL,
    group_id    text NOT NULL,
    campaign_id text NOT NULL,
    PRIMARY KEY (tenant_id, entity_id)
);

CREATE VIEW ad_hierarchy AS
SELECT a.tenant_id, a.ad_id, a.adset_id, a.campaign_id,
       coalesce(ga.group_id, gc.group_id, a.campaign_id) AS group_id
FROM ad_catalog a
LEFT JOIN entity_groups ga ON ga.tenant_id = a.tenant_id AND ga.entity_id = a.adset_id
LEFT JOIN entity_groups gc ON gc.tenant_id = a.tenant_id AND gc.entity_id = a.campaign_id;

-- A deal's attribution, decided once (method 'none' included) and reused for its later stages.
CREATE TABLE deal_attributions (
    tenant_id         text             NOT NULL,
    deal_id           text             NOT NULL,
    method            text             NOT NULL CHECK (method IN ('url', 'fingerprint', 'probabilistic', 'none')),
    matched_on        text             NOT NULL,
    confidence        double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    click_id          text,
    ad_id             text,
    adset_id          text,
    campaign_id       text,
    group_id          text,
    click_occurred_at timestamptz,
    conversion_at     timestamptz      NOT NULL,
    decided_at        timestamptz      NOT NULL,
    PRIMARY KEY (tenant_id, deal_id)
);

-- Stage events of deals not decided yet: no click matched (yet), or the click's ad is not in the
-- catalog yet. Re-checked when a matching click or catalog entry arrives; emitted unattributed
-- once the deal's earliest deadline passes. The match keys are columns so a new click finds them.
CREATE TABLE pending_stage_events (
    tenant_id       text        NOT NULL,
    deal_id         text        NOT NULL,
    stage_event_id  text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    event           text        NOT NULL,  -- the DealStageChanged as it came off the wire
    click_id        text,
    fbclid          text,
    utm_ad_id       text,
    email_hash      text,
    device_id       text,
    ip_hash         text,
    user_agent_hash text,
    waiting_ad_id   text,                  -- matched a click whose ad the catalog does not know yet
    PRIMARY KEY (tenant_id, stage_event_id)
);
CREATE INDEX pending_stage_events_deal ON pending_stage_events (tenant_id, deal_id);
CREATE INDEX pending_stage_events_deadline ON pending_stage_events (deadline);
