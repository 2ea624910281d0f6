-- The launcher's audit trail: one row per launch request, keyed by (tenant, request_id), so a
-- redelivered request finds its row and creates nothing twice. 'executing' is the intent written
-- before the first Graph API call; every other status is the final outcome (published once on
-- launch.outcomes.v1 in the same transaction that writes it). 'sent' holds the Graph parameters
-- sent (or, in a dry run, that would be sent), never a credential.
CREATE TABLE launch_requests (
    tenant_id    text        NOT NULL,
    request_id   text        NOT NULL,
    account_id   text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('campaign', 'adset', 'ad', 'status', 'bid')),
    status       text        NOT NULL CHECK (status IN ('executing', 'created', 'applied', 'blocked', 'dry_run', 'failed')),
    requested_by text        NOT NULL,
    spec         jsonb       NOT NULL,
    sent         jsonb       NOT NULL DEFAULT '[]',
    created      jsonb       NOT NULL DEFAULT '{}',
    error        text,
    requested_at timestamptz NOT NULL,
    started_at   timestamptz NOT NULL,
    settled_at   timestamptz,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX launch_requests_recent ON launch_requests (tenant_id, requested_at DESC);
-- Status and bid changes that reached Meta, per entity and kind: the per-change-type guardrail counts these.
CREATE INDEX launch_requests_changes ON launch_requests (tenant_id, kind, (spec ->> 'entity_id'), settled_at)
    WHERE status = 'applied';
