-- What the console reads and edits (issue 16): versions on stage values, so a second person's save
-- is a conflict instead of a silent overwrite, and the indexes its pages read a group by.
ALTER TABLE stage_values ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE INDEX spend_daily_group_day ON spend_daily (tenant_id, group_id, day);
CREATE INDEX revenue_ledger_group_day ON revenue_ledger (tenant_id, group_id, day);
CREATE INDEX deal_attributions_group ON deal_attributions (tenant_id, group_id, conversion_at);
CREATE INDEX deal_attributions_conversion ON deal_attributions (tenant_id, conversion_at);
CREATE INDEX ad_change_history_decision ON ad_change_history (tenant_id, decision_id);
CREATE INDEX sampler_entities_group ON sampler_entities (tenant_id, group_id);
