-- Each ad set's creative as the priors read it: features, the embedder that made its vector, the
-- vector. Written with the CreativeDescribed event that announces it (creatives.v1); read by the
-- live prior source and the rebuild job. digest: a re-description with the same content is a no-op.
CREATE TABLE creative_features (
    tenant_id   text        NOT NULL,
    entity_id   text        NOT NULL,
    group_id    text        NOT NULL,
    campaign_id text        NOT NULL,
    ad_id       text,
    features    jsonb       NOT NULL,
    embedder    text        NOT NULL,
    embedding   real[]      NOT NULL,
    digest      text        NOT NULL,
    described_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_id)
);
