-- Revenue: stage values per tenant, each deal's credited state, the credit ledger, spend, ROAS.

-- A tenant's value per canonical stage, in minor units of the tenant's currency (tenants.currency).
-- Missing rows mean the defaults (lead 500, appointment 1,500, won 5,000 major units).
CREATE TABLE stage_values (
    tenant_id   text        NOT NULL,
    stage       text        NOT NULL CHECK (stage IN ('lead', 'appointment', 'won')),
    value_minor bigint      NOT NULL CHECK (value_minor >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text,
    PRIMARY KEY (tenant_id, stage)
);

-- CRM stage ids a tenant maps onto canonical stages, beyond HubSpot's defaults.
CREATE TABLE stage_mappings (
    tenant_id    text NOT NULL,
    crm_stage_id text NOT NULL,
    stage        text NOT NULL CHECK (stage IN ('lead', 'appointment', 'won', 'lost')),
    PRIMARY KEY (tenant_id, crm_stage_id)
);

-- Each attributed deal's valuation state (streams.revenue.valuation.DealState).
CREATE TABLE deal_credits (
    tenant_id           text             NOT NULL,
    deal_id             text             NOT NULL,
    credited_minor      bigint           NOT NULL CHECK (credited_minor >= 0),
    highest_value_minor bigint           NOT NULL,
    status              text             NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    won_amount_minor    bigint,
    terminal_at         timestamptz,
    currency            char(3)          NOT NULL,
    confidence          double precision NOT NULL,
    group_id            text             NOT NULL,
    campaign_id         text             NOT NULL,
    adset_id            text             NOT NULL,
    ad_id               text             NOT NULL,
    updated_at          timestamptz      NOT NULL,
    PRIMARY KEY (tenant_id, deal_id)
);

-- One row per RevenueRecognized: summing amount_minor over a deal gives its credited total.
CREATE TABLE revenue_ledger (
    event_id             text             PRIMARY KEY,
    tenant_id            text             NOT NULL,
    deal_id              text             NOT NULL,
    group_id             text             NOT NULL,
    campaign_id          text             NOT NULL,
    adset_id             text             NOT NULL,
    ad_id                text             NOT NULL,
    kind                 text             NOT NULL CHECK (kind IN ('synthetic', 'actual', 'reversal')),
    amount_minor         bigint           NOT NULL,
    currency             char(3)          NOT NULL,
    credited_total_minor bigint           NOT NULL,
    stage_id             text             NOT NULL,
    confidence           double precision NOT NULL,
    conversion_event_id  text             NOT NULL,
    occurred_at          timestamptz      NOT NULL,
    day                  date             NOT NULL,  -- UTC day of occurred_at: when the revenue was recognized
    click_occurred_at    timestamptz
);
CREATE INDEX revenue_ledger_deal ON revenue_ledger (tenant_id, deal_id);
CREATE INDEX revenue_ledger_adset_day ON revenue_ledger (tenant_id, adset_id, day);

-- Spend per entity and day: a snapshot (SpendReported replaces, never adds); newest report wins.
CREATE TABLE spend_daily (
    tenant_id    text        NOT NULL,
    entity_id    text        NOT NULL,
    day          date        NOT NULL,
    entity_level text        NOT NULL,
    group_id     text        NOT NULL,
    campaign_id  text        NOT NULL,
    spend_minor  bigint      NOT NULL CHECK (spend_minor >= 0),
    currency     char(3)     NOT NULL,
    impressions  bigint      NOT NULL,
    clicks       bigint      NOT NULL,
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, day)
);

-- Pipeline ROAS per ad set and day, what the sampler and analysts read. Revenue counts on the day
-- it was recognized; roas is NULL on a day without spend. Amounts in minor units of the tenant's
-- currency (revenue) and the ad account's (spend): the same currency in every sane setup.
CREATE VIEW adset_daily_roas AS
WITH revenue AS (
    SELECT tenant_id, adset_id, day, max(group_id) AS group_id, max(campaign_id) AS campaign_id,
           sum(amount_minor) AS revenue_minor, count(DISTINCT deal_id) AS deals
    FROM revenue_ledger GROUP BY tenant_id, adset_id, day
), spend AS (
    SELECT tenant_id, entity_id AS adset_id, day, group_id, campaign_id, spend_minor, currency
    FROM spend_daily WHERE entity_level = 'adset'
)
SELECT coalesce(s.tenant_id, r.tenant_id)     AS tenant_id,
       coalesce(s.adset_id, r.adset_id)       AS adset_id,
       coalesce(s.day, r.day)                 AS day,
       coalesce(s.group_id, r.group_id)       AS group_id,
       coalesce(s.campaign_id, r.campaign_id) AS campaign_id,
       coalesce(r.revenue_minor, 0)::bigint   AS revenue_minor,
       coalesce(s.spend_minor, 0)::bigint     AS spend_minor,
       coalesce(r.deals, 0)::bigint           AS deals,
       s.currency                             AS spend_currency,
       CASE WHEN s.spend_minor > 0 THEN coalesce(r.revenue_minor, 0)::double precision / s.spend_minor END AS roas
FROM revenue r
FULL OUTER JOIN spend s ON s.tenant_id = r.tenant_id AND s.adset_id = r.adset_id AND s.day = r.day;
