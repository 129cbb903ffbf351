-- Play streams and snapshot sets of media (vod-core model::stream), written by the
-- processing jobs. Streams are versioned: each transcode run adds rows; GetPlayInfo's
-- ResultType=Single takes the newest per (definition, format). segments / keys are JSON
-- arrays of object keys. Rows go with their media (MediaRepo::delete_media).
CREATE TABLE media_streams (
    stream_id          TEXT    NOT NULL PRIMARY KEY,
    media_id           TEXT    NOT NULL,
    account_id         TEXT    NOT NULL,
    job_id             TEXT    NOT NULL,
    definition         TEXT    NOT NULL,
    format             TEXT    NOT NULL,
    stream_type        TEXT    NOT NULL,
    bucket             TEXT    NOT NULL,
    object_key         TEXT    NOT NULL,
    segments           TEXT    NOT NULL,
    bitrate            TEXT    NOT NULL,
    duration           TEXT    NOT NULL,
    fps                TEXT    NOT NULL,
    width              BIGINT  NOT NULL,
    height             BIGINT  NOT NULL,
    size               BIGINT  NOT NULL,
    specification      TEXT    NOT NULL,
    codec_name         TEXT    NOT NULL,
    source_generation  BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL
);
CREATE INDEX media_streams_media_idx ON media_streams (media_id, created_at);

CREATE TABLE media_snapshot_sets (
    job_id         TEXT    NOT NULL PRIMARY KEY,
    media_id       TEXT    NOT NULL,
    account_id     TEXT    NOT NULL,
    snapshot_type  TEXT    NOT NULL,
    bucket         TEXT    NOT NULL,
    keys           TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX media_snapshot_sets_media_idx ON media_snapshot_sets (media_id, created_at);
