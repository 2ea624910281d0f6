-- An allocation group's total daily budget, set by a person (issue 16); the sampler splits it.
-- It moves here from sampler_groups.total_budget_minor so the operator's setting has a version
-- and an owner of its own (streams/core/controls/group_budgets.py), whether or not the sampler has
-- seen the group yet. No row: the sampler splits the sum of the budgets the platform reports.
CREATE TABLE group_budgets (
    tenant_id                text        NOT NULL,
    group_id                 text        NOT NULL,
    total_daily_budget_minor bigint      NOT NULL CHECK (total_daily_budget_minor >= 0),
    currency                 char(3)     NOT NULL,
    version                  integer     NOT NULL DEFAULT 1,
    updated_by               text,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, group_id)
);

INSERT INTO group_budgets (tenant_id, group_id, total_daily_budget_minor, currency)
SELECT tenant_id, group_id, total_budget_minor, currency FROM sampler_groups WHERE total_budget_minor IS NOT NULL;

ALTER TABLE sampler_groups DROP COLUMN total_budget_minor;
