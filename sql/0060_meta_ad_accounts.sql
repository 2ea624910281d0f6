-- Meta ad accounts per tenant, each with its own system-user token and app secret, sealed at rest
-- (streams/core/sealing.py: Fernet under ROASLOOP_CREDENTIALS_KEYS; key_id says which key sealed it).
-- An account belongs to one tenant only, so one tenant's credentials can never serve another's.
CREATE TABLE meta_ad_accounts (
    tenant_id           text        NOT NULL,
    account_id          text        NOT NULL CHECK (account_id ~ '^act_[0-9]{1,20}$'),
    name                text        NOT NULL DEFAULT '',
    sealed_access_token bytea       NOT NULL,
    sealed_app_secret   bytea       NOT NULL,
    key_id              text        NOT NULL,
    status              text        NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'refused')),
    refused_at          timestamptz,
    refused_reason      text,
    version             integer     NOT NULL DEFAULT 1,
    updated_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
CREATE UNIQUE INDEX meta_ad_accounts_one_tenant ON meta_ad_accounts (account_id);
