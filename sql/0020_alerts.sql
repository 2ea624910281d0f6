-- Alerts (issue 17): the alerts stage's state, what it has told people, what it still has to deliver,
-- the facts its rules read, per-tenant thresholds and channels, and the daily reports it sent.

-- The daily report is scheduled in the tenant's own day. An IANA zone name; the code refuses others.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

-- One row per condition (tenant, rule, subject): alert_id is derived from the three, so a condition
-- that holds for hours is one alert. episode counts how often it came back after resolving; notices
-- counts what was said about it (alert-<alert_id>-<notices> is the event id of the latest notice).
CREATE TABLE alerts (
    alert_id         text        PRIMARY KEY,
    tenant_id        text        NOT NULL,
    rule             text        NOT NULL,
    subject          text        NOT NULL,
    severity         text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status           text        NOT NULL CHECK (status IN ('firing', 'resolved')),
    title            text        NOT NULL,
    detail           text        NOT NULL DEFAULT '',
    facts            jsonb       NOT NULL DEFAULT '{}',
    episode          integer     NOT NULL DEFAULT 1,
    notices          integer     NOT NULL DEFAULT 0,
    raised_at        timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    last_notified_at timestamptz NOT NULL,
    resolved_at      timestamptz,
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    UNIQUE (tenant_id, rule, subject)
);
CREATE INDEX alerts_tenant_status ON alerts (tenant_id, status, last_notified_at DESC);
CREATE INDEX alerts_firing ON alerts (rule) WHERE status = 'firing';

-- Every notice, as published on alerts.v1: the history the console and the daily report read.
CREATE TABLE alert_notices (
    event_id    text        PRIMARY KEY,
    alert_id    text        NOT NULL REFERENCES alerts (alert_id),
    tenant_id   text        NOT NULL,
    rule        text        NOT NULL,
    notice      text        NOT NULL CHECK (notice IN ('raised', 'reminder', 'resolved')),
    episode     integer     NOT NULL,
    title       text        NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX alert_notices_tenant_at ON alert_notices (tenant_id, occurred_at DESC);

-- The outbox of notifications: one row per notice (or report) and channel, written in the transaction
-- that decided to notify, sent by the delivery loop with backoff. No destination is stored here: the
-- loop looks the channel up when it sends, so a URL or an address never sits in this table.
CREATE TABLE alert_deliveries (
    delivery_id     bigserial   PRIMARY KEY,
    event_id        text        NOT NULL,
    tenant_id       text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'email')),
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    body_html       text,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    UNIQUE (event_id, channel)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

-- Where a tenant's alerts go. The destination (webhook URL, e-mail recipients) is sealed with a key
-- derived from ROASLOOP_HASH_KEY; hint is what an API answer may show ("https://hooks.slack.com/...").
CREATE TABLE alert_channels (
    tenant_id  text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('webhook', 'email')),
    sealed     bytea       NOT NULL,
    hint       text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

-- How each tenant's channels fare: what the health view shows, and what raises channel_unreachable.
CREATE TABLE alert_channel_status (
    tenant_id            text        NOT NULL,
    kind                 text        NOT NULL CHECK (kind IN ('webhook', 'email')),
    consecutive_failures integer     NOT NULL DEFAULT 0,
    failing_since        timestamptz,
    last_error           text,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    PRIMARY KEY (tenant_id, kind)
);

