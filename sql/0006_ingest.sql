-- Ingest: webhook delivery dedupe, HubSpot portal -> tenant, click API keys, insights snapshots.

-- HubSpot deliveries already published. HubSpot retries a delivery with the same content, and its
-- eventId alone is not unique, so the key is a hash of portal, subscription, event, time, object,
-- property and value. Written after the broker acked (a crash in between duplicates, never loses;
-- the event_id is derived from the same key so downstream inboxes drop the duplicate).
CREATE TABLE hubspot_deliveries (
    delivery_key text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    event_id     text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hubspot_deliveries_received_at ON hubspot_deliveries (received_at);

-- Which tenant a HubSpot portal (account) belongs to.
CREATE TABLE hubspot_portals (
    portal_id bigint PRIMARY KEY,
    tenant_id text   NOT NULL
);

-- Producer API keys for POST /v1/clicks. Only the SHA-256 of a key is stored: keys are random
-- 256-bit strings, so a fast hash is enough, and a database leak does not leak usable keys.
CREATE TABLE click_api_keys (
    key_hash   text        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    label      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX click_api_keys_tenant ON click_api_keys (tenant_id);

-- Last spend snapshot published per entity and day: an unchanged re-poll publishes nothing.
CREATE TABLE insights_snapshots (
    tenant_id    text        NOT NULL,
    entity_id    text        NOT NULL,
    day          date        NOT NULL,
    digest       text        NOT NULL,
    event_id     text        NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, entity_id, day)
);
