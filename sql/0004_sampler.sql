-- The sampler's state: per-group configuration, per-entity posterior, the facts it is computed from.

-- An allocation group (a campaign under ad-set budgets, an account under campaign budgets).
-- total_budget_minor: configured total; NULL means "the sum of the entities' latest daily budgets
-- as spend.v1 reports them" (daily_budget_minor), so a group needs no configuration to start.
CREATE TABLE sampler_groups (
    tenant_id          text NOT NULL,
    group_id           text NOT NULL,
    campaign_id        text NOT NULL,
    entity_level       text NOT NULL DEFAULT 'adset',
    currency           char(3) NOT NULL DEFAULT 'USD',
    total_budget_minor bigint CHECK (total_budget_minor IS NULL OR total_budget_minor >= 0),
    events_since_decision integer NOT NULL DEFAULT 0,
    last_event_at      timestamptz,
    last_decided_at    timestamptz,
    PRIMARY KEY (tenant_id, group_id)
);

-- One row per budget entity: what the platform says now, and the posterior after the last event.
CREATE TABLE sampler_entities (
    tenant_id          text NOT NULL,
    group_id           text NOT NULL,
    entity_id          text NOT NULL,
    campaign_id        text NOT NULL,
    min_budget_minor   bigint NOT NULL DEFAULT 100,
    daily_budget_minor bigint,
    last_report_day    date,
    rate_shape         double precision,
    rate_rate          double precision,
    value_shape        double precision,
    value_rate         double precision,
    posterior_mean     double precision,
    posterior_at       timestamptz,
    PRIMARY KEY (tenant_id, group_id, entity_id)
);

-- Facts per entity and day: spend.v1 snapshots (replaced) and revenue.v1 credits summed on the
-- day of the click that earned them (the cohort), so a cohort's value meets its own spend.
CREATE TABLE sampler_entity_days (
    tenant_id     text NOT NULL,
    group_id      text NOT NULL,
    entity_id     text NOT NULL,
    day           date NOT NULL,
    spend_minor   bigint NOT NULL DEFAULT 0,
    clicks        bigint NOT NULL DEFAULT 0,
    impressions   bigint NOT NULL DEFAULT 0,
    results       bigint NOT NULL DEFAULT 0,
    deals         bigint NOT NULL DEFAULT 0,
    revenue_minor bigint NOT NULL DEFAULT 0,
    jump_abs      bigint NOT NULL DEFAULT 0,
    jump_sq       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, group_id, entity_id, day)
);

-- Click-to-credit delays per group: value credited (kind 'value') and new deals (kind 'deals')
-- per whole-day lag; the development curves are fitted on these.
CREATE TABLE sampler_delay_lags (
    tenant_id text NOT NULL,
    group_id  text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('value', 'deals')),
    lag_days  integer NOT NULL CHECK (lag_days >= 0),
    amount    double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, group_id, kind, lag_days)
);

-- Every decision, as published (paused ones too): the audit of what the sampler chose and why.
CREATE TABLE sampler_decisions (
    decision_id text PRIMARY KEY,
    tenant_id   text NOT NULL,
    group_id    text NOT NULL,
    decided_at  timestamptz NOT NULL,
    paused      boolean NOT NULL,
    requests    integer NOT NULL,
    payload     jsonb NOT NULL
);
CREATE INDEX sampler_decisions_group ON sampler_decisions (tenant_id, group_id, decided_at DESC);
