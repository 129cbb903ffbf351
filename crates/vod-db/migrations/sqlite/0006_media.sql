-- The media library (vod-core model::media): VOD videos/audio and ICE media assets, one
-- row per media. Times are unix milliseconds; extra, streams and snapshots are JSON TEXT;
-- status is Alibaba's video status (Uploading, UploadSucc, ...). A media is damaged when
-- `damaged` holds a reason.
CREATE TABLE media (
    media_id           TEXT    NOT NULL PRIMARY KEY,
    account_id         TEXT    NOT NULL REFERENCES accounts (id),
    app_id             TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    media_type         TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    tags               TEXT    NOT NULL,
    cate_id            BIGINT,
    cover_url          TEXT    NOT NULL,
    reference_id       TEXT,
    user_data          TEXT    NOT NULL,
    template_group_id  TEXT    NOT NULL,
    workflow_id        TEXT    NOT NULL,
    business_type      TEXT    NOT NULL,
    storage_location   TEXT    NOT NULL,
    file_name          TEXT    NOT NULL,
    object_key         TEXT    NOT NULL,
    object_prefix      TEXT,
    input_url          TEXT,
    client_token       TEXT,
    declared_size      BIGINT,
    upload_generation  BIGINT  NOT NULL,
    source_generation  BIGINT  NOT NULL,
    source_object_id   TEXT,
    size               BIGINT,
    md5                TEXT,
    file_url           TEXT    NOT NULL,
    duration           REAL,
    width              BIGINT,
    height             BIGINT,
    bitrate            TEXT,
    fps                TEXT,
    streams            TEXT,
    snapshots          TEXT    NOT NULL,
    damaged            TEXT,
    extra              TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    modified_at        BIGINT  NOT NULL,
    uploaded_at        BIGINT
);
-- Caller-facing keys are unique per account and library.
CREATE UNIQUE INDEX media_reference_uq ON media (account_id, scope, reference_id) WHERE reference_id IS NOT NULL;
CREATE UNIQUE INDEX media_input_url_uq ON media (account_id, scope, input_url) WHERE input_url IS NOT NULL;
CREATE UNIQUE INDEX media_client_token_uq ON media (account_id, scope, client_token) WHERE client_token IS NOT NULL;
-- Completed objects find their media by key (or by m3u8 segment prefix).
CREATE INDEX media_object_idx ON media (storage_location, object_key);
CREATE INDEX media_prefix_idx ON media (storage_location, object_prefix) WHERE object_prefix IS NOT NULL;
-- SearchMedia pages by creation time within an account's library.
CREATE INDEX media_list_idx ON media (account_id, scope, media_type, created_at, media_id);
CREATE INDEX media_app_idx ON media (account_id, app_id);
