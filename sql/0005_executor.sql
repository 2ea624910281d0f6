-- Executor: the audit trail of every budget change, the budgets it knows, and per-tenant limits.

-- One row per change request, keyed by change_id: a redelivered request finds its row and never
-- reaches Meta again. 'executing' is the intent written before the Graph API call; every other
-- status is a final outcome. Guardrails are computed from this table (applied_at, in event time).
CREATE TABLE ad_change_history (
    change_id              text PRIMARY KEY,
    event_id               text        NOT NULL,
    tenant_id              text        NOT NULL,
    group_id               text        NOT NULL,
    campaign_id            text        NOT NULL,
    entity_id              text        NOT NULL,
    entity_level           text        NOT NULL,
    source                 text        NOT NULL DEFAULT 'sampler',
    requested_by           text,
    decision_id            text,
    reason                 text        NOT NULL DEFAULT '',
    status                 text        NOT NULL CHECK (status IN
                               ('executing', 'completed', 'clamped', 'blocked', 'superseded', 'failed', 'dry_run')),
    dry_run                boolean     NOT NULL DEFAULT false,
    currency               char(3)     NOT NULL,
    requested_budget_minor bigint      NOT NULL CHECK (requested_budget_minor >= 0),
    target_budget_minor    bigint,     -- after dither and guardrails: what is (or would be) sent
    previous_budget_minor  bigint,
    applied_budget_minor   bigint,
    counts_as_change       boolean     NOT NULL DEFAULT false, -- moved a budget: counts toward the limits
    clamped                boolean     NOT NULL DEFAULT false, -- a guardrail reduced the change
    guardrails             jsonb       NOT NULL DEFAULT '[]',
    attempts               integer     NOT NULL DEFAULT 0,
    platform_response      jsonb,
    error                  text,
    superseded_by          text,
    requested_at           timestamptz NOT NULL, -- the request's occurred_at
    received_at            timestamptz,          -- executor clock: taken from the topic
    decided_at             timestamptz NOT NULL, -- executor clock: guardrails evaluated
    applied_at             timestamptz,          -- executor clock: Meta confirmed (or intent, while executing)
    settled_at             timestamptz
);
CREATE INDEX ad_change_history_entity ON ad_change_history (tenant_id, entity_id, applied_at)
    WHERE counts_as_change;
CREATE INDEX ad_change_history_campaign ON ad_change_history (tenant_id, campaign_id, applied_at)
    WHERE counts_as_change;
CREATE INDEX ad_change_history_executing ON ad_change_history (decided_at) WHERE status = 'executing';
CREATE INDEX ad_change_history_settled ON ad_change_history (settled_at DESC);

-- The daily budget of each entity as the executor last set or read it (others, e.g. the sampler, read it).
CREATE TABLE entity_budgets (
    tenant_id          text        NOT NULL,
    entity_id          text        NOT NULL,
    entity_level       text        NOT NULL,
    campaign_id        text        NOT NULL,
    group_id           text        NOT NULL,
    currency           char(3)     NOT NULL,
    daily_budget_minor bigint      NOT NULL CHECK (daily_budget_minor >= 0),
    source             text        NOT NULL CHECK (source IN ('meta', 'dry_run', 'request')),
    change_id          text,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_id)
);

-- Per-tenant overrides of the executor's default limits (NULL: use the default).
CREATE TABLE executor_tenant_limits (
    tenant_id                     text PRIMARY KEY,
    max_changes_per_entity_hour   integer CHECK (max_changes_per_entity_hour >= 0),
    max_actions_per_campaign_hour integer CHECK (max_actions_per_campaign_hour >= 0),
    max_change_fraction           numeric CHECK (max_change_fraction >= 0),
    policy                        text CHECK (policy IN ('clamp', 'block')),
    platform_min_budget_minor     bigint CHECK (platform_min_budget_minor >= 0),
    updated_at                    timestamptz NOT NULL DEFAULT now()
);

-- Per-entity floors and caps, in the entity's currency's minor units.
CREATE TABLE executor_entity_limits (
    tenant_id   text   NOT NULL,
    entity_id   text   NOT NULL,
    floor_minor bigint CHECK (floor_minor >= 0),
    cap_minor   bigint CHECK (cap_minor >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, entity_id)
);

-- The latest outcomes first, for operators and the audit UI.
CREATE VIEW executor_recent_changes AS
SELECT change_id, tenant_id, group_id, campaign_id, entity_id, status, dry_run, currency,
       requested_budget_minor, previous_budget_minor, applied_budget_minor, attempts, error,
       requested_at, decided_at, applied_at, settled_at,
       settled_at - requested_at AS latency
FROM ad_change_history
ORDER BY coalesce(settled_at, decided_at) DESC;

-- Per campaign: how much the executor did, by outcome, and when it last moved a budget.
CREATE VIEW executor_campaign_activity AS
SELECT tenant_id, campaign_id,
       count(*)                                         AS requests,
       count(*) FILTER (WHERE counts_as_change)         AS changes,
       count(*) FILTER (WHERE status = 'completed')     AS completed,
       count(*) FILTER (WHERE status = 'clamped')       AS clamped,
       count(*) FILTER (WHERE status = 'blocked')       AS blocked,
       count(*) FILTER (WHERE status = 'superseded')    AS superseded,
       count(*) FILTER (WHERE status = 'failed')        AS failed,
       count(*) FILTER (WHERE status = 'dry_run')       AS dry_run,
       max(applied_at) FILTER (WHERE counts_as_change)  AS last_change_at
FROM ad_change_history
GROUP BY tenant_id, campaign_id;

-- One row per guardrail check that did not pass (clamped or blocked a change).
CREATE VIEW executor_guardrail_failures AS
SELECT h.change_id, h.tenant_id, h.campaign_id, h.entity_id, h.status, h.decided_at,
       g ->> 'name' AS guardrail, g ->> 'detail' AS detail,
       (g ->> 'limit')::numeric AS limit_value, (g ->> 'observed')::numeric AS observed
FROM ad_change_history h, jsonb_array_elements(h.guardrails) AS g
WHERE (g ->> 'passed')::boolean IS FALSE;
