-- Versions of learned artifacts (the CTR model, winner-index snapshots): metrics and where the
-- artifact lives in object storage. At most one active version per model name; readers load the
-- active one and reload when it changes.
CREATE TABLE model_registry (
    model_name   text        NOT NULL CHECK (model_name ~ '^[a-z0-9][a-z0-9_\-.]*$'),
    version      integer     NOT NULL CHECK (version >= 1),
    metrics      jsonb       NOT NULL DEFAULT '{}',
    params       jsonb       NOT NULL DEFAULT '{}',
    artifact_key text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    active       boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (model_name, version)
);
CREATE UNIQUE INDEX model_registry_one_active ON model_registry (model_name) WHERE active;
