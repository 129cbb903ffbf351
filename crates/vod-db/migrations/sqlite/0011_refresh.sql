-- CDN refresh and preload (vod-core model::refresh). media_refresh_jobs: one row per
-- MediaRefreshJobId x MediaId of RefreshMediaPlayUrls; success_play_urls / task_ids are JSON
-- arrays. refresh_tasks: one row per URL or directory purged or preloaded (the tasks of a
-- media refresh and of Refresh/PreloadVodObjectCaches); batch_id names the cdn.refresh job
-- that runs them. edge_nodes: edges announcing their control API (heartbeat). Times are unix
-- milliseconds.
CREATE TABLE media_refresh_jobs (
    job_id             TEXT    NOT NULL,
    media_id           TEXT    NOT NULL,
    batch_id           TEXT    NOT NULL UNIQUE,
    account_id         TEXT    NOT NULL,
    app_id             TEXT    NOT NULL,
    seq                INTEGER NOT NULL,
    task_type          TEXT    NOT NULL,
    filter_policy      TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    success_play_urls  TEXT    NOT NULL,
    task_ids           TEXT    NOT NULL,
    error_code         TEXT    NOT NULL,
    error_message      TEXT    NOT NULL,
    user_data          TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    modified_at        INTEGER NOT NULL,
    PRIMARY KEY (job_id, media_id)
);
CREATE INDEX media_refresh_jobs_account_idx ON media_refresh_jobs (account_id, job_id);

CREATE TABLE refresh_tasks (
    task_id      TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    batch_id     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    object_path  TEXT    NOT NULL,
    domain       TEXT    NOT NULL,
    object_type  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    process      INTEGER NOT NULL,
    description  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL
);
CREATE INDEX refresh_tasks_batch_idx ON refresh_tasks (batch_id, seq);
CREATE INDEX refresh_tasks_account_idx ON refresh_tasks (account_id, created_at);
CREATE INDEX refresh_tasks_path_idx ON refresh_tasks (account_id, object_path);

CREATE TABLE edge_nodes (
    node_id       TEXT    NOT NULL PRIMARY KEY,
    control_url   TEXT    NOT NULL,
    last_seen_at  INTEGER NOT NULL
);
