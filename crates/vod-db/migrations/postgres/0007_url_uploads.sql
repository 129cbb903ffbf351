-- URL uploads (UploadMediaByURL): one row per submitted URL; the pull job has the same id.
-- media_id is chosen at submission (so a re-run pull never makes a second media);
-- media_created says whether the media exists yet. meta is the JSON of the per-URL media
-- settings. Times are unix milliseconds.
CREATE TABLE url_uploads (
    job_id         TEXT    NOT NULL PRIMARY KEY,
    account_id     TEXT    NOT NULL,
    app_id         TEXT    NOT NULL,
    upload_url     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    media_id       TEXT    NOT NULL,
    media_created  BIGINT NOT NULL,
    file_size      BIGINT,
    error_code     TEXT    NOT NULL,
    error_message  TEXT    NOT NULL,
    user_data      TEXT    NOT NULL,
    meta           TEXT    NOT NULL,
    created_at     BIGINT NOT NULL,
    completed_at   BIGINT
);
CREATE INDEX url_uploads_url_idx ON url_uploads (account_id, upload_url, created_at);

-- SessionId of UploadMediaByURL: a repeat within 10 minutes is refused.
CREATE TABLE url_upload_sessions (
    account_id  TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    used_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, session_id)
);