-- Per-tenant overrides of the ROASLOOP_ALERTS_* thresholds (NULL: the setting applies). Written by
-- streams/core/controls/alert_thresholds.py: validated, audited, versioned like guardrail_overrides.
CREATE TABLE alert_threshold_overrides (
    tenant_id                      text    PRIMARY KEY,
    cooldown_seconds               double precision CHECK (cooldown_seconds > 0),
    change_failures_count          integer CHECK (change_failures_count >= 1),
    change_failures_window_seconds double precision CHECK (change_failures_window_seconds > 0),
    meta_trouble_seconds           double precision CHECK (meta_trouble_seconds > 0),
    roas_threshold                 double precision CHECK (roas_threshold >= 0),
    no_revenue_days                integer CHECK (no_revenue_days >= 1),
    no_revenue_lookback_days       integer CHECK (no_revenue_lookback_days >= 1),
    unspent_fraction               double precision CHECK (unspent_fraction > 0 AND unspent_fraction <= 1),
    lag_records                    bigint  CHECK (lag_records >= 1),
    lag_seconds                    double precision CHECK (lag_seconds >= 0),
    dead_letters_quiet_seconds     double precision CHECK (dead_letters_quiet_seconds > 0),
    executing_seconds              double precision CHECK (executing_seconds > 0),
    approval_waiting_seconds       double precision CHECK (approval_waiting_seconds >= 0),
    version                        integer NOT NULL DEFAULT 1,
    updated_by                     text,
    updated_at                     timestamptz NOT NULL DEFAULT now()
);

-- Facts the rules read, from the topics the stage consumes.
-- Settled budget changes: meta_trouble when Meta answered an error or throttled (failed, or retried
-- before it took), meta_clean when Meta took the change at the first attempt.
CREATE TABLE alert_outcomes (
    event_id     text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    group_id     text        NOT NULL,
    campaign_id  text        NOT NULL,
    entity_id    text        NOT NULL,
    outcome      text        NOT NULL,
    meta_trouble boolean     NOT NULL,
    meta_clean   boolean     NOT NULL,
    throttled    boolean     NOT NULL,
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX alert_outcomes_campaign ON alert_outcomes (tenant_id, campaign_id, occurred_at);
CREATE INDEX alert_outcomes_tenant ON alert_outcomes (tenant_id, occurred_at);

-- Spend snapshots per entity and day (newest report wins) and credited revenue per group and day.
CREATE TABLE alert_spend (
    tenant_id   text        NOT NULL,
    group_id    text        NOT NULL,
    entity_id   text        NOT NULL,
    day         date        NOT NULL,
    spend_minor bigint      NOT NULL,
    currency    char(3)     NOT NULL,
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_id, entity_id, day)
);
CREATE TABLE alert_revenue (
    tenant_id      text   NOT NULL,
    group_id       text   NOT NULL,
    day            date   NOT NULL,
    credited_minor bigint NOT NULL DEFAULT 0,
    credits        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, group_id, day)
);

-- Each group's total budget as its latest decision stated it.
CREATE TABLE alert_groups (
    tenant_id          text        NOT NULL,
    group_id           text        NOT NULL,
    campaign_id        text        NOT NULL,
    total_budget_minor bigint      NOT NULL,
    currency           char(3)     NOT NULL,
    decided_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_id)
);

-- Consumer-group lag as each sweep measured it (kept a day): "over X for Y" is read from these, for each
-- tenant's own X and Y.
CREATE TABLE alert_lag_samples (
    group_name  text        NOT NULL,
    observed_at timestamptz NOT NULL,
    lag         bigint      NOT NULL,
    PRIMARY KEY (group_name, observed_at)
);

-- Dead letters seen on <topic>.dlq, one row per record (its origin topic and where it sits in the DLQ):
-- the row makes counting one per record, however often the DLQ consumer is redelivered.
CREATE TABLE alert_dead_letters (
    dlq_topic    text        NOT NULL,
    dlq_partition integer    NOT NULL,
    dlq_offset   bigint      NOT NULL,
    tenant_id    text,
    origin_topic text        NOT NULL,
    error_type   text        NOT NULL,
    seen_at      timestamptz NOT NULL,
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
CREATE INDEX alert_dead_letters_origin ON alert_dead_letters (origin_topic, seen_at);

-- Daily reports made, one per tenant and local day: the row is the "sent once" guard and the copy the
-- console serves.
CREATE TABLE daily_reports (
    tenant_id    text        NOT NULL,
    day          date        NOT NULL,
    generated_at timestamptz NOT NULL,
    html         text        NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
