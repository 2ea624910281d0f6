-- Value in flight: one row per deal the revenue events named, so the sampler can tell open deals
-- from resolved ones (streams/sampler/inflight.py). Written in the event's transaction with the
-- entity days; start_at is the click that earned the deal (else its first credit) and never
-- changes; appointment_at is when it first reached an appointment stage, resolved_at its latest
-- won/lost (or actual/reversal) credit.
CREATE TABLE sampler_deals (
    tenant_id      text NOT NULL,
    group_id       text NOT NULL,
    deal_id        text NOT NULL,
    entity_id      text NOT NULL,
    start_at       timestamptz NOT NULL,
    cohort_day     date NOT NULL,
    credited_minor bigint NOT NULL,
    appointment_at timestamptz,
    resolved_at    timestamptz,
    PRIMARY KEY (tenant_id, group_id, deal_id)
);
CREATE INDEX sampler_deals_cohort ON sampler_deals (tenant_id, group_id, cohort_day);
