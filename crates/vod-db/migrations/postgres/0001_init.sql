-- vodstack metadata schema, PostgreSQL flavour. Every integer column is BIGINT so the
-- sqlx Any driver decodes it as i64; times are unix milliseconds; enums and JSON are TEXT.

CREATE TABLE accounts (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX accounts_created_idx ON accounts (created_at, id);

CREATE TABLE users (
    id          TEXT   PRIMARY KEY,
    account_id  TEXT   NOT NULL REFERENCES accounts (id),
    name        TEXT   NOT NULL,
    policy      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT users_account_name_uq UNIQUE (account_id, name)
);

CREATE TABLE access_keys (
    id          TEXT   PRIMARY KEY,
    secret      TEXT   NOT NULL,
    account_id  TEXT   NOT NULL REFERENCES accounts (id),
    user_id     TEXT   REFERENCES users (id),
    status      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX access_keys_account_idx ON access_keys (account_id, created_at);
CREATE INDEX access_keys_user_idx ON access_keys (user_id);

-- App ids are unique per account only: every account has the system app `app-1000000`.
CREATE TABLE apps (
    account_id         TEXT   NOT NULL REFERENCES accounts (id),
    app_id             TEXT   NOT NULL,
    name               TEXT   NOT NULL,
    description        TEXT   NOT NULL,
    app_type           TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    resource_group_id  TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    modified_at        BIGINT NOT NULL,
    CONSTRAINT apps_pkey PRIMARY KEY (account_id, app_id),
    CONSTRAINT apps_account_name_uq UNIQUE (account_id, name)
);
CREATE INDEX apps_account_created_idx ON apps (account_id, created_at);

-- Identities are referenced by type and name (RAM roles have no row of their own).
CREATE TABLE app_policy_attachments (
    account_id     TEXT   NOT NULL,
    identity_type  TEXT   NOT NULL,
    identity_name  TEXT   NOT NULL,
    app_id         TEXT   NOT NULL,
    policy_name    TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT app_policy_attachments_pkey
        PRIMARY KEY (account_id, identity_type, identity_name, app_id, policy_name)
);
CREATE INDEX app_policy_attachments_app_idx ON app_policy_attachments (account_id, app_id);

CREATE TABLE nonces (
    nonce       TEXT   PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX nonces_expires_idx ON nonces (expires_at);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE daily_counters (
    name   TEXT   NOT NULL,
    day    TEXT   NOT NULL,
    value  BIGINT NOT NULL,
    CONSTRAINT daily_counters_pkey PRIMARY KEY (name, day)
);
